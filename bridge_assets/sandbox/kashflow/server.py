"""Start the KashFlow emulator on a free loopback port (`run_emulator` in a thread, `spawn_emulator` as its own
process), and the environment that points the bridge at one of its accounts (`bridge_environment`)."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bridge_assets.sandbox.kashflow.api import SERVICE
from bridge_assets.sandbox.kashflow.app import create_app
from bridge_assets.sandbox.kashflow.settings import EmulatorSettings
from bridge_assets.sandbox.kit import emulator, tenant_admin


class AdminClient(tenant_admin.TenantAdminClient):
    tenant_param = "account"

    def create_account(self, username: str, password: str, **options: Any) -> str:
        return self._call("POST", "/accounts", {"username": username, "password": password, **options})["username"]

    def accounts(self) -> list[str]:
        return self._call("GET", "/accounts")["accounts"]


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    """`settings` an `EmulatorSettings`, `admin` an `AdminClient`."""

    @property
    def service_url(self) -> str:
        """What replaces https://securedwebapp.com/api/service.asmx (the WSDL at ?WSDL)."""
        return self.base_url + SERVICE


KIND = tenant_admin.tenant_kind(
    "KashFlow", "Local emulator of KashFlow's SOAP API (customers, invoices; user name and password on every call).",
    "SQLite file holding the accounts",
    create_app=create_app, settings_type=EmulatorSettings, admin_client=AdminClient, handle=EmulatorHandle)
SpawnedEmulator, run_emulator, spawn_emulator = KIND.spawned, KIND.run, KIND.spawn


def bridge_environment(kashflow: EmulatorHandle, **account: Any) -> dict[str, str]:
    """A new account with its API enabled, and the KASHFLOW_* variables that point the bridge at it."""
    username, password = f"bridge-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
    kashflow.admin.create_account(username, password, **account)
    return {"KASHFLOW_SERVICE_URL": kashflow.service_url, "KASHFLOW_USERNAME": username,
            "KASHFLOW_PASSWORD": password}


@contextlib.contextmanager
def sandbox(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """For `bridge demo` / `ui`: the emulator on `folder/kashflow.sqlite3`, its account kept across starts."""
    with run_emulator(folder / "kashflow.sqlite3") as kashflow:
        env = tenant_admin.kept_environment(folder / "kashflow_account.json", "KASHFLOW_USERNAME",
                                            kashflow.admin.accounts, lambda: bridge_environment(kashflow))
        yield kashflow.base_url, {**env, "KASHFLOW_SERVICE_URL": kashflow.service_url}
