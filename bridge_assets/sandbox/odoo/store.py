"""The Odoo database on disk: the kit's record store (one SQLite file, records of every model as JSON).

Ids are per model and never reused, as PostgreSQL sequences are (`next_id`); journal sequences
(INV/2026/00001) count per prefix (`next_number`). `write_date` is stamped by the ORM layer (orm.py).
"""

from __future__ import annotations

from typing import Any

from bridge_assets.sandbox.kit.records import RecordState, records_schema


class Store(RecordState):
    schema = records_schema("login TEXT", "model TEXT", "rpc_method TEXT")

    def next_id(self, model: str) -> int:
        return self.next_value(f"id:{model}")

    def next_number(self, prefix: str) -> int:
        return self.next_value(f"sequence:{prefix}")

    def all(self, kind: str) -> list[dict[str, Any]]:
        return sorted(super().all(kind), key=lambda record: record["id"])
