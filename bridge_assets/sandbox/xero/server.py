"""Start the Xero emulator on a free loopback port: in a thread (`run_emulator`) or as its own process
(`spawn_emulator`, which a test can kill -9 and start again on the same state file).

    with run_emulator(tmp_path / "xero.sqlite3") as xero:
        tokens = xero.admin.mint_tokens()
        httpx.get(f"{xero.api_url}/Invoices", headers={"Authorization": f"Bearer {tokens['access_token']}",
                  "xero-tenant-id": xero.tenant_id, "Accept": "application/json"})
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, ClassVar

from bridge_assets.sandbox.kit import emulator, serving
from bridge_assets.sandbox.xero.app import create_app
from bridge_assets.sandbox.xero.oauth import AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH
from bridge_assets.sandbox.xero.settings import EmulatorSettings


def _day(value: dt.date | str | None) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else value


class AdminClient(serving.AdminHttpClient):
    """The `/_emulator/...` endpoints as methods, for tests and the bridge's sandbox set-up."""

    def create_organisation(self, tenant_id: str | None = None, *, name: str | None = None,
                            connect: list[str] | None = None) -> str:
        payload = {"tenantId": tenant_id, "name": name, "connect": connect or []}
        return self._call("POST", "/organisations", {k: v for k, v in payload.items() if v is not None})["tenantId"]

    def set_lock_dates(self, tenant_id: str, period: dt.date | str | None = None,
                       end_of_year: dt.date | str | None = None) -> dict[str, Any]:
        return self._call("POST", f"/organisations/{tenant_id}/lock-dates",
                          {"PeriodLockDate": _day(period), "EndOfYearLockDate": _day(end_of_year)})

    def dump(self, tenant_id: str, collection: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/organisations/{tenant_id}/{collection}")[collection]

    def journal(self, tenant_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/organisations/{tenant_id}/journal")["journal"]

    def register_client(self, client_id: str, client_secret: str) -> None:
        self._call("POST", "/clients", {"client_id": client_id, "client_secret": client_secret})

    def connect_client(self, client_id: str, tenant_id: str) -> None:
        self._call("POST", "/custom-connections", {"client_id": client_id, "tenantId": tenant_id})

    def mint_tokens(self, tenant_id: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/oauth/tokens", {"tenantId": tenant_id, "client_id": client_id})

    def mint_authorization_code(self, tenant_id: str | None = None, client_id: str | None = None,
                                redirect_uri: str | None = None) -> str:
        return self._call("POST", "/oauth/authorization-code",
                          {"tenantId": tenant_id, "client_id": client_id, "redirect_uri": redirect_uri})["code"]

    def expire_tokens(self, tenant_id: str | None = None, kinds: tuple[str, ...] = ("access",)) -> dict[str, int]:
        return self._call("POST", "/oauth/expire", {"tenantId": tenant_id, "kinds": list(kinds)})["expired"]

    def set_faults(self, tenant_id: str | None = None, **plan: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", {"tenantId": tenant_id, **plan})["plan"]

    def clear_faults(self, tenant_id: str | None = None) -> None:
        self._call("DELETE", "/faults", params={"tenantId": tenant_id} if tenant_id else None)

    def intent_to_receive(self, url: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/webhooks/intent-to-receive", {"url": url} if url else {})

    def reset(self, tenant_id: str | None = None) -> None:
        self._call("POST", "/reset", {"tenantId": tenant_id} if tenant_id else {})


@dataclasses.dataclass
class EmulatorHandle(emulator.OAuthEndpoints, emulator.EmulatorHandle):
    token_path: ClassVar[str] = TOKEN_PATH
    revoke_path: ClassVar[str] = REVOKE_PATH
    authorize_path: ClassVar[str] = AUTHORIZE_PATH
    settings: EmulatorSettings
    admin: AdminClient

    @property
    def api_url(self) -> str:
        """What replaces https://api.xero.com/api.xro/2.0."""
        return self.base_url + "/api.xro/2.0"

    @property
    def connections_url(self) -> str:
        return self.base_url + "/connections"

    @property
    def tenant_id(self) -> str:
        return self.settings.default_tenant_id


SpawnedEmulator = emulator.spawned_type(EmulatorHandle)

KIND = emulator.EmulatorKind(
    name="Xero", module="bridge_assets.sandbox.xero",
    description="Local emulator of the Xero Accounting API 2.0 and Xero's identity server.",
    state_help="SQLite file holding the organisations", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle, spawned=SpawnedEmulator,
    options=(emulator.TIME_SCALE,), overrides=("time_scale",),
    uvicorn_options={"http": "h11"},        # the dropped-answer fault reaches the transport through h11
)
run_emulator = KIND.run
spawn_emulator = KIND.spawn
