"""The emulator as one ASGI application (`create_app`), and its control panel under `/_emulator/...`: books
(with the ledger account "Sales" and tax codes GST 10% and NT), tokens without the consent page, invoices as held."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit.admin import AdminError
from bridge_assets.sandbox.kit.emulator import EmulatorApp
from bridge_assets.sandbox.kit.faults import FaultRules
from bridge_assets.sandbox.kit.limits import MINUTE, RateLimits, Window
from bridge_assets.sandbox.kit.oauth import OAuthPolicy, OAuthProvider
from bridge_assets.sandbox.reckon_one import rules
from bridge_assets.sandbox.reckon_one.api import ReckonApi, answer
from bridge_assets.sandbox.reckon_one.settings import EmulatorSettings
from bridge_assets.sandbox.reckon_one.store import Store
from bridge_assets.sandbox.kit.tenant_admin import FAULT_KEYS, TenantAdmin, json_response as _json, tenant_app

FAULT_RULES = FaultRules(
    keys=FAULT_KEYS,
    responses={status: (lambda status=status: answer({"code": status, "message": "An error has occurred."}, status))
               for status in (500, 502, 503, 504)}
    | {429: lambda: answer({"statusCode": 429, "message": "Rate limit is exceeded. Try again in 1 seconds."}, 429,
                           {"Retry-After": "1"})},
)


class Admin(TenantAdmin):
    def own_routes(self):
        return [("/books", self.create_book, ["POST"]), ("/books", self.books, ["GET"]),
                ("/oauth/tokens", self.mint_tokens, ["POST"]), ("/invoices", self.invoices, ["GET"]),
                ("/invoices/{invoice_id}/paid", self.mark_paid, ["POST"])]

    async def create_book(self, request: Request) -> Response:
        body = await self.panel.body(request)
        book = str(body.get("id") or rules.new_id())
        with self.store.transaction():
            if self.store.get("Book", book) is not None:
                raise AdminError(f"book {book} exists already")
            self.store.insert("Book", book, {"name": body.get("name") or "Sample Alarm Pty Ltd"}, book)
            self.store.insert("LedgerAccount", book, {"name": "Sales", "type": "Income"}, rules.new_id())
            self.store.insert("TaxRate", book, {"code": "GST", "rate": "0.10"}, rules.new_id())
            self.store.insert("TaxRate", book, {"code": "NT", "rate": "0"}, rules.new_id())
        return _json({"id": book})

    async def books(self, request: Request) -> Response:
        return _json({"books": self.tenant_ids("Book")})

    async def mint_tokens(self, request: Request) -> Response:
        body = await self.panel.body(request)
        if self.store.get("Book", str(body.get("book_id") or "")) is None:
            raise AdminError("no such book", 404)
        client_id = str(body.get("client_id") or self.oauth.default_client_id())
        return _json(self.oauth.mint_tokens(str(body["book_id"]), client_id))

    async def invoices(self, request: Request) -> Response:
        book = request.query_params.get("book", "")
        return _json({"invoices": [rules.render_invoice(self.store, r) for r in self.store.listed("Invoice", book)]})

    async def mark_paid(self, request: Request) -> Response:
        record = self.store.get("Invoice", request.path_params["invoice_id"])
        if record is None:
            raise AdminError("no such invoice", 404)
        doc = {k: v for k, v in record.items() if k not in ("id", "business_id", "created_at", "modified_at")}
        with self.store.transaction():
            self.store.update("Invoice", record["id"], {**doc, "status": "Paid"})
        return _json({"id": record["id"], "status": "Paid"})


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    policy = OAuthPolicy(grants=("authorization_code", "refresh_token"), rotation="always",
                         access_token_lifetime_s=settings.access_token_lifetime_s,
                         refresh_token_lifetime_s=settings.refresh_token_lifetime_s, time_scale=settings.time_scale)
    oauth = OAuthProvider(store, policy, clients=settings.clients)
    limits = RateLimits(windows=(Window("per_minute", settings.requests_per_minute, MINUTE, key="key"),))
    return tenant_app(settings, store, FAULT_RULES, Admin, ReckonApi, auth=oauth, limits=limits)
