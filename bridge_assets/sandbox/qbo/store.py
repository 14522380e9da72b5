"""The emulator's books on disk: one SQLite file, so a restart (or a kill -9) loses nothing committed.

A write request is one SQLite transaction: the entity changes, the side effects on linked documents
(a payment lowering an invoice's Balance) and the `requestid` record of the answer commit together or
not at all. That is what makes "the write committed but the answer was lost" a clean, testable state.

Entities are kept as the JSON QuickBooks would return, plus an `internal` JSON the API never shows
(which payments are applied where, whether tax was overridden). Deleted transactions stay as
tombstones so CDC can report them and a second touch can answer 610.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from typing import Any

from bridge_assets.sandbox.qbo import wire
from bridge_assets.sandbox.kit.state import SqliteState, journal_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS companies (
    realm_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS entities (
    realm_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT NOT NULL,              -- active | deleted
    doc_number TEXT,                   -- transactions: for the duplicate-number rule
    name_key TEXT,                     -- name lists: lower-cased DisplayName / Name
    doc TEXT NOT NULL,
    internal TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (realm_id, entity, id)
);
CREATE INDEX IF NOT EXISTS entities_doc_number ON entities (realm_id, entity, doc_number);
CREATE INDEX IF NOT EXISTS entities_name_key ON entities (realm_id, entity, name_key);
CREATE INDEX IF NOT EXISTS entities_updated ON entities (realm_id, updated_at);
CREATE TABLE IF NOT EXISTS sequences (
    realm_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (realm_id, name)
);
CREATE TABLE IF NOT EXISTS request_log (
    realm_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (realm_id, request_id)
);
"""
# The journal (kit/state.py) with this emulator's own columns.
# outcome: processed | replayed | throttled | injected | unauthorized | dropped:<mode>
SCHEMA += journal_schema("realm_id TEXT", "request_id TEXT")


@dataclasses.dataclass
class EntityRow:
    realm_id: str
    entity: str
    id: str
    doc: dict[str, Any]
    internal: dict[str, Any]
    status: str = "active"
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def deleted(self) -> bool:
        return self.status == "deleted"


@dataclasses.dataclass(frozen=True)
class RecordedResponse:
    status: int
    media_type: str
    body: bytes
    created_at: float


