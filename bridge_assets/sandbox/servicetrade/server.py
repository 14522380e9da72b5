"""Start the emulator on a free loopback port: in a thread (`run_emulator`) or as its own process
(`spawn_emulator`, which a test can kill -9 and start again on the same state file).

    with run_emulator(tmp_path / "st.sqlite3") as st:
        st.admin.seed(seed=7, lines=300)
        with ServiceTradeClient(st.api_url, username="bridge", password="bridge-sandbox-password") as client:
            for invoice in client.pending_invoices("2026-08"):
                ...
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any

import httpx

from bridge_assets.sandbox.kit import emulator, serving
from bridge_assets.sandbox.kit.serving import AdminCallFailed
from bridge_assets.sandbox.servicetrade.app import create_app
from bridge_assets.sandbox.servicetrade.seed import seed_from_book
from bridge_assets.sandbox.servicetrade.settings import EmulatorSettings


class AdminClient(serving.AdminHttpClient):
    """The `/_emulator/...` endpoints as methods, for tests and for the bridge's sandbox set-up."""

    def _decode(self, response: httpx.Response) -> Any:
        return json.loads(response.content, parse_float=Decimal)  # money stays exact

    def settings(self) -> dict[str, Any]:
        return self._call("GET", "/settings")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def seed(self, seed: int = 1, lines: int = 200, first_period: str = "2026-08", months: int = 3,
             **options: Any) -> dict[str, Any]:
        """Generate the sample book and load it; options: status, credit_style, replace."""
        return self._call("POST", "/seed", {"seed": seed, "lines": lines, "first_period": first_period,
                                            "months": months, **options})

    def seed_book(self, book: Any, **options: Any) -> dict[str, Any]:
        plain = book if isinstance(book, dict) else book.to_dict()
        return self._call("POST", "/seed", {"book": plain, **options})

    def register_user(self, username: str, password: str) -> None:
        self._call("POST", "/users", {"username": username, "password": password})

    def register_client(self, client_id: str, client_secret: str) -> None:
        self._call("POST", "/clients", {"client_id": client_id, "client_secret": client_secret})

    def mint_tokens(self, client_id: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/oauth/tokens", {"client_id": client_id})

    def expire(self, **what: Any) -> dict[str, int]:
        """Expire sessions and access tokens now; username=, client_id=, refresh_tokens=True narrow or widen."""
        return self._call("POST", "/expire", what)["expired"]

    def sessions(self) -> list[dict[str, Any]]:
        return self._call("GET", "/sessions")["sessions"]

    def tokens(self) -> list[dict[str, Any]]:
        return self._call("GET", "/tokens")["tokens"]

    def invoices(self, status: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/invoices", params={"status": status} if status else None)["invoices"]

    def invoice(self, invoice_id: int) -> dict[str, Any]:
        return self._call("GET", f"/invoices/{invoice_id}")["invoice"]

    def create_invoices(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call("POST", "/invoices", {"invoices": specs})["invoices"]

    def edit_invoice(self, invoice_id: int, **changes: Any) -> dict[str, Any]:
        return self._call("POST", f"/invoices/{invoice_id}", changes)["invoice"]

    def comments(self, entity_id: int | None = None, entity_type: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("entityId", entity_id), ("entityType", entity_type)) if v is not None}
        return self._call("GET", "/comments", params=params or None)["comments"]

    def customers(self) -> list[dict[str, Any]]:
        return self._call("GET", "/customers")["customers"]

    def locations(self) -> list[dict[str, Any]]:
        return self._call("GET", "/locations")["locations"]

    def jobs(self) -> list[dict[str, Any]]:
        return self._call("GET", "/jobs")["jobs"]

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
        """What replaces https://api.servicetrade.com/api in the client's configuration."""
        return self.base_url + "/api"


SpawnedEmulator = emulator.spawned_type(EmulatorHandle)


def _seed_at_start(app: Any, args: Any, settings: EmulatorSettings) -> None:
    book = emulator.book_from_arguments(args)
    if book is not None:
        seed_from_book(book, app.state.emulator.store, fields=settings.fields)


KIND = emulator.EmulatorKind(
    name="ServiceTrade", module="bridge_assets.sandbox.servicetrade",
    description="Local emulator of the ServiceTrade API (invoices, comments, auth).",
    state_help="SQLite file holding the account", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle, spawned=SpawnedEmulator,
    options=(emulator.TIME_SCALE, *emulator.seed_options(lines=300)), overrides=("time_scale",),
    prepare=_seed_at_start,
)
run_emulator = KIND.run
spawn_emulator = KIND.spawn
