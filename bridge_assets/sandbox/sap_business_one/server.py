"""Start the SAP Business One Service Layer emulator on a free loopback port: in a thread (`run_emulator`) or as
its own process (`spawn_emulator`, which a test can kill -9 and start again on the same state file)."""

from __future__ import annotations

import dataclasses
from typing import Any

from bridge_assets.sandbox.kit import emulator, serving
from bridge_assets.sandbox.sap_business_one.app import create_app
from bridge_assets.sandbox.sap_business_one.settings import EmulatorSettings


class AdminClient(serving.AdminHttpClient):
    def lock_periods(self, through: str | None, status: str = "ltLocked") -> list[dict[str, Any]]:
        return self._call("POST", "/period-status", {"through": through, "status": status})["periods"]

    def expire_sessions(self) -> int:
        return self._call("POST", "/expire-sessions")["expired"]

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
    def service_url(self) -> str:
        """What replaces https://host:50000/b1s/v1 (SAPB1_URL)."""
        return f"{self.base_url}/b1s/v1"


SpawnedEmulator = emulator.spawned_type(EmulatorHandle)

KIND = emulator.EmulatorKind(
    name="SAP Business One", module="bridge_assets.sandbox.sap_business_one",
    description="Local emulator of the SAP Business One Service Layer (b1s/v1: sessions, documents, payments).",
    state_help="SQLite file holding the company database", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle, spawned=SpawnedEmulator,
    options=(emulator.TIME_SCALE,), overrides=("time_scale",), uvicorn_options={"http": "h11"},
)
run_emulator = KIND.run
spawn_emulator = KIND.spawn