class Store(SqliteState):
    """All persistent state. Thread-safe: one connection behind a re-entrant lock.

    Nested `transaction()` use becomes a savepoint, so one batch item can fail alone.
    """

    schema = SCHEMA

    # --- companies -------------------------------------------------------------------------------

    def company_config(self, realm_id: str) -> dict[str, Any] | None:
        row = self.fetchone("SELECT config FROM companies WHERE realm_id = ?", (realm_id,))
        return None if row is None else wire.loads(row["config"])

    def put_company_config(self, realm_id: str, config: dict[str, Any]) -> None:
        self.execute(
            "INSERT INTO companies (realm_id, config, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (realm_id) DO UPDATE SET config = excluded.config",
            (realm_id, wire.dumps(config).decode(), time.time()),
        )

    def realm_ids(self) -> list[str]:
        return [row["realm_id"] for row in self.fetchall("SELECT realm_id FROM companies ORDER BY created_at")]

    # --- entities --------------------------------------------------------------------------------

    def get(self, realm_id: str, entity: str, entity_id: str) -> EntityRow | None:
        row = self.fetchone(
            "SELECT * FROM entities WHERE realm_id = ? AND entity = ? AND id = ?",
            (realm_id, entity, str(entity_id)),
        )
        return None if row is None else _entity_row(row)

    def all(self, realm_id: str, entity: str, *, include_deleted: bool = False) -> list[EntityRow]:
        sql = "SELECT * FROM entities WHERE realm_id = ? AND entity = ?"
        if not include_deleted:
            sql += " AND status = 'active'"
        rows = self.fetchall(sql + " ORDER BY CAST(id AS INTEGER)", (realm_id, entity))
        return [_entity_row(row) for row in rows]

    def changed_since(self, realm_id: str, entities: list[str], since: float) -> list[EntityRow]:
        marks = ",".join("?" * len(entities))
        rows = self.fetchall(
            f"SELECT * FROM entities WHERE realm_id = ? AND entity IN ({marks}) AND updated_at >= ? "
            "ORDER BY updated_at, entity, CAST(id AS INTEGER)",
            (realm_id, *entities, since),
        )
        return [_entity_row(row) for row in rows]

    def with_doc_number(self, realm_id: str, entity: str, doc_number: str) -> list[EntityRow]:
        rows = self.fetchall(
            "SELECT * FROM entities WHERE realm_id = ? AND entity = ? AND doc_number = ? AND status = 'active'",
            (realm_id, entity, doc_number),
        )
        return [_entity_row(row) for row in rows]

    def with_name_key(self, realm_id: str, entity: str, name_key: str) -> list[EntityRow]:
        rows = self.fetchall(
            "SELECT * FROM entities WHERE realm_id = ? AND entity = ? AND name_key = ?",
            (realm_id, entity, name_key),
        )
        return [_entity_row(row) for row in rows]

    def put(self, row: EntityRow) -> None:
        doc_number = row.doc.get("DocNumber")
        name = row.doc.get("DisplayName") if row.entity in ("Customer", "Vendor") else row.doc.get("Name")
        self.execute(
            "INSERT INTO entities (realm_id, entity, id, status, doc_number, name_key, doc, internal, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (realm_id, entity, id) DO UPDATE SET status = excluded.status, "
            "doc_number = excluded.doc_number, name_key = excluded.name_key, doc = excluded.doc, "
            "internal = excluded.internal, updated_at = excluded.updated_at",
            (
                row.realm_id,
                row.entity,
                row.id,
                row.status,
                str(doc_number) if doc_number is not None else None,
                name_key(name) if isinstance(name, str) else None,
                wire.dumps(row.doc).decode(),
                wire.dumps(row.internal).decode(),
                row.created_at,
                row.updated_at,
            ),
        )

    def next_value(self, realm_id: str, name: str, start: int = 1) -> int:
        """The next number of a per-company sequence (entity Ids, automatic DocNumbers)."""
        with self.transaction():
            row = self.fetchone("SELECT value FROM sequences WHERE realm_id = ? AND name = ?", (realm_id, name))
            value = start if row is None else row["value"] + 1
            self.execute(
                "INSERT INTO sequences (realm_id, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (realm_id, name) DO UPDATE SET value = excluded.value",
                (realm_id, name, value),
            )
            return value

    # --- requestid -------------------------------------------------------------------------------

    def recorded_response(self, realm_id: str, request_id: str) -> RecordedResponse | None:
        row = self.fetchone(
            "SELECT status, media_type, body, created_at FROM request_log WHERE realm_id = ? AND request_id = ?",
            (realm_id, request_id),
        )
        if row is None:
            return None
        return RecordedResponse(row["status"], row["media_type"], bytes(row["body"]), row["created_at"])

    def record_response(self, realm_id: str, request_id: str, status: int, media_type: str, body: bytes) -> None:
        self.execute(
            "INSERT OR REPLACE INTO request_log (realm_id, request_id, status, media_type, body, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (realm_id, request_id, status, media_type, body, time.time()),
        )

    def forget_response(self, realm_id: str, request_id: str) -> None:
        self.execute("DELETE FROM request_log WHERE realm_id = ? AND request_id = ?", (realm_id, request_id))

    # --- journal ---------------------------------------------------------------------------------

    def journal(self, realm_id: str) -> list[dict[str, Any]]:
        return self.journal_rows("realm_id", realm_id)

    # --- reset -----------------------------------------------------------------------------------

    def reset(self, realm_id: str | None = None) -> None:
        """Forget every company's books (or one company's books and requestids). Tokens are the OAuth
        provider's (kit/oauth.py): a full reset forgets them there."""
        with self.transaction():
            if realm_id is None:
                for table in ("companies", "entities", "sequences", "request_log", "journal"):
                    self.execute(f"DELETE FROM {table}")
            else:
                for table in ("companies", "entities", "sequences", "request_log", "journal"):
                    self.execute(f"DELETE FROM {table} WHERE realm_id = ?", (realm_id,))


def name_key(name: str) -> str:
    """Names are unique regardless of case and surrounding spaces."""
    return " ".join(name.split()).casefold()


def _entity_row(row: sqlite3.Row) -> EntityRow:
    return EntityRow(
        realm_id=row["realm_id"],
        entity=row["entity"],
        id=row["id"],
        doc=wire.loads(row["doc"]),
        internal=wire.loads(row["internal"]),
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
