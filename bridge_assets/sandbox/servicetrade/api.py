"""The `/api/...` surface and the path every API request takes through it.

Order of events for one request:
1. injected faults (latency, then a 5xx/429 answered before anything is done), like a gateway;
2. authentication: bearer token or `PHPSESSID` session cookie (401 in the envelope);
3. the work, in one SQLite transaction;
4. the journal: method, path, query, status, outcome and who called (never a token or a password).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge_assets.sandbox.servicetrade import records, wire
from bridge_assets.sandbox.servicetrade.auth import SESSION_COOKIE, Principal
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.servicetrade.statuses import STATUSES
from bridge_assets.sandbox.servicetrade.webhooks import WebhookSender

logger = logging.getLogger(__name__)

API = "/api"
TOKEN_PATH = API + "/oauth2/token"
REVOKE_PATH = API + "/oauth2/revoke"

UNIX_FILTERS = {
    "createdAfter": "created_after", "createdBefore": "created_before",
    "updatedAfter": "updated_after", "updatedBefore": "updated_before",
    "transactionDateAfter": "transaction_date_after", "transactionDateBefore": "transaction_date_before",
}
Handler = Callable[[Request, "Principal | None"], Awaitable[Response]]


def api_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + API


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return wire.loads(raw or b"null")
    except ValueError:
        raise wire.invalid({"body": "The request body is not valid JSON"}) from None


class ServiceTradeApi:
    def __init__(self, parts: Parts, webhooks: WebhookSender | None = None) -> None:
        self.store, self.settings, self.auth, self.faults = parts.store, parts.settings, parts.auth, parts.faults
        self.webhooks = webhooks
        self.fields, self.transitions = self.settings.fields, self.settings.transitions

    def routes(self) -> list[BaseRoute]:
        def route(path: str, handler: Handler, methods: list[str], *, authenticated: bool = True) -> Route:
            async def endpoint(request: Request) -> Response:
                return await self.serve(request, handler, authenticated=authenticated)
            return Route(API + path, endpoint, methods=methods)

        return [
            route("/auth", self.login, ["POST"], authenticated=False),
            route("/auth", self.who_am_i, ["GET"]),
            route("/auth", self.logout, ["DELETE"]),
            route("/oauth2/token", self.token, ["POST"], authenticated=False),
            route("/oauth2/revoke", self.revoke, ["POST"], authenticated=False),
            route("/invoice", self.list_invoices, ["GET"]),
            route("/invoice/{invoice_id}", self.read_invoice, ["GET"]),
            route("/invoice/{invoice_id}", self.update_invoice, ["PUT"]),
            route("/comment", self.add_comment, ["POST"]),
            route("/comment", self.list_comments, ["GET"]),
            route("/{rest:path}", self.unknown, ["GET", "POST", "PUT", "DELETE", "PATCH"], authenticated=False),
        ]

    # --- the pipeline ----------------------------------------------------------------------------

    async def serve(self, request: Request, handler: Handler, *, authenticated: bool) -> Response:
        method, path = request.method, request.url.path
        decision = self.faults.decide(method=method, path=path)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.status:
            return self._answer(request, self.faults.rules.response(decision.status), "injected", "")
        # Read the body now: a handler must not suspend inside its transaction, or another request on
        # the same event loop (and thread, so the same re-entrant lock) would join that transaction.
        await request.body()
        principal: Principal | None = None
        try:
            if authenticated:
                try:
                    principal = self.auth.authenticate(request)
                except wire.ApiError as failure:
                    return self._answer(request, failure.response(), "unauthorized", "")
            with self.store.transaction():
                response = await handler(request, principal)
        except wire.ApiError as failure:
            return self._answer(request, failure.response(), "refused", principal.label if principal else "")
        except Exception:  # a bug in the emulator: answer like a server error, keep the traceback
            logger.exception("ServiceTrade emulator failed on %s %s", method, path)
            response = wire.ApiError(500, ["Internal server error"]).response()
            return self._answer(request, response, "error", principal.label if principal else "")
        outcome = "processed" if response.status_code < 400 else "refused"
        label = principal.label if principal else getattr(request.state, "principal_label", "")
        return self._answer(request, response, outcome, label)

    def _answer(self, request: Request, response: Response, outcome: str, principal: str) -> Response:
        self.store.journal_append(request.method, request.url.path, request.url.query, response.status_code,
                                  outcome, principal=principal)
        return response

    # --- auth --------------------------------------------------------------------------------------

    async def login(self, request: Request, principal: Principal | None) -> Response:
        token, data = self.auth.login(await json_body(request))
        request.state.principal_label = f"session:{data['user']['username']}#{data['sessionId']}"
        response = wire.envelope(data, success=["Authenticated"])
        response.set_cookie(SESSION_COOKIE, token, path="/", httponly=True, samesite="lax")
        return response

    async def who_am_i(self, request: Request, principal: Principal | None) -> Response:
        return wire.envelope({"authenticated": True, "kind": principal.kind, "user": {"username": principal.name}})

    async def logout(self, request: Request, principal: Principal | None) -> Response:
        self.auth.logout(principal)
        response = wire.envelope(None, success=["Logged out"])
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def token(self, request: Request, principal: Principal | None) -> Response:
        return await self.auth.token_endpoint(request)

    async def revoke(self, request: Request, principal: Principal | None) -> Response:
        return await self.auth.revoke_endpoint(request)

    async def unknown(self, request: Request, principal: Principal | None) -> Response:
        raise wire.not_found()

    # --- invoices ----------------------------------------------------------------------------------

    def _filters(self, request: Request) -> tuple[records.InvoiceFilter, int, int]:
        params = request.query_params
        problems: dict[str, str] = {}
        where = records.InvoiceFilter()
        if params.get("status"):
            statuses = [s.strip() for s in params["status"].split(",") if s.strip()]
            bad = [s for s in statuses if s not in STATUSES]
            if bad:
                problems["status"] = f"Invalid status {', '.join(bad)}; valid: {', '.join(STATUSES)}"
            where.statuses = statuses
        for name, attribute in UNIX_FILTERS.items():
            if params.get(name) not in (None, ""):
                try:
                    setattr(where, attribute, int(params[name]))
                except ValueError:
                    problems[name] = f"{name} must be a Unix timestamp in seconds"
        for name, attribute in (("customerId", "customer_id"), ("jobId", "job_id")):
            if params.get(name) not in (None, ""):
                try:
                    setattr(where, attribute, int(params[name]))
                except ValueError:
                    problems[name] = f"{name} must be an id"
        page = limit = 0
        try:
            page = int(params.get("page") or 1)
            if page < 1:
                raise ValueError
        except ValueError:
            problems["page"] = "page must be a whole number from 1"
        try:
            limit = int(params.get("limit") or self.settings.default_limit)
            if limit < 1:
                raise ValueError
        except ValueError:
            problems["limit"] = "limit must be a whole number from 1"
        if limit > self.settings.max_limit:
            if self.settings.limit_over_max == "refuse":
                problems["limit"] = f"limit may be at most {self.settings.max_limit}"
            limit = self.settings.max_limit
        if problems:
            raise wire.invalid(problems)
        return where, page, limit

    async def list_invoices(self, request: Request, principal: Principal | None) -> Response:
        where, page, limit = self._filters(request)
        found, total = records.list_invoices(self.store, where, page, limit)
        refs = records.References.load(self.store, found)
        base = api_url(request)
        invoices = [records.render_invoice(r, refs, self.fields, base, include_items=self.settings.list_includes_items,
                                           line_tax=self.settings.line_tax_amounts) for r in found]
        return wire.envelope({"totalPages": records.total_pages(total, limit), "page": page, "totalCount": total,
                              "invoices": invoices})

    def _invoice(self, request: Request) -> dict[str, Any]:
        record = records.get_invoice(self.store, request.path_params["invoice_id"])
        if record is None:
            raise wire.not_found()
        return record

    def _render_one(self, request: Request, record: dict[str, Any]) -> dict[str, Any]:
        refs = records.References.load(self.store, [record])
        return records.render_invoice(record, refs, self.fields, api_url(request), include_items=True,
                                      line_tax=self.settings.line_tax_amounts)

    async def read_invoice(self, request: Request, principal: Principal | None) -> Response:
        return wire.envelope(self._render_one(request, self._invoice(request)))

    async def update_invoice(self, request: Request, principal: Principal | None) -> Response:
        record = self._invoice(request)
        body = await json_body(request)
        changed = records.apply_api_update(self.store, record, body, self.transitions, time.time())
        if self.webhooks is not None and changed != record:
            self.webhooks.invoice_changed(api_url(request), changed["id"], "updated", record, changed)
        return wire.envelope(self._render_one(request, changed), success=["Invoice updated"])

    # --- comments ----------------------------------------------------------------------------------

    async def add_comment(self, request: Request, principal: Principal | None) -> Response:
        comment = records.add_comment(self.store, await json_body(request), principal.name, time.time())
        return wire.envelope(records.render_comment(comment, api_url(request)), success=["Comment created"])

    async def list_comments(self, request: Request, principal: Principal | None) -> Response:
        params = request.query_params
        problems = {}
        entity_type = params.get("entityType")
        if entity_type is not None and entity_type not in records.ENTITY_TYPES:
            problems["entityType"] = f"entityType must be one of {', '.join(records.ENTITY_TYPES)}"
        entity_id = None
        if params.get("entityId") not in (None, ""):
            try:
                entity_id = int(params["entityId"])
            except ValueError:
                problems["entityId"] = "entityId must be an id"
        if problems:
            raise wire.invalid(problems)
        comments = records.list_comments(self.store, entity_type, entity_id)
        base = api_url(request)
        return wire.envelope({"comments": [records.render_comment(c, base) for c in comments]})
