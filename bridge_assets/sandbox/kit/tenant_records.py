"""Records as JSON documents in one SQLite table under a tenant (a business, an account), for the small
ledgers' emulators (Wave, QuickFile, KashFlow, Reckon One, BILL): `RecordStore`, on `SqliteState`. (The ERPs'
emulators use `records.py`, the cloud ledgers' `documents.py`: three shapes of one idea, left to be made one.)

Each record: an opaque id (base64 of "<Kind>:<serial>", or one the emulator gives), its kind, its tenant
(`scope`: a business, an account), its document in the emulator's own internal names, and when it was
created and last modified (fixed-width UTC text, so text order is time order)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any

from bridge_assets.sandbox.kit.state import SqliteState

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    business_id TEXT,
    doc TEXT NOT NULL,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS records_kind ON records (kind, business_id, modified_at);
CREATE TABLE IF NOT EXISTS counters (kind TEXT PRIMARY KEY, last INTEGER NOT NULL);
"""


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def stamp(moment: dt.datetime) -> str:
    """A time as the store keeps it: fixed width, so text order is time order."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _default(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__}")


class RecordStore(SqliteState):
    """Subclasses add their journal: `schema = SCHEMA + journal_schema(...)`."""

    schema = SCHEMA

    def new_id(self, kind: str) -> str:
        """Wave-looking opaque ids: base64 of "<Kind>:<serial>"."""
        row = self.fetchone("SELECT last FROM counters WHERE kind = ?", (kind,))
        serial = (row["last"] if row else 0) + 1
        self.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT (kind) DO UPDATE SET last = excluded.last",
                     (kind, serial))
        return base64.b64encode(f"{kind}:{serial}".encode()).decode().rstrip("=")

    def insert(self, kind: str, business_id: str | None, doc: dict[str, Any], record_id: str | None = None) -> dict:
        record_id = record_id or self.new_id(kind)
        moment = stamp(now())
        self.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)",
                     (record_id, kind, business_id, json.dumps(doc, default=_default), moment, moment))
        return self.get(kind, record_id)

    def update(self, kind: str, record_id: str, doc: dict[str, Any]) -> dict:
        self.execute("UPDATE records SET doc = ?, modified_at = ? WHERE id = ? AND kind = ?",
                     (json.dumps(doc, default=_default), stamp(now()), record_id, kind))
        return self.get(kind, record_id)

    def delete(self, kind: str, record_id: str) -> None:
        self.execute("DELETE FROM records WHERE id = ? AND kind = ?", (record_id, kind))

    def get(self, kind: str, record_id: str, business_id: str | None = None) -> dict | None:
        row = self.fetchone("SELECT * FROM records WHERE id = ? AND kind = ?", (record_id, kind))
        if row is None or (business_id is not None and row["business_id"] != business_id):
            return None
        return _record(row)

    def listed(self, kind: str, business_id: str, *, modified_after: dt.datetime | None = None,
               modified_before: dt.datetime | None = None) -> list[dict]:
        sql, params = "SELECT * FROM records WHERE kind = ? AND business_id = ?", [kind, business_id]
        if modified_after is not None:
            sql, params = sql + " AND modified_at > ?", params + [stamp(modified_after)]
        if modified_before is not None:
            sql, params = sql + " AND modified_at < ?", params + [stamp(modified_before)]
        return [_record(row) for row in self.fetchall(sql + " ORDER BY created_at, id", tuple(params))]

    def reset(self) -> None:
        with self.transaction():
            for table in ("records", "counters", "journal"):
                self.execute(f"DELETE FROM {table}")


def _record(row: Any) -> dict:
    return {**json.loads(row["doc"]), "id": row["id"], "business_id": row["business_id"],
            "created_at": dt.datetime.fromisoformat(row["created_at"]),
            "modified_at": dt.datetime.fromisoformat(row["modified_at"])}
