"""Start the Wave emulator on a free loopback port: in a thread (`run_emulator`) or as its own process
(`spawn_emulator`, which a test can kill -9 and start again on the same state file).

    with run_emulator(tmp_path / "wave.sqlite3") as wave:
        business = wave.admin.create_business("Sample Alarm Co")
        tokens = wave.admin.mint_tokens(business)
        # POST wave.graphql_url with Authorization: Bearer <tokens["access_token"]>
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bridge_assets.sandbox.kit import emulator, tenant_admin
from bridge_assets.sandbox.wave.api import GRAPHQL_PATH, TOKEN_PATH
from bridge_assets.sandbox.wave.app import create_app
from bridge_assets.sandbox.wave.settings import EmulatorSettings


class AdminClient(tenant_admin.TenantAdminClient):
    """The `/_emulator/...` endpoints as methods, for tests and for the bridge's sandbox set-up."""

    tenant_param = "business_id"

    def create_business(self, name: str = "Sample Alarm Co", **options: Any) -> str:
        return self._call("POST", "/businesses", {"name": name, **options})["id"]

    def businesses(self) -> list[str]:
        return self._call("GET", "/businesses")["businesses"]

    def mint_tokens(self, business_id: str, client_id: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/oauth/tokens", {"business_id": business_id, "client_id": client_id})

    def register_client(self, client_id: str, client_secret: str) -> None:
        self._call("POST", "/clients", {"client_id": client_id, "client_secret": client_secret})

    def expire(self, refresh_tokens: bool = False) -> dict[str, int]:
        return self._call("POST", "/expire", {"refresh_tokens": refresh_tokens})["expired"]

    def record_payment(self, invoice_id: str, amount: str) -> dict[str, Any]:
        return self._call("POST", f"/invoices/{invoice_id}/payments", {"amount": amount})

    def reset(self) -> None:
        self._call("POST", "/reset")


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    """`settings` an `EmulatorSettings`, `admin` an `AdminClient`."""

    @property
    def graphql_url(self) -> str:
        """What replaces https://gql.waveapps.com/graphql/public."""
        return self.base_url + GRAPHQL_PATH

    @property
    def token_url(self) -> str:
        """What replaces https://api.waveapps.com/oauth2/token/."""
        return self.base_url + TOKEN_PATH


KIND = tenant_admin.tenant_kind(
    "Wave", "Local emulator of Wave's public GraphQL API (customers, products, invoices, OAuth 2).",
    "SQLite file holding the businesses",
    create_app=create_app, settings_type=EmulatorSettings, admin_client=AdminClient, handle=EmulatorHandle)
SpawnedEmulator, run_emulator, spawn_emulator = KIND.spawned, KIND.run, KIND.spawn


def bridge_environment(wave: EmulatorHandle, business_id: str, token_store: Path, *,
                       client_id: str = "bridge-sandbox-client") -> dict[str, str]:
    """The WAVE_* variables that point the bridge's adapter at this emulator's business (a fresh token pair)."""
    secret = dict(wave.settings.clients)[client_id]
    return {"WAVE_GRAPHQL_URL": wave.graphql_url, "WAVE_TOKEN_URL": wave.token_url, "WAVE_CLIENT_ID": client_id,
            "WAVE_CLIENT_SECRET": secret, "WAVE_BUSINESS_ID": business_id, "WAVE_TOKEN_STORE": str(token_store),
            "WAVE_REFRESH_TOKEN": wave.admin.mint_tokens(business_id, client_id)["refresh_token"],
            "WAVE_TIME_SCALE": str(wave.settings.time_scale)}


@contextlib.contextmanager
def sandbox(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """For `bridge demo` / `ui`: the emulator on `folder/wave.sqlite3` (its business kept across starts, its
    clock 60 times faster so a month's invoices pass Wave's 60 a minute quickly) and the bridge's variables."""
    with run_emulator(folder / "wave.sqlite3", EmulatorSettings(time_scale=60)) as wave:
        business_id = tenant_admin.kept_id(folder / "wave_business_id.txt", wave.admin.businesses,
                                           lambda: wave.admin.create_business("Sample Alarm Co (sandbox)"))
        yield wave.base_url, bridge_environment(wave, business_id, folder / "wave_tokens.json")
