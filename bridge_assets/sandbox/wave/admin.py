"""The emulator's own control panel under `/_emulator/...` (kit/admin.py): what a person does in Wave's
UI (create a business, connect an app) and what a test needs to see. Plain JSON, no auth, not journaled."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit.admin import AdminError
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.tenant_admin import TenantAdmin
from bridge_assets.sandbox.wave import resolvers


def _plain(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot answer {type(value).__name__}")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, default=_plain), status_code=status, media_type="application/json")


class Admin(TenantAdmin):
    def __init__(self, parts: Parts) -> None:
        super().__init__(parts, _json)
        self.settings = parts.settings

    def own_routes(self):
        return [
            ("/businesses", self.create_business, ["POST"]),
            ("/businesses", self.list_businesses, ["GET"]),
            ("/oauth/tokens", self.mint_tokens, ["POST"]),
            ("/expire", self.expire, ["POST"]),
            ("/invoices", self.invoices, ["GET"]),
            ("/invoices/{invoice_id}/payments", self.record_payment, ["POST"]),
        ]

    async def create_business(self, request: Request) -> Response:
        """A business as Wave sets one up: an income account "Sales" and a sales tax "Sales Tax" (7%); `id` optional."""
        body = await self.panel.body(request)
        with self.store.transaction():
            chosen = str(body["id"]) if body.get("id") else None      # a test may choose the business's id
            if chosen and self.store.get("Business", chosen) is not None:
                raise AdminError(f"business {chosen!r} exists already")
            business = self.store.insert("Business", None, {"name": str(body.get("name") or "Sample Alarm Co")},
                                         chosen)
            self.store.insert("Account", business["id"], {"name": "Sales", "subtype": "INCOME"})
            self.store.insert("Account", business["id"], {"name": "Cash on Hand", "subtype": "CASH_AND_BANK"})
            self.store.insert("SalesTax", business["id"], {"name": "Sales Tax", "abbreviation": "ST",
                                                           "rate": str(body.get("sales_tax_rate", "0.07"))})
        return _json({"id": business["id"], "name": business["name"]})

    async def list_businesses(self, request: Request) -> Response:
        return _json({"businesses": self.tenant_ids("Business")})

    async def mint_tokens(self, request: Request) -> Response:
        """A token pair for one business, as if its owner had just connected the app."""
        body = await self.panel.body(request)
        business_id = str(body.get("business_id") or "")
        if self.store.get("Business", business_id) is None:
            raise AdminError(f"no business {business_id!r}", 404)
        client_id = str(body.get("client_id") or self.oauth.default_client_id())
        self.oauth.check_client(client_id)
        return _json(self.oauth.mint_tokens(business_id, client_id))

    async def expire(self, request: Request) -> Response:
        body = await self.panel.body(request)
        kinds = ("access", "refresh") if body.get("refresh_tokens") else ("access",)
        return _json({"expired": self.oauth.expire(kinds)})

    async def invoices(self, request: Request) -> Response:
        """Every invoice of a business as the API renders it (drafts too)."""
        business_id = request.query_params.get("business_id", "")
        context = resolvers.Context(self.store, business_id, self.settings)
        found = self.store.listed("Invoice", business_id)
        return _json({"invoices": [resolvers.render_invoice(record, context) for record in found]})

    async def record_payment(self, request: Request) -> Response:
        """A payment recorded on an invoice in Wave's UI (the API has no mutation for it)."""
        body = await self.panel.body(request)
        record = self.store.get("Invoice", request.path_params["invoice_id"])
        if record is None:
            raise AdminError("no such invoice", 404)
        doc = {k: v for k, v in record.items() if k not in ("id", "business_id", "created_at", "modified_at")}
        doc["amount_paid"] = str(Decimal(doc.get("amount_paid", "0")) + Decimal(str(body["amount"])))
        with self.store.transaction():
            self.store.update("Invoice", record["id"], doc)
        return _json({"invoice_id": record["id"], "amount_paid": doc["amount_paid"]})
