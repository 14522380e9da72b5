"""Start the Business Central emulator on a free loopback port: in a thread (`run_emulator`) or as its own
process (`spawn_emulator`, which a test can kill -9 and start again on the same state file)."""

from __future__ import annotations

import dataclasses
from typing import Any

from bridge_assets.sandbox.business_central.app import create_app
from bridge_assets.sandbox.business_central.settings import EmulatorSettings
from bridge_assets.sandbox.kit import emulator, serving


class AdminClient(serving.AdminHttpClient):
    def company(self) -> dict[str, Any]:
        return self._call("GET", "/company")

    def set_posting_range(self, allow_from: str | None = None, allow_to: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/posting-range", {"allowPostingFrom": allow_from, "allowPostingTo": allow_to})

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
    def api_url(self) -> str:
        """What replaces https://api.businesscentral.dynamics.com in BC_API_URL."""
        return self.base_url

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/{self.settings.tenant}/oauth2/v2.0/token"


SpawnedEmulator = emulator.spawned_type(EmulatorHandle)

KIND = emulator.EmulatorKind(
    name="Business Central", module="bridge_assets.sandbox.business_central",
    description="Local emulator of Dynamics 365 Business Central API v2.0 (sales documents, payments, $batch).",
    state_help="SQLite file holding the environment", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle, spawned=SpawnedEmulator,
    options=(emulator.TIME_SCALE,), overrides=("time_scale",), uvicorn_options={"http": "h11"},
)
run_emulator = KIND.run
spawn_emulator = KIND.spawn
