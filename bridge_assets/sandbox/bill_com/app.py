"""The emulator as one ASGI application (`create_app`), and its control panel under `/_emulator/...`:
organizations with a user (what a person sets up in BILL), sessions expired on demand, invoices as held."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit.admin import AdminError
from bridge_assets.sandbox.kit.emulator import EmulatorApp
from bridge_assets.sandbox.kit.faults import FaultRules
from bridge_assets.sandbox.kit.limits import RateLimits, Window
from bridge_assets.sandbox.kit.tenant_admin import FAULT_KEYS, TenantAdmin, json_response as _json, tenant_app
from bridge_assets.sandbox.bill_com import rules
from bridge_assets.sandbox.bill_com.api import BillApi, answer
from bridge_assets.sandbox.bill_com.rules import Refused
from bridge_assets.sandbox.bill_com.settings import EmulatorSettings
from bridge_assets.sandbox.bill_com.store import Store

HOUR = 3600.0
FAULT_RULES = FaultRules(
    keys=FAULT_KEYS,
    responses={status: (lambda status=status: answer(Refused(status, "BDC_1001", "Unexpected error.", "SERVER").body(),
                                                     status)) for status in (500, 502, 503, 504)}
    | {429: lambda: answer(Refused(429, "BDC_1322", "Max number of concurrent requests per organization reached.",
                                   "DOWNSTREAM").body(), 429)},
)


class Admin(TenantAdmin):
    def own_routes(self):
        return [("/organizations", self.create_organization, ["POST"]),
                ("/organizations", self.organizations, ["GET"]),
                ("/sessions/expire", self.expire_sessions, ["POST"]),
                ("/invoices", self.invoices, ["GET"])]

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
        return _json({"organizations": self.tenant_ids("Organization")})

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
    return tenant_app(settings, store, FAULT_RULES, Admin, BillApi, limits=limits)
