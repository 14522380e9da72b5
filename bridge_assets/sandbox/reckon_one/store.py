"""The Reckon One emulator's state: books (with ledger accounts and tax codes), customers and invoices, as
records in one SQLite file (kit/records.py) that survives a restart."""

from __future__ import annotations

from bridge_assets.sandbox.kit.tenant_records import SCHEMA, RecordStore
from bridge_assets.sandbox.kit.state import journal_schema


class Store(RecordStore):
    schema = SCHEMA + journal_schema("book TEXT NOT NULL DEFAULT ''", "principal TEXT NOT NULL DEFAULT ''")
