"""The control panel under `/_emulator/...` (no auth, no faults, not journaled, plain JSON).

    POST /_emulator/close-periods {"through": "YYYY-MM-DD" | null}   close every period ending on or before the
                                                         date (Period Close checklist), or reopen all (null)
    POST /_emulator/oauth/tokens {client_id?}              a token pair as after the consent screen
    GET  /_emulator/records/{type}                        every record of a type as stored (internal fields too)
    plus the kit's health, settings, reset, faults, journal, clients
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.erp_admin import RecordsAdmin
from bridge_assets.sandbox.kit.erp_admin import json_response as _json
from bridge_assets.sandbox.netsuite.records import Records, month_periods


def seed(store, settings, records: Records) -> None:
    with store.transaction():
        if store.all("accountingPeriod"):
            return
        for period in month_periods(settings.first_period, settings.months):
            records.save("accountingPeriod", period)


class Admin(RecordsAdmin):
    secrets = "clients"

    def __init__(self, parts: Parts, records: Records) -> None:
        super().__init__(parts, lambda: {"account": self.settings.account}, oauth=parts.auth)
        self.records = records

    def own_routes(self) -> list[tuple]:
        return [("/close-periods", self.close_periods, ["POST"]), ("/oauth/tokens", self.mint_tokens, ["POST"])]

    def seed(self) -> None:
        seed(self.store, self.settings, self.records)

    async def close_periods(self, request: Request) -> Response:
        through = (await self.panel.body(request)).get("through")
        with self.store.transaction():
            for period in self.store.all("accountingPeriod"):
                period["closed"] = bool(through) and period["endDate"] <= through
                self.records.save("accountingPeriod", period)
        return _json({"closed": [p["periodName"] for p in self.store.all("accountingPeriod") if p["closed"]]})

    async def mint_tokens(self, request: Request) -> Response:
        client_id = (await self.panel.body(request)).get("client_id") or next(iter(self.settings.clients))
        return _json(self.oauth.mint_tokens(self.settings.account, client_id))
