"""The emulator's control panel under `/_emulator/...` (no auth, no faults, not journaled, plain JSON):
what a person does in Odoo's own screens, or what a test needs to see.

    POST /_emulator/lock-dates {period_lock_date?, fiscalyear_lock_date?}   Settings > Accounting > lock dates
                                                         ("YYYY-MM-DD" or null to unlock)
    POST /_emulator/users {login, password, groups}       add a user (or replace one's password and groups)
    GET  /_emulator/records/{model}                       every record of a model as stored (internal fields too)
    POST /_emulator/records/{model}/{id}                  edit a record without rules (a person's edit in Odoo)
    plus the kit's health, settings, reset, faults, journal
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit.admin import AdminError
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.erp_admin import RecordsAdmin
from bridge_assets.sandbox.kit.erp_admin import json_response as _json
from bridge_assets.sandbox.odoo.rpc import seed_database
from bridge_assets.sandbox.odoo.settings import GROUPS


class Admin(RecordsAdmin):
    secret_field = "password"

    def __init__(self, parts: Parts, clock) -> None:
        super().__init__(parts, self._health)
        self.clock = clock

    def own_routes(self) -> list[tuple]:
        return [("/lock-dates", self.lock_dates, ["POST"]), ("/users", self.add_user, ["POST"]),
                ("/records/{model}/{record_id:int}", self.edit, ["POST"])]

    def _health(self) -> dict[str, Any]:
        return {"database": self.settings.database, "version": self.settings.server_version}

    def seed(self) -> None:
        seed_database(self.store, self.settings)

    async def lock_dates(self, request: Request) -> Response:
        body = await self.panel.body(request)
        unknown = set(body) - {"period_lock_date", "fiscalyear_lock_date"}
        if unknown:
            raise AdminError(f"unknown lock dates {sorted(unknown)}")
        for value in body.values():
            if value is not None:
                dt.date.fromisoformat(value)
        with self.store.transaction():
            company = self.store.all("res.company")[0]
            company.update({k: v or False for k, v in body.items()})
            company["write_date"] = self.clock.stamp()
            self.store.put("res.company", company)
        return _json({"company": company})

    async def add_user(self, request: Request) -> Response:
        body = await self.panel.body(request)
        login, password, groups = body.get("login"), body.get("password"), list(body.get("groups") or [])
        if not login or not password or set(groups) - set(GROUPS):
            raise AdminError(f"login and password are required; groups among {list(GROUPS)}")
        with self.store.transaction():
            existing = [u for u in self.store.all("res.users") if u["login"] == login]
            user = existing[0] if existing else {"id": self.store.next_id("res.users"), "login": login, "name": login,
                                                 "active": True, "api_keys": []}
            user.update(password=password, groups=groups)
            self.store.put("res.users", user)
        return _json({"uid": user["id"]})

    async def edit(self, request: Request) -> Response:
        model, record_id = request.path_params["model"], request.path_params["record_id"]
        body = await self.panel.body(request)
        with self.store.transaction():
            record = self.store.get(model, record_id)
            if record is None:
                raise AdminError(f"{model} {record_id} does not exist", 404)
            record.update(body)
            record["write_date"] = self.clock.stamp()
            self.store.put(model, record)
        return _json({"record": record})
