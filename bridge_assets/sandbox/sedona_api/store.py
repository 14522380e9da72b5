"""The emulated company database on disk: one SQLite file, so a restart (or a kill -9) loses nothing.

Records are kept as the JSON the API serves (dates already `MM/DD/YYYY`) plus the columns the API
filters and sorts on. `ModifiedDate` is kept apart, as an ISO text that sorts, and is rendered in
the configured style when a record is served. A deleted record stays as a tombstone the API never
shows, so a test can see what the source cancelled.

The emulator's clock only moves forward: a change is stamped with the later of "now" and the last
stamp issued, to the second, so a seeded book dated in the future still gets later stamps on edits,
and changes made within one second share a stamp (as they do in a real SedonaOffice batch).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import sqlite3
import time
from typing import Any

from bridge_assets.sandbox.sedona_api import wire
from bridge_assets.sandbox.sedona_api.models import Model
from bridge_assets.sandbox.kit.state import SqliteState, journal_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    model TEXT NOT NULL,
    id INTEGER NOT NULL,
    number TEXT,
    customer_id INTEGER,
    customer_number TEXT,
    doc_date TEXT,                     -- ISO, for startDate/endDate
    modified TEXT NOT NULL,            -- ISO YYYY-MM-DDTHH:MM:SS
    doc TEXT NOT NULL,
    deleted_at TEXT,
    PRIMARY KEY (model, id)
);
CREATE INDEX IF NOT EXISTS records_order ON records (model, modified, id);
CREATE INDEX IF NOT EXISTS records_number ON records (model, number);
CREATE TABLE IF NOT EXISTS periods (
    period TEXT PRIMARY KEY,           -- YYYY-MM
    id INTEGER NOT NULL,
    start_date TEXT NOT NULL,
    end_date TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 TEXT PRIMARY KEY,     -- the token itself is never stored
    username TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
# The journal (kit/state.py) with this emulator's own columns.
# outcome: ok | token | token_refused | unauthorized | injected | bad_request | not_found
SCHEMA += journal_schema("ordinal INTEGER")


@dataclasses.dataclass
class StoredRecord:
    model: str
    id: int
    doc: dict[str, Any]
    modified: dt.datetime
    deleted_at: str | None = None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Store(SqliteState):
    """All persistent state. Thread-safe: one connection behind a re-entrant lock."""

    schema = SCHEMA

    # --- clock -----------------------------------------------------------------------------------

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return default if row is None else row["value"]

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                     (key, value))

    def stamp(self, at: dt.datetime | None = None) -> dt.datetime:
        """The ModifiedDate for a change made now (or at `at`, when a test asks for one)."""
        with self.transaction():
            if at is None:
                last = self.meta("clock")
                now = dt.datetime.now().replace(microsecond=0)
                at = max(now, dt.datetime.fromisoformat(last)) if last else now
            at = at.replace(microsecond=0, tzinfo=None)
            last = self.meta("clock")
            if last is None or at.isoformat() > last:
                self.set_meta("clock", at.isoformat())
            return at

    def next_id(self, name: str, start: int) -> int:
        with self.transaction():
            value = int(self.meta(f"seq:{name}", str(start - 1))) + 1
            self.set_meta(f"seq:{name}", str(value))
            return value

    # --- records ---------------------------------------------------------------------------------

    def put(self, model: Model, doc: dict[str, Any], modified: dt.datetime) -> None:
        number = doc.get(model.number_field) if model.number_field else None
        date_text = doc.get(model.date_field) if model.date_field else None
        doc_date = None
        if date_text:
            month, day, year = str(date_text).split("/")
            doc_date = f"{year}-{month}-{day}"
        self.execute(
            "INSERT INTO records (model, id, number, customer_id, customer_number, doc_date, modified, doc, deleted_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (model, id) DO UPDATE SET number = excluded.number, "
            "customer_id = excluded.customer_id, customer_number = excluded.customer_number, "
            "doc_date = excluded.doc_date, modified = excluded.modified, doc = excluded.doc, deleted_at = NULL",
            (model.name, int(doc[model.id_field]), None if number is None else str(number), doc.get("CustomerId"),
             doc.get("CustomerNumber"), doc_date, modified.isoformat(), wire.dumps(doc).decode("utf-8")),
        )

    def delete(self, model: Model, record_id: int) -> None:
        self.execute("UPDATE records SET deleted_at = ? WHERE model = ? AND id = ?",
                     (dt.datetime.now().isoformat(timespec="seconds"), model.name, record_id))

    def get(self, model: Model, record_id: int, *, include_deleted: bool = False) -> StoredRecord | None:
        sql = "SELECT * FROM records WHERE model = ? AND id = ?"
        if not include_deleted:
            sql += " AND deleted_at IS NULL"
        row = self.fetchone(sql, (model.name, record_id))
        return None if row is None else _record(row)

    def by_number(self, model: Model, number: str) -> StoredRecord | None:
        row = self.fetchone("SELECT * FROM records WHERE model = ? AND number = ? AND deleted_at IS NULL",
                            (model.name, str(number)))
        return None if row is None else _record(row)

    def query(self, model: Model, *, start: dt.date | None = None, end: dt.date | None = None,
              modified_since: dt.datetime | None = None, customer_id: int | None = None,
              customer_number: str | None = None, offset: int = 0, limit: int | None = None,
              include_deleted: bool = False) -> tuple[list[StoredRecord], int]:
        """Matching records in (ModifiedDate, Id) order, one page of them, and how many match in all."""
        where, params = ["model = ?"], [model.name]
        if not include_deleted:
            where.append("deleted_at IS NULL")
        if start is not None:
            where.append("doc_date >= ?")
            params.append(start.isoformat())
        if end is not None:
            where.append("doc_date <= ?")
            params.append(end.isoformat())
        if modified_since is not None:
            where.append("modified >= ?")
            params.append(modified_since.isoformat())
        if customer_id is not None:
            where.append("customer_id = ?")
            params.append(customer_id)
        if customer_number is not None:
            where.append("customer_number = ?")
            params.append(customer_number)
        clause = " AND ".join(where)
        total = self.fetchone(f"SELECT count(*) AS n FROM records WHERE {clause}", tuple(params))["n"]
        sql = f"SELECT * FROM records WHERE {clause} ORDER BY modified, id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return [_record(row) for row in self.fetchall(sql, tuple(params))], total

    def customer_number_of(self, customer_id: int) -> str | None:
        row = self.fetchone("SELECT number FROM records WHERE model = 'Customer' AND id = ?", (customer_id,))
        return None if row is None else row["number"]

    def counts(self) -> dict[str, int]:
        rows = self.fetchall("SELECT model, count(*) AS n FROM records WHERE deleted_at IS NULL GROUP BY model")
        return {row["model"]: row["n"] for row in rows}

    # --- accounting periods ----------------------------------------------------------------------

    def put_period(self, period: str, period_id: int, start: dt.date, end: dt.date, status: str) -> None:
        self.execute(
            "INSERT INTO periods (period, id, start_date, end_date, status) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (period) DO UPDATE SET status = excluded.status",
            (period, period_id, start.isoformat(), end.isoformat(), status),
        )

    def periods(self) -> list[sqlite3.Row]:
        return self.fetchall("SELECT * FROM periods ORDER BY period")

    def period_status(self, period: str) -> str | None:
        row = self.fetchone("SELECT status FROM periods WHERE period = ?", (period,))
        return None if row is None else row["status"]

    # --- tokens ----------------------------------------------------------------------------------

    def add_token(self, token: str, username: str, lifetime_s: float) -> float:
        now = time.time()
        self.execute("INSERT INTO tokens (token_sha256, username, issued_at, expires_at) VALUES (?, ?, ?, ?)",
                     (token_digest(token), username, now, now + lifetime_s))
        return now + lifetime_s

    def token_state(self, token: str) -> str:
        """"valid", "expired" or "unknown"."""
        row = self.fetchone("SELECT expires_at FROM tokens WHERE token_sha256 = ?", (token_digest(token),))
        if row is None:
            return "unknown"
        return "valid" if row["expires_at"] > time.time() else "expired"

    def expire_tokens(self) -> int:
        now = time.time()
        return self.execute("UPDATE tokens SET expires_at = ? WHERE expires_at > ?", (now - 1, now)).rowcount

    # --- reset -----------------------------------------------------------------------------------

    def reset(self, *, keep_tokens: bool = False) -> None:
        with self.transaction():
            for table in ("records", "periods", "journal", "meta") + (() if keep_tokens else ("tokens",)):
                self.execute(f"DELETE FROM {table}")


def _record(row: sqlite3.Row) -> StoredRecord:
    return StoredRecord(row["model"], row["id"], wire.loads(row["doc"]),
                        dt.datetime.fromisoformat(row["modified"]), row["deleted_at"])

