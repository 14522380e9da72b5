"""The emulator as one ASGI application (`create_app`), and its control panel under `/_emulator/...`:
accounts with their API key and apps (what a person sets up in QuickFile), invoices as held, faults, journal."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit.admin import AdminError
from bridge_assets.sandbox.kit.emulator import EmulatorApp
from bridge_assets.sandbox.kit.faults import FaultRules
from bridge_assets.sandbox.kit.limits import DAY, RateLimits, Window
from bridge_assets.sandbox.kit.tenant_admin import FAULT_KEYS, TenantAdmin, json_response as _json, tenant_app
from bridge_assets.sandbox.quickfile.api import QuickFileApi, errors
from bridge_assets.sandbox.quickfile.methods import totals
from bridge_assets.sandbox.quickfile.settings import EmulatorSettings
from bridge_assets.sandbox.quickfile.store import Store

FAULT_RULES = FaultRules(
    keys=FAULT_KEYS,
    responses={status: (lambda status=status: errors(status, "The service is temporarily unavailable"))
               for status in (500, 502, 503, 504)} | {429: lambda: errors(429, "Too many requests")},
)


class Admin(TenantAdmin):
    def own_routes(self):
        return [("/accounts", self.create_account, ["POST"]),
                ("/accounts", self.accounts, ["GET"]),
                ("/invoices", self.invoices, ["GET"])]

    async def create_account(self, request: Request) -> Response:
        """{account_number?, api_key, application_id, manifest?}: an account and an app registered on it."""
        body = await self.panel.body(request)
        if not body.get("api_key") or not body.get("application_id"):
            raise AdminError("api_key and application_id are required")
        manifest = list(body.get("manifest") or self.parts.settings.default_manifest)
        with self.store.transaction():
            number = str(body.get("account_number") or 6131400000 + len(self.store.fetchall(
                "SELECT id FROM records WHERE kind = 'Account'")) + 1)
            if self.store.get("Account", number) is not None:
                raise AdminError(f"account {number} exists already")
            self.store.insert("Account", number, {"name": body.get("name") or "Sample Alarm Ltd",
                                                  "api_key": str(body["api_key"]),
                                                  "apps": {str(body["application_id"]): manifest}}, number)
        return _json({"account_number": number})

    async def accounts(self, request: Request) -> Response:
        return _json({"accounts": self.tenant_ids("Account")})

    async def invoices(self, request: Request) -> Response:
        acc = request.query_params.get("account", "")
        found = []
        for record in self.store.listed("Invoice", acc):
            net, vat = totals(record)
            found.append({"InvoiceID": int(record["id"]), "InvoiceNumber": record["InvoiceNumber"],
                          "Status": record["Status"], "ClientID": record["ClientID"], "Gross": net + vat, "Vat": vat})
        return _json({"invoices": found})


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    limits = RateLimits(windows=(Window("per_day", settings.calls_per_day, DAY, key="account"),))
    return tenant_app(settings, store, FAULT_RULES, Admin, QuickFileApi, limits=limits)
