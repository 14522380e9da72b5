"""Start the NetSuite emulator on a free loopback port: in a thread (`run_emulator`) or as its own process
(`spawn_emulator`, which a test can kill -9 and start again on the same state file)."""

from __future__ import annotations

import dataclasses
from typing import Any

from bridge_assets.sandbox.kit import emulator
from bridge_assets.sandbox.kit.erp_admin import RecordsAdminClient, erp_kind
from bridge_assets.sandbox.netsuite.app import create_app
from bridge_assets.sandbox.netsuite.settings import EmulatorSettings


class AdminClient(RecordsAdminClient):
    def close_periods(self, through: str | None) -> list[str]:
        return self._call("POST", "/close-periods", {"through": through})["closed"]

    def mint_tokens(self, client_id: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/oauth/tokens", {"client_id": client_id})


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    settings: EmulatorSettings
    admin: AdminClient

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/services/rest/auth/oauth2/v1/token"


KIND = erp_kind(
    "NetSuite", "bridge_assets.sandbox.netsuite",
    "Local emulator of NetSuite SuiteTalk REST (record service, OAuth 2.0).",
    "SQLite file holding the account", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle)
SpawnedEmulator = KIND.spawned
run_emulator = KIND.run
spawn_emulator = KIND.spawn
