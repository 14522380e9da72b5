"""Start the BILL emulator on a free loopback port (`run_emulator` in a thread, `spawn_emulator` as its own
process), and the environment that points the bridge at one of its organizations (`bridge_environment`)."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bridge_assets.sandbox.kit import emulator, tenant_admin
from bridge_assets.sandbox.bill_com.api import API
from bridge_assets.sandbox.bill_com.app import create_app
from bridge_assets.sandbox.bill_com.settings import EmulatorSettings


class AdminClient(tenant_admin.TenantAdminClient):
    tenant_param = "organization"

    def create_organization(self, username: str, password: str, **options: Any) -> str:
        return self._call("POST", "/organizations", {"username": username, "password": password,
                                                     **options})["organizationId"]

    def organizations(self) -> list[str]:
        return self._call("GET", "/organizations")["organizations"]

    def expire_sessions(self) -> int:
        return self._call("POST", "/sessions/expire")["expired"]


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    """`settings` an `EmulatorSettings`, `admin` an `AdminClient`."""

    @property
    def api_url(self) -> str:
        """What replaces https://gateway.prod.bill.com/connect/v3."""
        return self.base_url + API


KIND = tenant_admin.tenant_kind(
    "BILL", "Local emulator of BILL's AR API v3 (sessions, customers, invoices).",
    "SQLite file holding the organizations",
    create_app=create_app, settings_type=EmulatorSettings, admin_client=AdminClient, handle=EmulatorHandle)
SpawnedEmulator, run_emulator, spawn_emulator = KIND.spawned, KIND.run, KIND.spawn


def bridge_environment(bill: EmulatorHandle, **organization: Any) -> dict[str, str]:
    """A new organization with a user, and the BILL_* variables that point the bridge at it."""
    username, password = "bridge@example.com", secrets.token_urlsafe(12)
    org = bill.admin.create_organization(username, password, **organization)
    return {"BILL_API_URL": bill.api_url, "BILL_ORGANIZATION_ID": org, "BILL_USERNAME": username,
            "BILL_PASSWORD": password, "BILL_DEV_KEY": bill.settings.dev_keys[0],
            "BILL_TIME_SCALE": str(bill.settings.time_scale)}


@contextlib.contextmanager
def sandbox(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """For `bridge demo` / `ui`: the emulator on `folder/bill_com.sqlite3`, its organization kept across starts."""
    with run_emulator(folder / "bill_com.sqlite3", EmulatorSettings(time_scale=60)) as bill:
        env = tenant_admin.kept_environment(folder / "bill_com_organization.json", "BILL_ORGANIZATION_ID",
                                            bill.admin.organizations,
                                            lambda: bridge_environment(bill, name="Sample Alarm Co (sandbox)"))
        yield bill.base_url, {**env, "BILL_API_URL": bill.api_url}
