"""Start the Odoo emulator on a free loopback port: in a thread (`run_emulator`) or as its own process
(`spawn_emulator`, which a test can kill -9 and start again on the same state file).

    with run_emulator(tmp_path / "odoo.sqlite3") as odoo:
        common = xmlrpc.client.ServerProxy(odoo.base_url + "/xmlrpc/2/common")
        uid = common.authenticate(odoo.database, "bridge@example.com", "bridge-sandbox-api-key", {})
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bridge_assets.sandbox.kit import emulator
from bridge_assets.sandbox.kit.erp_admin import RecordsAdminClient, erp_kind
from bridge_assets.sandbox.odoo.app import create_app
from bridge_assets.sandbox.odoo.settings import EmulatorSettings


class AdminClient(RecordsAdminClient):
    """The `/_emulator/...` endpoints as methods."""

    def set_lock_dates(self, period_lock_date: str | None = None, fiscalyear_lock_date: str | None = None) -> dict:
        return self._call("POST", "/lock-dates", {"period_lock_date": period_lock_date,
                                                 "fiscalyear_lock_date": fiscalyear_lock_date})["company"]

    def add_user(self, login: str, password: str, groups: list[str]) -> int:
        return self._call("POST", "/users", {"login": login, "password": password, "groups": groups})["uid"]

    def edit(self, model: str, record_id: int, **changes: Any) -> dict[str, Any]:
        return self._call("POST", f"/records/{model}/{record_id}", changes)["record"]


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    settings: EmulatorSettings
    admin: AdminClient

    @property
    def database(self) -> str:
        return self.settings.database


KIND = erp_kind(
    "Odoo", "bridge_assets.sandbox.odoo",
    "Local emulator of Odoo 17's external API (XML-RPC execute_kw on account.move and its wizards).",
    "SQLite file holding the Odoo database", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle)
SpawnedEmulator = KIND.spawned
run_emulator = KIND.run
spawn_emulator = KIND.spawn
