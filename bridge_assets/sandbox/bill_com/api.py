"""`/connect/v3/...`: the path every request takes.

1. injected faults (latency, a 5xx/429 answered before anything is done);
2. the `devKey` header (BDC_1102, 401); then, except for `POST /login`, the `sessionId` header: unknown or idle
   longer than 35 minutes (scaled) -> BDC_1109, 401; every call resets the idle timer;
3. the limits: requests an hour per devKey (BDC_1144), logins an hour, requests at once per devKey and
   organization (BDC_1322), all 429 (u: status);
4. the work, in one transaction; refusals as BILL's error array;
5. the journal: method, path, status, outcome, organization, error code (never a password, key or session).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.bill_com import rules
from bridge_assets.sandbox.bill_com.rules import Refused

logger = logging.getLogger(__name__)
API = "/connect/v3"
Handler = Callable[[Request, str], Awaitable[Response]]


def answer(payload: Any, status: int = 200) -> Response:
    return Response(wire.dumps(payload, ascii_only=False), status_code=status, media_type="application/json")


class BillApi:
    def __init__(self, parts: Parts) -> None:
        self.parts, self.store, self.settings, self.faults = parts, parts.store, parts.settings, parts.faults

    def routes(self) -> list[BaseRoute]:
        def route(path: str, handler: Handler, methods: list[str], session: bool = True) -> Route:
            async def endpoint(request: Request) -> Response:
                return await self.serve(request, handler, session)
            return Route(API + path, endpoint, methods=methods)

        return [route("/login", self.login, ["POST"], session=False), route("/logout", self.logout, ["POST"]),
                route("/customers", self.list_customers, ["GET"]), route("/customers", self.create_customer, ["POST"]),
                route("/invoices", self.list_invoices, ["GET"]), route("/invoices", self.create_invoice, ["POST"]),
                route("/invoices/{invoiceId}", self.read_invoice, ["GET"]),
                route("/invoices/{invoiceId}", self.patch_invoice, ["PATCH"]),
                route("/invoices/{invoiceId}/archive", self.archive, ["POST"]),
                route("/invoices/{invoiceId}/restore", self.restore, ["POST"])]

    async def serve(self, request: Request, handler: Handler, session: bool) -> Response:
        decision = self.faults.decide(method=request.method, path=request.url.path)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.status:
            return self._journal(request, self.faults.rules.response(decision.status), "injected", "", "")
        await request.body()
        key, org, admitted = request.headers.get("devkey", ""), "", None
        try:
            if key not in self.settings.dev_keys:
                raise Refused(401, "BDC_1102", "Developer key is invalid.", "AUTHENTICATION")
            org = self._session(request) if session else ""
            kinds = () if session else ("login",)
            caller = {"key": key, "slot": (key, org)}
            if self.faults.take_throttle() or not self.parts.throttle.admit(caller, kinds):
                raise (Refused(429, "BDC_1322", "Max number of concurrent requests per organization reached.",
                               "DOWNSTREAM") if self._full(caller) else
                       Refused(429, "BDC_1144", "Max number of allowed requests per hour reached: "
                               f"{self.settings.requests_per_hour}.", "DOWNSTREAM"))
            admitted = caller
            with self.store.transaction():
                response = await handler(request, org)
        except Refused as refused:
            return self._journal(request, answer(refused.body(), refused.status), "refused", org, refused.code)
        except Exception:
            logger.exception("BILL emulator failed on %s %s", request.method, request.url.path)
            return self._journal(request, answer(Refused(500, "BDC_1001", "Unexpected error.", "SERVER").body(), 500),
                                 "error", org, "BDC_1001")
        finally:
            if admitted is not None:
                self.parts.throttle.release(admitted)
        return self._journal(request, response, "processed", org, "")

    def _full(self, caller: dict) -> bool:
        return self.parts.throttle.in_flight.get(caller["slot"], 0) >= self.settings.concurrent_per_org

    def _session(self, request: Request) -> str:
        record = self.store.get("Session", request.headers.get("sessionid", ""))
        now = time.time()
        if record is None or now - record["last_used"] > self.settings.real_seconds(self.settings.session_idle_s):
            raise Refused(401, "BDC_1109", "Session is invalid. Please log in.", "AUTHENTICATION")
        self.store.update("Session", record["id"], {"organizationId": record["organizationId"], "last_used": now})
        return record["organizationId"]

    def _journal(self, request: Request, response: Response, outcome: str, org: str, code: str) -> Response:
        self.store.journal_append(request.method, request.url.path, "", response.status_code, outcome,
                                  organization=org, code=code)
        return response

    async def _json(self, request: Request) -> dict:
        try:
            body = wire.loads(await request.body() or b"null")
        except ValueError:
            raise rules.invalid("The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise rules.invalid("The request body must be a JSON object")
        return body

    async def login(self, request: Request, _: str) -> Response:
        body = await self._json(request)
        org = self.store.get("Organization", str(body.get("organizationId") or ""))
        users = (org or {}).get("users") or {}
        if body.get("devKey") != request.headers.get("devkey") or users.get(body.get("username")) != body.get("password"):
            raise Refused(401, "BDC_1101", "User name and/or password do not match our records.", "AUTHENTICATION")
        session = secrets.token_urlsafe(24)
        self.store.insert("Session", org["id"], {"organizationId": org["id"], "last_used": time.time()}, session)
        return answer({"sessionId": session, "organizationId": org["id"], "userId": "006" + org["id"][3:]})

    async def logout(self, request: Request, org: str) -> Response:
        self.store.delete("Session", request.headers.get("sessionid", ""))
        return answer({})

    def _page(self, request: Request, records: list[dict]) -> Response:
        try:
            size, page = int(request.query_params.get("max", 20)), int(request.query_params.get("page") or 0)
        except ValueError:
            raise rules.invalid("max and page must be whole numbers") from None
        if not 1 <= size <= self.settings.max_page or page < 0:
            raise rules.invalid(f"max must be between 1 and {self.settings.max_page}")
        chosen = records[page * size:(page + 1) * size]
        more = (page + 1) * size < len(records)
        return answer({"results": chosen, "nextPage": str(page + 1) if more else None,
                       "prevPage": str(page - 1) if page else None})

    async def list_customers(self, request: Request, org: str) -> Response:
        filters = rules.parse_filters(request.query_params.get("filters"))
        found = [{"id": c["id"], "name": c["name"], "accountNumber": c.get("accountNumber")}
                 for c in self.store.listed("Customer", org)]
        return self._page(request, [c for c in found if rules.matches(c, filters)])

    async def create_customer(self, request: Request, org: str) -> Response:
        record = self.store.insert("Customer", org, rules.customer_input(await self._json(request)), rules.new_id("0cu"))
        return answer({"id": record["id"], "name": record["name"], "accountNumber": record.get("accountNumber")})

    async def list_invoices(self, request: Request, org: str) -> Response:
        filters = rules.parse_filters(request.query_params.get("filters"))
        found = [rules.render_invoice(self.store, r) for r in self.store.listed("Invoice", org)]
        return self._page(request, [i for i in found if rules.matches(i, filters)])

    async def create_invoice(self, request: Request, org: str) -> Response:
        doc = rules.invoice_input(self.store, org, await self._json(request))
        return answer(rules.render_invoice(self.store, self.store.insert("Invoice", org, doc, rules.new_id("00e"))))

    def _invoice(self, request: Request, org: str) -> dict:
        record = self.store.get("Invoice", request.path_params["invoiceId"], org)
        if record is None:
            raise Refused(404, "BDC_1121", "Invoice not found.", "NOT_FOUND")
        return record

    async def read_invoice(self, request: Request, org: str) -> Response:
        return answer(rules.render_invoice(self.store, self._invoice(request, org)))

    async def patch_invoice(self, request: Request, org: str) -> Response:
        record = self._invoice(request, org)
        if record["archived"]:
            raise rules.invalid("An archived invoice cannot be changed; restore it first")
        held = {k: v for k, v in record.items() if k not in ("id", "business_id", "created_at", "modified_at")}
        doc = rules.invoice_input(self.store, org, await self._json(request), held)
        return answer(rules.render_invoice(self.store, self.store.update("Invoice", record["id"], doc)))

    async def _set_archived(self, request: Request, org: str, archived: bool) -> Response:
        record = self._invoice(request, org)
        if record["archived"] != archived:              # archiving an archived invoice changes nothing
            held = {k: v for k, v in record.items() if k not in ("id", "business_id", "created_at", "modified_at")}
            record = self.store.update("Invoice", record["id"], {**held, "archived": archived})
        return answer(rules.render_invoice(self.store, record))

    async def archive(self, request: Request, org: str) -> Response:
        return await self._set_archived(request, org, True)

    async def restore(self, request: Request, org: str) -> Response:
        return await self._set_archived(request, org, False)
