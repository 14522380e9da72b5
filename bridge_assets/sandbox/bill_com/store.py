"""The BILL emulator's state: organizations (with their users), sessions, customers and invoices, as records in
one SQLite file (kit/records.py) that survives a restart."""

from __future__ import annotations

from bridge_assets.sandbox.kit.tenant_records import SCHEMA, RecordStore
from bridge_assets.sandbox.kit.state import journal_schema


class Store(RecordStore):
    schema = SCHEMA + journal_schema("organization TEXT NOT NULL DEFAULT ''", "code TEXT NOT NULL DEFAULT ''")
