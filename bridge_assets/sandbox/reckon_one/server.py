"""Start the Reckon One emulator on a free loopback port (`run_emulator` in a thread, `spawn_emulator` as its own
process), and the environment that points the bridge at one of its books (`bridge_environment`)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bridge_assets.sandbox.kit import emulator, tenant_admin
from bridge_assets.sandbox.reckon_one.api import API, TOKEN_PATH
from bridge_assets.sandbox.reckon_one.app import create_app
from bridge_assets.sandbox.reckon_one.settings import EmulatorSettings


class AdminClient(tenant_admin.TenantAdminClient):
    tenant_param = "book"

    def create_book(self, **options: Any) -> str:
        return self._call("POST", "/books", options)["id"]

    def books(self) -> list[str]:
        return self._call("GET", "/books")["books"]

    def mint_tokens(self, book_id: str, client_id: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/oauth/tokens", {"book_id": book_id, "client_id": client_id})

    def mark_paid(self, invoice_id: str) -> None:
        self._call("POST", f"/invoices/{invoice_id}/paid")


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    """`settings` an `EmulatorSettings`, `admin` an `AdminClient`."""

    @property
    def api_url(self) -> str:
        """What replaces https://api.reckon.com/r1/v2."""
        return self.base_url + API

    @property
    def token_url(self) -> str:
        """What replaces https://identity.reckon.com/connect/token."""
        return self.base_url + TOKEN_PATH


KIND = tenant_admin.tenant_kind(
    "Reckon One", "Local emulator of the Reckon One API v2 (customers, invoices; OAuth 2 and a subscription key).",
    "SQLite file holding the books",
    create_app=create_app, settings_type=EmulatorSettings, admin_client=AdminClient, handle=EmulatorHandle)
SpawnedEmulator, run_emulator, spawn_emulator = KIND.spawned, KIND.run, KIND.spawn


def bridge_environment(reckon: EmulatorHandle, book: str, token_store: Path,
                       client_id: str = "bridge-sandbox-client") -> dict[str, str]:
    """The RECKON_* variables that point the bridge at this emulator's book (a fresh token pair)."""
    return {"RECKON_API_URL": reckon.api_url, "RECKON_TOKEN_URL": reckon.token_url, "RECKON_BOOK_ID": book,
            "RECKON_CLIENT_ID": client_id, "RECKON_CLIENT_SECRET": dict(reckon.settings.clients)[client_id],
            "RECKON_SUBSCRIPTION_KEY": reckon.settings.subscription_keys[0], "RECKON_TOKEN_STORE": str(token_store),
            "RECKON_REFRESH_TOKEN": reckon.admin.mint_tokens(book, client_id)["refresh_token"],
            "RECKON_TIME_SCALE": str(reckon.settings.time_scale)}


@contextlib.contextmanager
def sandbox(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """For `bridge demo` / `ui`: the emulator on `folder/reckon_one.sqlite3`, its book kept across starts."""
    with run_emulator(folder / "reckon_one.sqlite3", EmulatorSettings(time_scale=60)) as reckon:
        book = tenant_admin.kept_id(folder / "reckon_one_book_id.txt", reckon.admin.books,
                                    lambda: reckon.admin.create_book(name="Sample Alarm Pty Ltd (sandbox)"))
        yield reckon.base_url, bridge_environment(reckon, book, folder / "reckon_one_tokens.json")
