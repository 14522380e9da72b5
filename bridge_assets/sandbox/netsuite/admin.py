"""The control panel under `/_emulator/...` (no auth, no faults, not journaled, plain JSON).

    POST /_emulator/close-periods {"through": "YYYY-MM-DD" | null}   close every period ending on or before the
                                                         date (Period Close checklist), or reopen all (null)
    POST /_emulator/oauth/tokens {client_id?}              a token pair as after the consent screen
    GET  /_emulator/records/{type}                        every record of a type as stored (internal fields too)
    plus the kit's health, settings, reset, faults, journal, clients
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.admin import AdminPanel
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.netsuite.records import Records, month_periods


def _json(payload: Any, status: int = 200) -> Response:
    return Response(wire.dumps(payload), status_code=status, media_type="application/json")


def seed(store, settings, records: Records) -> None:
    with store.transaction():
        if store.all("accountingPeriod"):
            return
        for period in month_periods(settings.first_period, settings.months):
            records.save("accountingPeriod", period)


class Admin:
    def __init__(self, parts: Parts, records: Records) -> None:
        self.store, self.settings, self.records, self.oauth = parts.store, parts.settings, records, parts.auth
        self.faults = parts.faults
        self.panel = AdminPanel(self.store, _json, wire.loads, parts.faults, health=lambda: {"account": self.settings.account},
                                settings_view=self._settings, reset=self._reset, oauth=self.oauth)

    def routes(self) -> list[BaseRoute]:
        return self.panel.routes([
            ("/close-periods", self.close_periods, ["POST"]),
            ("/oauth/tokens", self.mint_tokens, ["POST"]),
            ("/records/{kind}", self.dump, ["GET"]),
        ])

    def _settings(self) -> dict[str, Any]:
        shown = self.settings.to_mapping()
        shown["clients"] = {client: "***" for client in shown["clients"]}
        return shown

    def _reset(self, body: dict[str, Any]) -> str:
        self.store.wipe()
        self.oauth.reset(clients=True)
        seed(self.store, self.settings, self.records)
        self.faults.restore_initial()
        return "all"

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

    async def dump(self, request: Request) -> Response:
        return _json({"records": self.store.all(request.path_params["kind"])})
