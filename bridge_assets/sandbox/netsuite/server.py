"""Start the NetSuite emulator on a free loopback port: in a thread (`run_emulator`) or as its own process
(`spawn_emulator`, which a test can kill -9 and start again on the same state file)."""

from __future__ import annotations

import dataclasses
from typing import Any

from bridge_assets.sandbox.kit import emulator, serving
from bridge_assets.sandbox.netsuite.app import create_app
from bridge_assets.sandbox.netsuite.settings import EmulatorSettings


class AdminClient(serving.AdminHttpClient):
    def close_periods(self, through: str | None) -> list[str]:
        return self._call("POST", "/close-periods", {"through": through})["closed"]

    def mint_tokens(self, client_id: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/oauth/tokens", {"client_id": client_id})

    def records(self, kind: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/records/{kind}")["records"]

    def reset(self) -> None:
        self._call("POST", "/reset")

    def set_faults(self, **plan: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", plan)["plan"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def journal(self, since: int = 0) -> list[dict[str, Any]]:
        return self._call("GET", "/journal", params={"since": since})["journal"]


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    settings: EmulatorSettings
    admin: AdminClient

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/services/rest/auth/oauth2/v1/token"


SpawnedEmulator = emulator.spawned_type(EmulatorHandle)

KIND = emulator.EmulatorKind(
    name="NetSuite", module="bridge_assets.sandbox.netsuite",
    description="Local emulator of NetSuite SuiteTalk REST (record service, OAuth 2.0).",
    state_help="SQLite file holding the account", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle, spawned=SpawnedEmulator,
    options=(emulator.TIME_SCALE,), overrides=("time_scale",), uvicorn_options={"http": "h11"},
)
run_emulator = KIND.run
spawn_emulator = KIND.spawn
