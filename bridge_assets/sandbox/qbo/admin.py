"""The emulator's own control panel under `/_emulator/...`: set-up, fault injection, inspection.

No authentication (the emulator listens on loopback) and no throttling: these calls stand for what a
person does in the QuickBooks UI or what a test needs to see, not for API traffic. The endpoint list
is in the package docstring (`bridge_assets/sandbox/qbo/__init__.py`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bridge_assets.sandbox.kit.admin import AdminError, AdminPanel
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.limits import RateLimiter
from bridge_assets.sandbox.kit.serving import ADMIN_PREFIX as PREFIX
from bridge_assets.sandbox.qbo import company, lists, wire
from bridge_assets.sandbox.qbo.books import Books
from bridge_assets.sandbox.qbo.oauth import OAuthError, OAuthServer

DUMPABLE = ("Invoice", "CreditMemo", "Payment", "Customer", "Item", "Account", "Preferences", "CompanyInfo",
            *lists.READABLE)
ENTERED_BY_HAND = tuple(e for e in lists.READABLE if e not in lists.WRITABLE)


def _json(payload: Any, status: int = 200) -> Response:
    return wire.json_response(payload, status_code=status)


class Admin:
    def __init__(self, parts: Parts) -> None:
        self.store, self.settings, self.faults = parts.store, parts.settings, parts.faults
        self.oauth: OAuthServer = parts.auth
        self.throttle: RateLimiter = parts.throttle
        self.panel = AdminPanel(
            self.store, _json, wire.loads, self.faults, health=lambda: {"companies": self.store.realm_ids()},
            settings_view=self.settings.to_mapping, reset=self.reset, fault_scope="realmId", journal=False,
            refusals=(OAuthError,), oauth=self.oauth)

    def routes(self) -> list[BaseRoute]:
        return self.panel.routes([
            ("/companies", self.list_companies, ["GET"]),
            ("/companies", self.create_company, ["POST"]),
            ("/companies/{realm_id}/config", self.configure_company, ["POST"]),
            ("/companies/{realm_id}/preferences", self.change_preferences, ["POST"]),
            ("/companies/{realm_id}/book-close-date", self.set_book_close_date, ["POST"]),
            ("/companies/{realm_id}/entities/{entity}", self.dump_entity, ["GET"]),
            ("/companies/{realm_id}/entities/{entity}", self.enter_by_hand, ["POST"]),
            ("/companies/{realm_id}/journal", self.journal, ["GET"]),
            ("/oauth/authorization-code", self.mint_authorization_code, ["POST"]),
            ("/oauth/tokens", self.mint_tokens, ["POST"]),
            ("/oauth/expire", self.expire_access_tokens, ["POST"]),
        ])

    async def _body(self, request: Request) -> dict[str, Any]:
        return await self.panel.body(request)

    def _company(self, realm_id: str) -> dict[str, Any]:
        config = self.store.company_config(realm_id)
        if config is None:
            raise AdminError(f"no company {realm_id}; create it with POST {PREFIX}/companies")
        return config

    def ensure_company(self, realm_id: str, **options: Any) -> dict[str, Any]:
        return company.ensure_company(self.store, self.settings, realm_id, **options)

    def reset(self, body: dict[str, Any]) -> str:
        """Forget everything (tokens too), or one company's books and requestids (its tokens stay valid)."""
        realm_id = body.get("realmId")
        self.store.reset(realm_id)
        if realm_id is None:
            self.oauth.reset(clients=False)
            self.throttle.reset()
            self.faults.restore_initial()  # back to the plan the emulator was started with
            if self.settings.create_default_company:
                self.ensure_company(self.settings.default_realm_id)
        else:
            self.faults.clear(realm_id)
            self.ensure_company(realm_id)
        return realm_id or "all"

    # --- endpoints -------------------------------------------------------------------------------

    async def list_companies(self, request: Request) -> Response:
        return _json({"companies": [{"realmId": r, "config": self.store.company_config(r)}
                                    for r in self.store.realm_ids()]})

    async def create_company(self, request: Request) -> Response:
        body = await self._body(request)
        realm_id = str(body.get("realmId") or f"93414{secrets.randbelow(10 ** 11):011d}")
        overrides = {k: body[k] for k in ("sales_tax_rate", "warn_duplicate_doc_number") if k in body}
        if "sales_tax_rate" in overrides:
            overrides["sales_tax_rate"] = str(overrides["sales_tax_rate"])
        config = self.ensure_company(realm_id, company_name=body.get("CompanyName"), config_overrides=overrides,
                                     preferences=body.get("Preferences"))
        return _json({"realmId": realm_id, "config": config})

    async def configure_company(self, request: Request) -> Response:
        realm_id = request.path_params["realm_id"]
        config = self._company(realm_id)
        body = await self._body(request)
        unknown = sorted(set(body) - {"sales_tax_rate", "warn_duplicate_doc_number", "CompanyName"})
        if unknown:
            raise AdminError(f"unknown company settings {unknown}")
        if "sales_tax_rate" in body:
            body["sales_tax_rate"] = str(body["sales_tax_rate"])
        config.update(body)
        self.store.put_company_config(realm_id, config)
        return _json({"realmId": realm_id, "config": config})

    async def change_preferences(self, request: Request) -> Response:
        realm_id = request.path_params["realm_id"]
        self._company(realm_id)
        changes = await self._body(request)
        with self.store.transaction():
            preferences = Books(self.store, self.settings, realm_id).change_preferences_as_bookkeeper(changes)
        return _json({"Preferences": preferences})

    async def set_book_close_date(self, request: Request) -> Response:
        realm_id = request.path_params["realm_id"]
        self._company(realm_id)
        body = await self._body(request)
        if "BookCloseDate" not in body:
            raise AdminError('send {"BookCloseDate": "YYYY-MM-DD"} or {"BookCloseDate": null} to reopen')
        close = body["BookCloseDate"]
        if close is not None:
            close = dt.date.fromisoformat(str(close)).isoformat()
        with self.store.transaction():
            preferences = Books(self.store, self.settings, realm_id).change_preferences_as_bookkeeper(
                {"AccountingInfoPrefs": {"BookCloseDate": close}})
        return _json({"Preferences": preferences})

    async def dump_entity(self, request: Request) -> Response:
        realm_id = request.path_params["realm_id"]
        self._company(realm_id)
        entity = next((e for e in DUMPABLE if e.lower() == request.path_params["entity"].lower()), None)
        if entity is None:
            raise AdminError(f"unknown entity {request.path_params['entity']}; known: {list(DUMPABLE)}")
        books = Books(self.store, self.settings, realm_id)
        rows = self.store.all(realm_id, entity, include_deleted=True)
        balances = books.customer_balances() if entity == "Customer" else None
        return _json({
            entity: [books.present(row, balances) for row in rows if not row.deleted],
            "Deleted": [row.doc for row in rows if row.deleted],
        })

    async def enter_by_hand(self, request: Request) -> Response:
        """What a person enters in the QuickBooks UI that the API here does not write (lists.py): an
        Estimate, a SalesReceipt, a Term, a TaxCode or TaxRate. Stored as sent, with Id, SyncToken, MetaData."""
        realm_id = request.path_params["realm_id"]
        self._company(realm_id)
        entity = next((e for e in ENTERED_BY_HAND if e.lower() == request.path_params["entity"].lower()), None)
        if entity is None:
            raise AdminError(f"{request.path_params['entity']} is written through the API; by hand: {list(ENTERED_BY_HAND)}")
        body = await self._body(request)
        books = Books(self.store, self.settings, realm_id)
        with self.store.transaction():
            row = books._commit(entity, {k: v for k, v in body.items() if k not in ("Id", "SyncToken", "MetaData")},
                                {}, None, time.time())
        return _json({entity: row.doc})

    async def journal(self, request: Request) -> Response:
        realm_id = request.path_params["realm_id"]
        return _json({"journal": self.store.journal(realm_id)})

    async def mint_authorization_code(self, request: Request) -> Response:
        body = await self._body(request)
        realm_id = str(body.get("realmId") or self.settings.default_realm_id)
        self.ensure_company(realm_id)
        client_id = str(body.get("client_id") or self.oauth.default_client_id())
        code = self.oauth.mint_authorization_code(realm_id, client_id, body.get("redirect_uri"))
        return _json({"code": code, "realmId": realm_id, "client_id": client_id})

    async def mint_tokens(self, request: Request) -> Response:
        body = await self._body(request)
        realm_id = str(body.get("realmId") or self.settings.default_realm_id)
        self.ensure_company(realm_id)
        client_id = str(body.get("client_id") or self.oauth.default_client_id())
        return _json({**self.oauth.mint_tokens(realm_id, client_id), "realmId": realm_id, "client_id": client_id})

    async def expire_access_tokens(self, request: Request) -> Response:
        body = await self._body(request)
        expired = self.oauth.expire_access_tokens(body.get("realmId"), body.get("access_token"))
        return _json({"expired": expired})
