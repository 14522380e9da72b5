"""The company database on disk: the kit's record store (entities and sessions), integer DocEntry keys."""

from __future__ import annotations

from bridge_assets.sandbox.kit.records import RecordState, records_schema


class Store(RecordState):
    schema = records_schema("user_name TEXT")
