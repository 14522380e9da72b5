"""The emulator as one ASGI application (`create_app`), and its control panel under `/_emulator/...`:
organizations with a user (what a person sets up in BILL), sessions expired on demand, invoices as held."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.admin import AdminError, AdminPanel
from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules
from bridge_assets.sandbox.kit.limits import RateLimiter, RateLimits, Window
from bridge_assets.sandbox.bill_com import rules
from bridge_assets.sandbox.bill_com.api import BillApi, answer
from bridge_assets.sandbox.bill_com.rules import Refused
from bridge_assets.sandbox.bill_com.settings import EmulatorSettings
from bridge_assets.sandbox.bill_com.store import Store

HOUR = 3600.0
FAULT_RULES = FaultRules(
    keys=("latency_ms", "latency_jitter_ms", "fail_requests", "fail_status", "fail_next", "error_rate",
          "error_statuses", "throttle_next", "methods", "paths", "seed"),
    responses={status: (lambda status=status: answer(Refused(status, "BDC_1001", "Unexpected error.", "SERVER").body(),
                                                     status)) for status in (500, 502, 503, 504)}
    | {429: lambda: answer(Refused(429, "BDC_1322", "Max number of concurrent requests per organization reached.",
                                   "DOWNSTREAM").body(), 429)},
)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, default=lambda v: format(v, "f") if isinstance(v, Decimal) else str(v)),
                    status_code=status, media_type="application/json")


class Admin:
    def __init__(self, parts: Parts) -> None:
        self.parts, self.store = parts, parts.store
        self.panel = AdminPanel(self.store, _json, wire.loads, parts.faults, health=self._health,
                                settings_view=parts.settings.to_mapping, reset=self.reset)

    def routes(self):
        return self.panel.routes([("/organizations", self.create_organization, ["POST"]),
                                  ("/organizations", self.organizations, ["GET"]),
                                  ("/sessions/expire", self.expire_sessions, ["POST"]),
                                  ("/invoices", self.invoices, ["GET"])])

    def _health(self) -> dict[str, Any]:
        return {"invoices": self.store.fetchone("SELECT COUNT(*) AS n FROM records WHERE kind = 'Invoice'")["n"]}

    def reset(self, body: dict[str, Any]) -> str:
        self.store.reset()
        self.parts.faults.restore_initial()
        self.parts.throttle.reset()
        return "all"

    async def create_organization(self, request: Request) -> Response:
        """{username, password, name?, id?}: an organization (id 008...) with one user."""
        body = await self.panel.body(request)
        if not body.get("username") or not body.get("password"):
            raise AdminError("username and password are required")
        org = str(body.get("id") or rules.new_id("008"))          # a test may choose the organization's id
        if self.store.get("Organization", org) is not None:
            raise AdminError(f"organization {org} exists already")
        self.store.insert("Organization", org, {"name": body.get("name") or "Sample Alarm Co",
                                                "users": {str(body["username"]): str(body["password"])}}, org)
        return _json({"organizationId": org})

    async def organizations(self, request: Request) -> Response:
        rows = self.store.fetchall("SELECT id FROM records WHERE kind = 'Organization' ORDER BY created_at")
        return _json({"organizations": [row["id"] for row in rows]})

    async def expire_sessions(self, request: Request) -> Response:
        with self.store.transaction():
            count = self.store.execute("DELETE FROM records WHERE kind = 'Session'").rowcount
        return _json({"expired": count})

    async def invoices(self, request: Request) -> Response:
        org = request.query_params.get("organization", "")
        return _json({"invoices": [rules.render_invoice(self.store, r) for r in self.store.listed("Invoice", org)]})


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    limits = RateLimits(windows=(Window("per_hour", settings.requests_per_hour, HOUR, key="key"),
                                 Window("logins_per_hour", settings.logins_per_hour, HOUR, key="key", only="login")),
                        concurrent=settings.concurrent_per_org, concurrent_key="slot")
    parts = Parts(settings, store, FaultInjector(FAULT_RULES, dict(settings.faults)), None,
                  RateLimiter(limits, real_seconds=settings.real_seconds))
    return EmulatorApp(parts, [*Admin(parts).routes(), *BillApi(parts).routes()])
