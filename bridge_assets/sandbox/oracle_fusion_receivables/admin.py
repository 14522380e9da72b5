"""The control panel under `/_emulator/...` (no auth, no faults, not journaled, plain JSON).

    POST /_emulator/customers {"customers": [{"number", "name"}]}   customer accounts (made in Oracle by a person)
    POST /_emulator/close-periods {"through": "YYYY-MM-DD" | null}  close the AR periods ending on or before it
    GET  /_emulator/records/{kind}                                 every record of a resource as stored
    plus the kit's health, settings, reset, faults, journal
"""

from __future__ import annotations

import datetime as dt
from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.erp_admin import RecordsAdmin
from bridge_assets.sandbox.kit.erp_admin import json_response as _json
from bridge_assets.sandbox.oracle_fusion_receivables.receivables import month


class Admin(RecordsAdmin):
    secret_field = "password"

    def __init__(self, parts: Parts) -> None:
        super().__init__(parts, lambda: {})

    def own_routes(self) -> list[tuple]:
        return [("/customers", self.customers, ["POST"]), ("/close-periods", self.close_periods, ["POST"])]

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
