"""The Xero emulator's SQLite file: organisations, the objects of each, connections, idempotency keys, journal.

`objects` holds every Invoice, CreditNote, Payment, BatchPayment, Contact and Item as Xero would answer
it (JSON, dates as ISO text inside, `_updated` the moment of its last change); `seq` is the creation
order paging follows. Voided and deleted documents stay (their `Status` says so).
"""

from __future__ import annotations

import time
from typing import Any

from bridge_assets.sandbox.kit.state import SqliteState, journal_schema
from bridge_assets.sandbox.xero import wire

SCHEMA = """
CREATE TABLE IF NOT EXISTS organisations (
    tenant_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    period_lock_date TEXT,
    end_of_year_lock_date TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS connections (        -- which organisations a grant's subject may reach
    subject TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (subject, tenant_id)
);
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    entity TEXT NOT NULL,
    object_id TEXT NOT NULL UNIQUE,
    number TEXT,
    body TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_by_number ON objects (tenant_id, entity, number);
CREATE TABLE IF NOT EXISTS idempotency (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    body BLOB NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE TABLE IF NOT EXISTS counters (tenant_id TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name));
""" + journal_schema("tenant_id TEXT", "idempotency_key TEXT", "client_id TEXT")


class Store(SqliteState):
    schema = SCHEMA

    # --- organisations -----------------------------------------------------------------------------

    def organisation(self, tenant_id: str) -> dict[str, Any] | None:
        row = self.fetchone("SELECT * FROM organisations WHERE tenant_id = ?", (tenant_id,))
        return dict(row) if row else None

    def organisations(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.fetchall("SELECT * FROM organisations ORDER BY created_at")]

    def ensure_organisation(self, tenant_id: str, name: str) -> None:
        self.execute("INSERT OR IGNORE INTO organisations (tenant_id, name, created_at) VALUES (?, ?, ?)",
                     (tenant_id, name, time.time()))

    def set_lock_dates(self, tenant_id: str, period: str | None, end_of_year: str | None) -> None:
        self.execute("UPDATE organisations SET period_lock_date = ?, end_of_year_lock_date = ? WHERE tenant_id = ?",
                     (period, end_of_year, tenant_id))

    # --- connections -------------------------------------------------------------------------------

    def connect(self, subject: str, tenant_id: str, connection_id: str) -> None:
        self.execute("INSERT OR IGNORE INTO connections (subject, tenant_id, connection_id, created_at) "
                     "VALUES (?, ?, ?, ?)", (subject, tenant_id, connection_id, time.time()))

    def connections(self, subject: str) -> list[dict[str, Any]]:
        rows = self.fetchall("SELECT c.*, o.name FROM connections c JOIN organisations o USING (tenant_id) "
                             "WHERE c.subject = ? ORDER BY c.created_at", (subject,))
        return [dict(row) for row in rows]

    # --- objects -----------------------------------------------------------------------------------

    def get(self, tenant_id: str, entity: str, object_id: str) -> dict[str, Any] | None:
        row = self.fetchone("SELECT body FROM objects WHERE tenant_id = ? AND entity = ? AND object_id = ?",
                            (tenant_id, entity, object_id))
        return wire.loads(row["body"]) if row else None

    def put(self, tenant_id: str, entity: str, object_id: str, number: str | None, body: dict[str, Any]) -> None:
        body["_updated"] = time.time()
        self.execute("INSERT INTO objects (tenant_id, entity, object_id, number, body, updated_at) VALUES "
                     "(?, ?, ?, ?, ?, ?) ON CONFLICT (object_id) DO UPDATE SET number = excluded.number, "
                     "body = excluded.body, updated_at = excluded.updated_at",
                     (tenant_id, entity, object_id, number, wire.dumps(body).decode(), body["_updated"]))

    def all(self, tenant_id: str, entity: str) -> list[dict[str, Any]]:
        rows = self.fetchall("SELECT body FROM objects WHERE tenant_id = ? AND entity = ? ORDER BY seq",
                             (tenant_id, entity))
        return [wire.loads(row["body"]) for row in rows]

    def by_number(self, tenant_id: str, entity: str, number: str) -> list[dict[str, Any]]:
        rows = self.fetchall("SELECT body FROM objects WHERE tenant_id = ? AND entity = ? AND number = ? ORDER BY seq",
                             (tenant_id, entity, number))
        return [wire.loads(row["body"]) for row in rows]

    def next_number(self, tenant_id: str, name: str) -> int:
        with self.transaction():
            self.execute("INSERT INTO counters (tenant_id, name, value) VALUES (?, ?, 0) ON CONFLICT DO NOTHING",
                         (tenant_id, name))
            self.execute("UPDATE counters SET value = value + 1 WHERE tenant_id = ? AND name = ?", (tenant_id, name))
            return self.fetchone("SELECT value FROM counters WHERE tenant_id = ? AND name = ?",
                                 (tenant_id, name))["value"]

    def forget(self, tenant_id: str | None = None) -> None:
        with self.transaction():
            for table in ("objects", "idempotency", "counters"):
                if tenant_id is None:
                    self.execute(f"DELETE FROM {table}")
                else:
                    self.execute(f"DELETE FROM {table} WHERE tenant_id = ?", (tenant_id,))
            if tenant_id is None:
                self.execute("DELETE FROM journal")
                self.execute("UPDATE organisations SET period_lock_date = NULL, end_of_year_lock_date = NULL")

    # --- Idempotency-Key ---------------------------------------------------------------------------

    def recorded(self, tenant_id: str, key: str, since: float | None) -> dict[str, Any] | None:
        row = self.fetchone("SELECT * FROM idempotency WHERE tenant_id = ? AND key = ?", (tenant_id, key))
        if row is None or (since is not None and row["at"] < since):
            return None
        return dict(row)

    def record(self, tenant_id: str, key: str, fingerprint: str, status: int, media_type: str, body: bytes) -> None:
        self.execute("INSERT OR REPLACE INTO idempotency (tenant_id, key, fingerprint, status, media_type, body, at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", (tenant_id, key, fingerprint, status, media_type, body, time.time()))
