"""The Xero emulator's own control panel under `/_emulator/...` (the list is in the package docstring)."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bridge_assets.sandbox.kit.admin import AdminError, AdminPanel
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.oauth import OAuthError
from bridge_assets.sandbox.xero import oauth, webhooks, wire
from bridge_assets.sandbox.xero.books import RESOURCES


def _json(payload: Any, status: int = 200) -> Response:
    return Response(wire.dumps(payload), status, media_type=wire.JSON_MEDIA_TYPE)


class Admin:
    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.store, self.settings, self.faults, self.oauth = parts.store, parts.settings, parts.faults, parts.auth
        self.panel = AdminPanel(
            self.store, _json, wire.loads, self.faults,
            health=lambda: {"organisations": [o["tenant_id"] for o in self.store.organisations()]},
            settings_view=lambda: {**self.settings.to_mapping(), "webhook_key": "***" if self.settings.webhook_key
                                   else None, "clients": {k: "***" for k in self.settings.clients}},
            reset=self.reset, fault_scope="tenantId", refusals=(OAuthError,), oauth=self.oauth)

    def routes(self) -> list[BaseRoute]:
        return self.panel.routes([
            ("/organisations", self.create_organisation, ["POST"]),
            ("/organisations/{tenant_id}/lock-dates", self.set_lock_dates, ["POST"]),
            ("/organisations/{tenant_id}/{collection}", self.dump, ["GET"]),
            ("/custom-connections", self.custom_connection, ["POST"]),
            ("/oauth/authorization-code", self.authorization_code, ["POST"]),
            ("/oauth/tokens", self.tokens, ["POST"]),
            ("/oauth/expire", self.expire, ["POST"]),
            ("/webhooks/intent-to-receive", self.intent_to_receive, ["POST"]),
        ])

    def reset(self, body: dict[str, Any]) -> str:
        tenant_id = body.get("tenantId")
        self.store.forget(tenant_id)
        if tenant_id is None:
            self.oauth.reset(clients=False)
            self.parts.throttle.reset()
            self.faults.restore_initial()
        else:
            self.faults.clear(tenant_id)
        return tenant_id or "all"

    def _organisation(self, tenant_id: str) -> dict[str, Any]:
        found = self.store.organisation(tenant_id)
        if found is None:
            raise AdminError(f"no organisation {tenant_id}; create it with POST /_emulator/organisations", 404)
        return found

    async def create_organisation(self, request: Request) -> Response:
        body = await self.panel.body(request)
        tenant_id = str(body.get("tenantId") or uuid.uuid4())
        self.store.ensure_organisation(tenant_id, str(body.get("name") or self.settings.organisation_name))
        for client_id in body.get("connect") or []:      # apps connected to it (custom connections)
            self.store.connect(str(client_id), tenant_id, str(uuid.uuid4()))
        return _json({"tenantId": tenant_id})

    async def set_lock_dates(self, request: Request) -> Response:
        """What a person sets in Advanced settings > Financial settings: {"PeriodLockDate", "EndOfYearLockDate"}."""
        tenant_id = request.path_params["tenant_id"]
        org = self._organisation(tenant_id)
        body = await self.panel.body(request)
        dates = {}
        for field, column in (("PeriodLockDate", "period_lock_date"), ("EndOfYearLockDate", "end_of_year_lock_date")):
            value = body.get(field, org[column]) if field in body else org[column]
            dates[field] = dt.date.fromisoformat(value).isoformat() if value else None
        self.store.set_lock_dates(tenant_id, dates["PeriodLockDate"], dates["EndOfYearLockDate"])
        return _json(dates)

    async def dump(self, request: Request) -> Response:
        """Every object of a collection, voided and deleted included, without token or throttle."""
        tenant_id, collection = request.path_params["tenant_id"], request.path_params["collection"]
        self._organisation(tenant_id)
        if collection == "journal":
            return _json({"journal": self.store.journal_rows("tenant_id", tenant_id)})
        resource = RESOURCES.get(collection)
        if resource is None:
            raise AdminError(f"no collection {collection}; one of {sorted(RESOURCES)} or journal", 404)
        return _json({collection: wire.render(self.store.all(tenant_id, resource.entity))})

    async def custom_connection(self, request: Request) -> Response:
        body = await self.panel.body(request)
        self._organisation(str(body["tenantId"]))
        self.oauth.check_client(str(body["client_id"]))
        self.store.connect(str(body["client_id"]), str(body["tenantId"]), str(uuid.uuid4()))
        return _json({"client_id": body["client_id"], "tenantId": body["tenantId"]})

    async def authorization_code(self, request: Request) -> Response:
        """A consent without a browser: {"tenantId"?, "client_id"?, "redirect_uri"?} -> {"code"}."""
        body = await self.panel.body(request)
        tenant_id = str(body.get("tenantId") or self.settings.default_tenant_id)
        oauth.connect_consenting(self.store, self.settings, tenant_id)
        code = self.oauth.mint_authorization_code(tenant_id, str(body.get("client_id") or
                                                                 self.oauth.default_client_id()),
                                                  body.get("redirect_uri"))
        return _json({"code": code})

    async def tokens(self, request: Request) -> Response:
        """A fresh token pair for an organisation, as if its user had just consented."""
        body = await self.panel.body(request)
        tenant_id = str(body.get("tenantId") or self.settings.default_tenant_id)
        oauth.connect_consenting(self.store, self.settings, tenant_id)
        client_id = str(body.get("client_id") or self.oauth.default_client_id())
        self.oauth.check_client(client_id)
        return _json(self.oauth.mint_tokens(tenant_id, client_id))

    async def expire(self, request: Request) -> Response:
        body = await self.panel.body(request)
        kinds = tuple(body.get("kinds") or ("access",))
        return _json({"expired": self.oauth.expire(kinds, subject=body.get("tenantId"))})

    async def intent_to_receive(self, request: Request) -> Response:
        body = await self.panel.body(request)
        url = body.get("url") or self.settings.webhook_url
        key = self.settings.webhook_key or os.environ.get(webhooks.WEBHOOK_KEY_ENV, "")
        if not url or not key:
            raise AdminError("intent to receive needs a webhook URL (body `url` or settings) and a webhook key")
        return _json(webhooks.intent_to_receive(str(url), key))
