"""The emulator's state on disk: one SQLite file, so a restart (or a kill -9) loses nothing committed.

Invoices are kept in an internal form (snake_case keys, money as decimal strings) and rendered to
ServiceTrade's wire names only when answered (`records.render_invoice`), so the field map can be
changed without touching stored data. Sessions and tokens live here too: a restarted ServiceTrade
does not log everybody out.
"""

from __future__ import annotations

import json
from typing import Any

from bridge_assets.sandbox.kit.state import SqliteState, journal_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    serial INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL,
    ended_at REAL,
    ended_reason TEXT                  -- logout | dropped | expired
);
CREATE TABLE IF NOT EXISTS customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS locations (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER,
    location_id INTEGER,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS invoices (
    id INTEGER PRIMARY KEY,
    status TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    location_id INTEGER,
    job_id INTEGER,
    transaction_date INTEGER NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS invoices_status ON invoices (status, id);
CREATE TABLE IF NOT EXISTS comments (
    id INTEGER PRIMARY KEY,
    entity_type TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    created INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS comments_entity ON comments (entity_type, entity_id, id);
CREATE TABLE IF NOT EXISTS sequences (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
# The journal (kit/state.py) with this emulator's own columns.
# outcome: processed | unauthorized | injected | refused | error
SCHEMA += journal_schema("principal TEXT NOT NULL")

DATA_TABLES = ("customers", "locations", "jobs", "invoices", "comments", "sequences")
AUTH_TABLES = ("users", "sessions")  # OAuth clients and tokens: the kit's provider (kit/oauth.py)

# Where each id sequence starts: large, like ServiceTrade's own ids, and distinct per entity.
SEQUENCE_STARTS = {
    "customer": 3_000_001, "location": 4_000_001, "job": 5_000_001, "invoice": 6_000_001,
    "item": 7_000_001, "comment": 8_000_001,
}


class Store(SqliteState):
    """All persistent state. Thread-safe: one connection behind a re-entrant lock."""

    schema = SCHEMA
    # Nested use joins the outer transaction (no savepoints): what a caller groups commits together.
    savepoints = False

    def next_id(self, name: str, count: int = 1) -> int:
        """Reserve `count` ids of a sequence; returns the first."""
        with self.transaction():
            row = self.fetchone("SELECT value FROM sequences WHERE name = ?", (name,))
            first = SEQUENCE_STARTS[name] if row is None else row["value"] + 1
            self.execute("INSERT INTO sequences (name, value) VALUES (?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, first + count - 1))
            return first

    # --- reset -----------------------------------------------------------------------------------

    def reset(self, *, data: bool = True, auth: bool = True, journal: bool = True) -> None:
        with self.transaction():
            tables = (DATA_TABLES if data else ()) + (AUTH_TABLES if auth else ()) + (("journal",) if journal else ())
            for table in tables:
                self.execute(f"DELETE FROM {table}")
            # Forgetting everything includes the counters behind session and token serials.
            marks = ",".join("?" * len(tables))
            if tables and self.fetchone("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'"):
                self.execute(f"DELETE FROM sqlite_sequence WHERE name IN ({marks})", tuple(tables))


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def load_json(text: str) -> Any:
    return json.loads(text)
