"""The environment's data on disk: the kit's record store, one kind per entity set, GUID ids.

Each record carries `_etag`, a counter bumped on every change: `@odata.etag` is W/"JzE7..." made from it
(odata.py), so a stale `If-Match` is recognised after a restart too.
"""

from __future__ import annotations

from bridge_assets.sandbox.kit.records import RecordState, records_schema


class Store(RecordState):
    schema = records_schema("client_id TEXT")
