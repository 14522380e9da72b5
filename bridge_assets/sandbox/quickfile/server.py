"""Start the QuickFile emulator on a free loopback port (`run_emulator` in a thread, `spawn_emulator` as its
own process), and the environment that points the bridge at one of its accounts (`bridge_environment`)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bridge_assets.sandbox.kit import emulator, serving
from bridge_assets.sandbox.quickfile.app import create_app
from bridge_assets.sandbox.quickfile.settings import EmulatorSettings


class AdminClient(serving.AdminHttpClient):
    def _decode(self, response: httpx.Response) -> Any:
        return json.loads(response.content, parse_float=Decimal)

    def create_account(self, api_key: str, application_id: str, **options: Any) -> str:
        return self._call("POST", "/accounts", {"api_key": api_key, "application_id": application_id,
                                                **options})["account_number"]

    def accounts(self) -> list[str]:
        return self._call("GET", "/accounts")["accounts"]

    def invoices(self, account: str) -> list[dict[str, Any]]:
        return self._call("GET", "/invoices", params={"account": account})["invoices"]

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
        """What replaces https://api.quickfile.co.uk (methods at /1_2/<category>/<method>)."""
        return self.base_url


SpawnedEmulator = emulator.spawned_type(EmulatorHandle)

KIND = emulator.EmulatorKind(
    name="QuickFile", module="bridge_assets.sandbox.quickfile",
    description="Local emulator of QuickFile's JSON API v1.2 (clients, invoices; MD5-signed header).",
    state_help="SQLite file holding the accounts", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle, spawned=SpawnedEmulator,
    options=(emulator.TIME_SCALE,), overrides=("time_scale",),
)
run_emulator = KIND.run
spawn_emulator = KIND.spawn


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
        kept = folder / "quickfile_account.json"
        env = json.loads(kept.read_text()) if kept.exists() else {}
        if env.get("QUICKFILE_ACCOUNT_NUMBER") not in quickfile.admin.accounts():
            env = bridge_environment(quickfile, name="Sample Alarm Ltd (sandbox)")
            kept.write_text(json.dumps(env))
            kept.chmod(0o600)
        yield quickfile.base_url, {**env, "QUICKFILE_BASE_URL": quickfile.api_url}
