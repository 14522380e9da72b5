"""The control panel under `/_emulator/...` (no auth, no faults, not journaled, plain JSON).

    POST /_emulator/customers {"customers": [{"number", "name"}]}   customer accounts (made in Oracle by a person)
    POST /_emulator/close-periods {"through": "YYYY-MM-DD" | null}  close the AR periods ending on or before it
    GET  /_emulator/records/{kind}                                 every record of a resource as stored
    plus the kit's health, settings, reset, faults, journal
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.admin import AdminPanel
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.oracle_fusion_receivables.receivables import month


def _json(payload: Any, status: int = 200) -> Response:
    return Response(wire.dumps(payload), status_code=status, media_type="application/json")


class Admin:
    def __init__(self, parts: Parts) -> None:
        self.store, self.settings, self.faults = parts.store, parts.settings, parts.faults
        self.panel = AdminPanel(self.store, _json, wire.loads, parts.faults, health=lambda: {},
                                settings_view=self._settings, reset=self._reset)

    def routes(self) -> list[BaseRoute]:
        return self.panel.routes([("/customers", self.customers, ["POST"]),
                                  ("/close-periods", self.close_periods, ["POST"]),
                                  ("/records/{kind}", self.dump, ["GET"])])

    def _settings(self) -> dict[str, Any]:
        shown = self.settings.to_mapping()
        shown["users"] = {user: {**value, "password": "***"} for user, value in shown["users"].items()}
        return shown

    def _reset(self, body: dict[str, Any]) -> str:
        self.store.wipe()
        self.faults.restore_initial()
        return "all"

    async def customers(self, request: Request) -> Response:
        given = (await self.panel.body(request)).get("customers") or []
        with self.store.transaction():
            for customer in given:
                self.store.put("customers", {"id": str(customer["number"]), "name": customer.get("name") or ""})
        return _json({"customers": self.store.all("customers")})

    async def close_periods(self, request: Request) -> Response:
        through = (await self.panel.body(request)).get("through")
        with self.store.transaction():
            for period in self.store.all("periods"):
                self.store.remove("periods", period["id"])
            if through:
                day, first = dt.date.fromisoformat(through), dt.date(2000, 1, 1)
                while day >= first:
                    name, start, end = month(day)
                    if end <= through:
                        self.store.put("periods", {"id": name, "name": name, "start": start, "end": end, "closed": True})
                    day = dt.date.fromisoformat(start) - dt.timedelta(days=1)
                    if day.year < 2020:
                        break
        return _json({"closed": [p["name"] for p in self.store.all("periods")]})

    async def dump(self, request: Request) -> Response:
        return _json({"records": self.store.all(request.path_params["kind"])})
