"""The QuickFile emulator's state: accounts (number, API key, apps and their manifests, submission numbers
used), clients and invoices, as records in one SQLite file (kit/records.py) that survives a restart."""

from __future__ import annotations

from bridge_assets.sandbox.kit.tenant_records import SCHEMA, RecordStore
from bridge_assets.sandbox.kit.state import journal_schema


class Store(RecordStore):
    schema = SCHEMA + """
CREATE TABLE IF NOT EXISTS submissions (acc_number TEXT NOT NULL, number TEXT NOT NULL, PRIMARY KEY (acc_number, number));
""" + journal_schema("operation TEXT NOT NULL DEFAULT ''", "account TEXT NOT NULL DEFAULT ''")

    def reset(self) -> None:
        super().reset()
        self.execute("DELETE FROM submissions")

    def submission_used(self, acc_number: str, number: str) -> bool:
        """Record a submission number; True when the account had used it before."""
        if self.fetchone("SELECT 1 FROM submissions WHERE acc_number = ? AND number = ?", (acc_number, number)):
            return True
        self.execute("INSERT INTO submissions VALUES (?, ?)", (acc_number, number))
        return False
