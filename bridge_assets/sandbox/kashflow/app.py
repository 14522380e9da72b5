"""The emulator as one ASGI application (`create_app`), and its control panel under `/_emulator/...`:
accounts (a user name with its API password), invoices as held."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kashflow import methods, soap
from bridge_assets.sandbox.kashflow.api import KashFlowApi
from bridge_assets.sandbox.kashflow.settings import EmulatorSettings
from bridge_assets.sandbox.kit.admin import AdminError
from bridge_assets.sandbox.kit.emulator import EmulatorApp
from bridge_assets.sandbox.kit.faults import FaultRules
from bridge_assets.sandbox.kit.tenant_admin import FAULT_KEYS, TenantAdmin, json_response as _json, tenant_app
from bridge_assets.sandbox.kit.tenant_records import SCHEMA, RecordStore
from bridge_assets.sandbox.kit.state import journal_schema


class Store(RecordStore):
    schema = SCHEMA + journal_schema("operation TEXT NOT NULL DEFAULT ''", "account TEXT NOT NULL DEFAULT ''")


def _gateway(status: int):
    return lambda: Response(f"<html><body><h1>{status}</h1></body></html>", status_code=status, media_type="text/html")


FAULT_RULES = FaultRules(
    keys=tuple(key for key in FAULT_KEYS if key != "throttle_next"),     # KashFlow documents no 429
    responses={502: _gateway(502), 503: _gateway(503), 504: _gateway(504),
               500: lambda: soap.fault("Server was unable to process request. ---> Timeout expired.")},
)


class Admin(TenantAdmin):
    def own_routes(self):
        return [("/accounts", self.create_account, ["POST"]), ("/accounts", self.accounts, ["GET"]),
                ("/invoices", self.invoices, ["GET"])]

    async def create_account(self, request: Request) -> Response:
        """{username, password, api_enabled?}: an account whose API is enabled with that API password."""
        body = await self.panel.body(request)
        if not body.get("username") or not body.get("password"):
            raise AdminError("username and password are required")
        if self.store.get("Account", str(body["username"])) is not None:
            raise AdminError("that account exists already")
        self.store.insert("Account", str(body["username"]), {"password": str(body["password"]),
                                                             "api_enabled": bool(body.get("api_enabled", True))},
                          str(body["username"]))
        return _json({"username": body["username"]})

    async def accounts(self, request: Request) -> Response:
        return _json({"accounts": self.tenant_ids("Account")})

    async def invoices(self, request: Request) -> Response:
        account = request.query_params.get("account", "")
        found = []
        for record in self.store.listed("Invoice", account):
            shown = methods.render(self.store, record)
            found.append({"InvoiceNumber": shown["InvoiceNumber"], "InvoiceDBID": shown["InvoiceDBID"],
                          "Gross": shown["NetAmount"] + shown["VatAmount"], "Vat": shown["VatAmount"],
                          "CustomerReference": shown["CustomerReference"]})
        return _json({"invoices": found})


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    return tenant_app(settings, store, FAULT_RULES, Admin, KashFlowApi)
