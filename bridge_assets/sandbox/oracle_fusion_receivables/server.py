"""Start the Oracle Fusion Receivables emulator on a free loopback port: in a thread (`run_emulator`) or as its own
process (`spawn_emulator`, which a test can kill -9 and start again on the same state file)."""

from __future__ import annotations

import dataclasses

from bridge_assets.sandbox.kit import emulator
from bridge_assets.sandbox.kit.erp_admin import RecordsAdminClient, erp_kind
from bridge_assets.sandbox.oracle_fusion_receivables.app import create_app
from bridge_assets.sandbox.oracle_fusion_receivables.settings import EmulatorSettings


class AdminClient(RecordsAdminClient):
    def add_customers(self, customers: list[tuple[str, str]]) -> None:
        self._call("POST", "/customers", {"customers": [{"number": n, "name": name} for n, name in customers]})

    def close_periods(self, through: str | None) -> list[str]:
        return self._call("POST", "/close-periods", {"through": through})["closed"]


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    settings: EmulatorSettings
    admin: AdminClient


KIND = erp_kind(
    "Oracle Fusion Receivables", "bridge_assets.sandbox.oracle_fusion_receivables",
    "Local emulator of Oracle Fusion Cloud Financials Receivables REST (invoices, credit memos, receipts).",
    "SQLite file holding the pod's receivables", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle)
SpawnedEmulator = KIND.spawned
run_emulator = KIND.run
spawn_emulator = KIND.spawn
