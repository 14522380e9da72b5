"""Start the SAP Business One Service Layer emulator on a free loopback port: in a thread (`run_emulator`) or as
its own process (`spawn_emulator`, which a test can kill -9 and start again on the same state file)."""

from __future__ import annotations

import dataclasses
from typing import Any

from bridge_assets.sandbox.kit import emulator
from bridge_assets.sandbox.kit.erp_admin import RecordsAdminClient, erp_kind
from bridge_assets.sandbox.sap_business_one.app import create_app
from bridge_assets.sandbox.sap_business_one.settings import EmulatorSettings


class AdminClient(RecordsAdminClient):
    def lock_periods(self, through: str | None, status: str = "ltLocked") -> list[dict[str, Any]]:
        return self._call("POST", "/period-status", {"through": through, "status": status})["periods"]

    def expire_sessions(self) -> int:
        return self._call("POST", "/expire-sessions")["expired"]


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    settings: EmulatorSettings
    admin: AdminClient

    @property
    def service_url(self) -> str:
        """What replaces https://host:50000/b1s/v1 (SAPB1_URL)."""
        return f"{self.base_url}/b1s/v1"


KIND = erp_kind(
    "SAP Business One", "bridge_assets.sandbox.sap_business_one",
    "Local emulator of the SAP Business One Service Layer (b1s/v1: sessions, documents, payments).",
    "SQLite file holding the company database", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle)
SpawnedEmulator = KIND.spawned
run_emulator = KIND.run
spawn_emulator = KIND.spawn
