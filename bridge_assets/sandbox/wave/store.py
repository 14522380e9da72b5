"""The Wave emulator's state: businesses with their accounts and sales taxes, customers, products and
invoices, as records in one SQLite file (kit/records.py) that survives a restart. Records are JSON
documents in the emulator's own internal names; `resolvers.py` renders them in Wave's wire names."""

from __future__ import annotations

from bridge_assets.sandbox.kit.tenant_records import SCHEMA, RecordStore
from bridge_assets.sandbox.kit.state import journal_schema


class Store(RecordStore):
    schema = SCHEMA + journal_schema("operations TEXT NOT NULL DEFAULT ''", "principal TEXT NOT NULL DEFAULT ''")
