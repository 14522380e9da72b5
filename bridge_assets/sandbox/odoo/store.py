"""The Odoo database on disk: one SQLite file, records of every model as JSON, one row each.

Odoo's ORM is emulated in orm.py over this table; ids are per model and never reused, as in
PostgreSQL sequences. `write_date` is stamped by the ORM layer on every write, from the emulator's
clock. Journal sequences (INV/2026/00001) live in `sequences`, per prefix, gap-free among posted moves.
"""

from __future__ import annotations

import json
from typing import Any

from bridge_assets.sandbox.kit.state import SqliteState, journal_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    model TEXT NOT NULL,
    id INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (model, id)
);
CREATE TABLE IF NOT EXISTS next_ids (model TEXT PRIMARY KEY, next_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (prefix TEXT PRIMARY KEY, last INTEGER NOT NULL);
""" + journal_schema("login TEXT", "model TEXT", "rpc_method TEXT")


class Store(SqliteState):
    schema = SCHEMA

    def next_id(self, model: str) -> int:
        with self.transaction():
            row = self.fetchone("SELECT next_id FROM next_ids WHERE model = ?", (model,))
            value = row["next_id"] if row else 1
            self.execute("INSERT OR REPLACE INTO next_ids VALUES (?, ?)", (model, value + 1))
            return value

    def next_number(self, prefix: str) -> int:
        with self.transaction():
            row = self.fetchone("SELECT last FROM sequences WHERE prefix = ?", (prefix,))
            value = (row["last"] if row else 0) + 1
            self.execute("INSERT OR REPLACE INTO sequences VALUES (?, ?)", (prefix, value))
            return value

    def get(self, model: str, record_id: int) -> dict[str, Any] | None:
        row = self.fetchone("SELECT data FROM records WHERE model = ? AND id = ?", (model, int(record_id)))
        return json.loads(row["data"]) if row else None

    def all(self, model: str) -> list[dict[str, Any]]:
        return [json.loads(r["data"]) for r in
                self.fetchall("SELECT data FROM records WHERE model = ? ORDER BY id", (model,))]

    def put(self, model: str, record: dict[str, Any]) -> None:
        self.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?)",
                     (model, int(record["id"]), json.dumps(record, sort_keys=True)))

    def remove(self, model: str, record_id: int) -> None:
        self.execute("DELETE FROM records WHERE model = ? AND id = ?", (model, int(record_id)))

    def wipe(self) -> None:
        with self.transaction():
            for table in ("records", "next_ids", "sequences", "journal"):
                self.execute(f"DELETE FROM {table}")
