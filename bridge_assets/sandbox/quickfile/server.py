"""Start the QuickFile emulator on a free loopback port (`run_emulator` in a thread, `spawn_emulator` as its
own process), and the environment that points the bridge at one of its accounts (`bridge_environment`)."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bridge_assets.sandbox.kit import emulator, tenant_admin
from bridge_assets.sandbox.quickfile.app import create_app
from bridge_assets.sandbox.quickfile.settings import EmulatorSettings


class AdminClient(tenant_admin.TenantAdminClient):
    tenant_param = "account"

    def create_account(self, api_key: str, application_id: str, **options: Any) -> str:
        return self._call("POST", "/accounts", {"api_key": api_key, "application_id": application_id,
                                                **options})["account_number"]

    def accounts(self) -> list[str]:
        return self._call("GET", "/accounts")["accounts"]


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    """`settings` an `EmulatorSettings`, `admin` an `AdminClient`."""

    @property
    def api_url(self) -> str:
        """What replaces https://api.quickfile.co.uk (methods at /1_2/<category>/<method>)."""
        return self.base_url


KIND = tenant_admin.tenant_kind(
    "QuickFile", "Local emulator of QuickFile's JSON API v1.2 (clients, invoices; MD5-signed header).",
    "SQLite file holding the accounts",
    create_app=create_app, settings_type=EmulatorSettings, admin_client=AdminClient, handle=EmulatorHandle)
SpawnedEmulator, run_emulator, spawn_emulator = KIND.spawned, KIND.run, KIND.spawn


def bridge_environment(quickfile: EmulatorHandle, **account: Any) -> dict[str, str]:
    """A new account with an app on it, and the QUICKFILE_* variables that point the bridge at it."""
    api_key, app = secrets.token_hex(16), f"app-{secrets.token_hex(4)}"
    number = quickfile.admin.create_account(api_key, app, **account)
    return {"QUICKFILE_BASE_URL": quickfile.api_url, "QUICKFILE_ACCOUNT_NUMBER": number, "QUICKFILE_API_KEY": api_key,
            "QUICKFILE_APPLICATION_ID": app, "QUICKFILE_TIME_SCALE": str(quickfile.settings.time_scale)}


@contextlib.contextmanager
def sandbox(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """For `bridge demo` / `ui`: the emulator on `folder/quickfile.sqlite3` (its account kept across starts in
    `folder/quickfile_account.json`) and the bridge's variables."""
    with run_emulator(folder / "quickfile.sqlite3", EmulatorSettings(time_scale=60)) as quickfile:
        env = tenant_admin.kept_environment(
            folder / "quickfile_account.json", "QUICKFILE_ACCOUNT_NUMBER", quickfile.admin.accounts,
            lambda: bridge_environment(quickfile, name="Sample Alarm Ltd (sandbox)"))
        yield quickfile.base_url, {**env, "QUICKFILE_BASE_URL": quickfile.api_url}
