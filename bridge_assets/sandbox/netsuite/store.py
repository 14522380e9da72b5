"""The account's records on disk: the kit's record store, one kind per record type, internal ids as text."""

from __future__ import annotations

from bridge_assets.sandbox.kit.records import RecordState, records_schema


class Store(RecordState):
    schema = records_schema("client_id TEXT")
