"""Records as JSON documents in one SQLite table, for an emulator whose platform is a set of entities
(an ERP's invoices, customers, journals) rather than a few fixed tables.

    class Store(RecordState): ...
    store.put("salesInvoice", {"id": "...", ...});  store.get("salesInvoice", id);  store.all("salesInvoice")
    store.next_value("INV")       a counter per name (ids, number series), never reused

Ids are kept as text (an Odoo integer id, a Business Central GUID); `all` returns a kind's records in
insertion order. Everything the kit's `SqliteState` gives (transactions, the journal) is here too.
"""

from __future__ import annotations

import json
from typing import Any

from bridge_assets.sandbox.kit.state import SqliteState, journal_schema

RECORDS_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (kind, id)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def records_schema(*journal_columns: str) -> str:
    """The records and counters tables, and the journal with the emulator's own columns."""
    return RECORDS_SCHEMA + journal_schema(*journal_columns)


class RecordState(SqliteState):
    def next_value(self, name: str) -> int:
        with self.transaction():
            row = self.fetchone("SELECT value FROM counters WHERE name = ?", (name,))
            value = (row["value"] if row else 0) + 1
            self.execute("INSERT OR REPLACE INTO counters VALUES (?, ?)", (name, value))
            return value

    def get(self, kind: str, record_id: Any) -> dict[str, Any] | None:
        row = self.fetchone("SELECT data FROM records WHERE kind = ? AND id = ?", (kind, str(record_id)))
        return json.loads(row["data"]) if row else None

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [json.loads(r["data"]) for r in self.fetchall("SELECT data FROM records WHERE kind = ? ORDER BY seq",
                                                             (kind,))]

    def put(self, kind: str, record: dict[str, Any]) -> None:
        data = json.dumps(record, sort_keys=True)
        with self.transaction():
            updated = self.execute("UPDATE records SET data = ? WHERE kind = ? AND id = ?",
                                   (data, kind, str(record["id"]))).rowcount
            if not updated:
                self.execute("INSERT INTO records (kind, id, data) VALUES (?, ?, ?)", (kind, str(record["id"]), data))

    def remove(self, kind: str, record_id: Any) -> None:
        self.execute("DELETE FROM records WHERE kind = ? AND id = ?", (kind, str(record_id)))

    def wipe(self) -> None:
        with self.transaction():
            for table in ("records", "counters", "journal"):
                self.execute(f"DELETE FROM {table}")
