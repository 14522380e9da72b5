"""Start the emulator on a free loopback port: in a thread (`run_emulator`) or as its own process
(`spawn_emulator`, which a test can kill -9 to play a crash and start again on the same state file).

    with run_emulator(tmp_path / "qbo.sqlite3") as qbo:
        realm_id = qbo.admin.create_company()
        tokens = qbo.admin.mint_tokens(realm_id)
        httpx.get(f"{qbo.company_url(realm_id)}/preferences",
                  headers={"Authorization": f"Bearer {tokens['access_token']}"})
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, ClassVar

from bridge_assets.sandbox.kit import emulator, serving
from bridge_assets.sandbox.kit.serving import AdminCallFailed
from bridge_assets.sandbox.qbo.app import create_app
from bridge_assets.sandbox.qbo.oauth import AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH
from bridge_assets.sandbox.qbo.settings import EmulatorSettings


class AdminClient(serving.AdminHttpClient):
    """The `/_emulator/...` endpoints as methods, for tests and for the bridge's sandbox set-up."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        super().__init__(base_url, timeout=timeout)

    def create_company(self, realm_id: str | None = None, *, company_name: str | None = None,
                       sales_tax_rate: Any = None, warn_duplicate_doc_number: bool | None = None,
                       preferences: dict[str, Any] | None = None) -> str:
        payload: dict[str, Any] = {"realmId": realm_id, "CompanyName": company_name, "Preferences": preferences}
        if sales_tax_rate is not None:
            payload["sales_tax_rate"] = str(sales_tax_rate)
        if warn_duplicate_doc_number is not None:
            payload["warn_duplicate_doc_number"] = warn_duplicate_doc_number
        return self._call("POST", "/companies", {k: v for k, v in payload.items() if v is not None})["realmId"]

    def configure_company(self, realm_id: str, **config: Any) -> dict[str, Any]:
        if "sales_tax_rate" in config:
            config["sales_tax_rate"] = str(config["sales_tax_rate"])
        return self._call("POST", f"/companies/{realm_id}/config", config)["config"]

    def change_preferences(self, realm_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/companies/{realm_id}/preferences", changes)["Preferences"]

    def set_book_close_date(self, realm_id: str, close: dt.date | str | None) -> dict[str, Any]:
        value = close.isoformat() if isinstance(close, dt.date) else close
        return self._call("POST", f"/companies/{realm_id}/book-close-date", {"BookCloseDate": value})["Preferences"]

    def mint_tokens(self, realm_id: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/oauth/tokens", {"realmId": realm_id, "client_id": client_id})

    def mint_authorization_code(self, realm_id: str | None = None, client_id: str | None = None,
                                redirect_uri: str | None = None) -> str:
        return self._call("POST", "/oauth/authorization-code",
                          {"realmId": realm_id, "client_id": client_id, "redirect_uri": redirect_uri})["code"]

    def register_client(self, client_id: str, client_secret: str) -> None:
        self._call("POST", "/clients", {"client_id": client_id, "client_secret": client_secret})

    def expire_access_tokens(self, realm_id: str | None = None, access_token: str | None = None) -> int:
        return self._call("POST", "/oauth/expire", {"realmId": realm_id, "access_token": access_token})["expired"]

    def set_faults(self, realm_id: str | None = None, **plan: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", {"realmId": realm_id, **plan})["plan"]

    def clear_faults(self, realm_id: str | None = None) -> None:
        self._call("DELETE", "/faults", params={"realmId": realm_id} if realm_id else None)

    def reset(self, realm_id: str | None = None) -> None:
        self._call("POST", "/reset", {"realmId": realm_id} if realm_id else {})

    def dump(self, realm_id: str, entity: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every object of one entity, inactive and voided included, with no token and no throttle."""
        answer = self._call("GET", f"/companies/{realm_id}/entities/{entity}")
        return answer[entity] + (answer["Deleted"] if include_deleted else [])

    def journal(self, realm_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/companies/{realm_id}/journal")["journal"]


@dataclasses.dataclass
class EmulatorHandle(emulator.OAuthEndpoints, emulator.EmulatorHandle):
    token_path: ClassVar[str] = TOKEN_PATH
    revoke_path: ClassVar[str] = REVOKE_PATH
    authorize_path: ClassVar[str] = AUTHORIZE_PATH
    settings: EmulatorSettings
    admin: AdminClient

    @property
    def api_base_url(self) -> str:
        """What replaces https://quickbooks.api.intuit.com in the client's configuration."""
        return self.base_url

    def company_url(self, realm_id: str) -> str:
        return f"{self.base_url}/v3/company/{realm_id}"


SpawnedEmulator = emulator.spawned_type(EmulatorHandle)


KIND = emulator.EmulatorKind(
    name="QBO", module="bridge_assets.sandbox.qbo",
    description="Local emulator of the QuickBooks Online Accounting API v3.",
    state_help="SQLite file holding the books", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle, spawned=SpawnedEmulator,
    options=(emulator.TIME_SCALE,), overrides=("time_scale",),
    # h11 explicitly: the dropped-response fault reaches the transport through its protocol object.
    uvicorn_options={"http": "h11"},
)
run_emulator = KIND.run
spawn_emulator = KIND.spawn
