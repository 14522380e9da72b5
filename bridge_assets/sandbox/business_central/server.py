"""Start the Business Central emulator on a free loopback port: in a thread (`run_emulator`) or as its own
process (`spawn_emulator`, which a test can kill -9 and start again on the same state file)."""

from __future__ import annotations

import dataclasses
from typing import Any

from bridge_assets.sandbox.business_central.app import create_app
from bridge_assets.sandbox.business_central.settings import EmulatorSettings
from bridge_assets.sandbox.kit import emulator
from bridge_assets.sandbox.kit.erp_admin import RecordsAdminClient, erp_kind


class AdminClient(RecordsAdminClient):
    def company(self) -> dict[str, Any]:
        return self._call("GET", "/company")

    def set_posting_range(self, allow_from: str | None = None, allow_to: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/posting-range", {"allowPostingFrom": allow_from, "allowPostingTo": allow_to})


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    settings: EmulatorSettings
    admin: AdminClient

    @property
    def api_url(self) -> str:
        """What replaces https://api.businesscentral.dynamics.com in BC_API_URL."""
        return self.base_url

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/{self.settings.tenant}/oauth2/v2.0/token"


KIND = erp_kind(
    "Business Central", "bridge_assets.sandbox.business_central",
    "Local emulator of Dynamics 365 Business Central API v2.0 (sales documents, payments, $batch).",
    "SQLite file holding the environment", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle)
SpawnedEmulator = KIND.spawned
run_emulator = KIND.run
spawn_emulator = KIND.spawn
