"""`/r1/v2/...`: the path every request takes, and the identity server's OAuth endpoints.

1. injected faults (latency, a 5xx/429 answered before anything is done);
2. the Azure APIM subscription key (`Ocp-Apim-Subscription-Key` header or `subscription-key` query): missing or
   unknown -> 401 in APIM's shape `{statusCode, message}`; its rate limit -> 429 with `Retry-After`;
3. the bearer token (kit OAuth provider) -> 401 `{code, message}`; a book the token was not granted -> 403;
4. the work, in one transaction; refusals as `ErrorResponse {code, message, errors: [{location, message}]}`;
5. the journal: method, path, status, outcome, book, who called (never a token or a key).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.reckon_one import rules
from bridge_assets.sandbox.reckon_one.rules import Refused

logger = logging.getLogger(__name__)
API = "/r1/v2"
TOKEN_PATH, AUTHORIZE_PATH = "/connect/token", "/connect/authorize"
Handler = Callable[[Request, str], Awaitable[Response]]


def answer(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = b"" if payload is None else wire.dumps(payload, ascii_only=False)
    return Response(content, status_code=status, media_type="application/json", headers=headers)


class ReckonApi:
    def __init__(self, parts: Parts) -> None:
        self.parts, self.store, self.settings, self.faults, self.oauth = (parts, parts.store, parts.settings,
                                                                          parts.faults, parts.auth)

    def routes(self) -> list[BaseRoute]:
        def route(path: str, handler: Handler, methods: list[str]) -> Route:
            async def endpoint(request: Request) -> Response:
                return await self.serve(request, handler)
            return Route(API + path, endpoint, methods=methods)

        return [Route(TOKEN_PATH, self.oauth.token_endpoint, methods=["POST"]),
                Route(AUTHORIZE_PATH, self.oauth.consent_endpoint(scope="write", subject_param="bookId",
                                                                  default_subject=""), methods=["GET"]),
                route("/{bookId}/customers", self.list_customers, ["GET"]),
                route("/{bookId}/customers", self.create_customer, ["POST"]),
                route("/{bookId}/invoices", self.list_invoices, ["GET"]),
                route("/{bookId}/invoices", self.create_invoice, ["POST"]),
                route("/{bookId}/invoices/{invoiceId}", self.read_invoice, ["GET"]),
                route("/{bookId}/invoices/{invoiceId}", self.replace_invoice, ["PUT"]),
                route("/{bookId}/invoices/{invoiceId}", self.delete_invoice, ["DELETE"])]

    async def serve(self, request: Request, handler: Handler) -> Response:
        book = request.path_params.get("bookId", "")
        decision = self.faults.decide(method=request.method, path=request.url.path)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.status:
            return self._journal(request, self.faults.rules.response(decision.status), "injected", book, "")
        await request.body()
        key = request.headers.get("ocp-apim-subscription-key") or request.query_params.get("subscription-key")
        if key not in self.settings.subscription_keys:
            return self._journal(request, answer({"statusCode": 401, "message": "Access denied due to missing "
                                 "subscription key. Make sure to include subscription key when making requests to an "
                                 "API."}, 401), "unauthorized", book, "")
        if self.faults.take_throttle() or not self.parts.throttle.admit({"key": key}):
            return self._journal(request, answer({"statusCode": 429, "message": "Rate limit is exceeded. Try again "
                                 "in 1 seconds."}, 429, {"Retry-After": "1"}), "throttled", book, "")
        try:
            header = request.headers.get("authorization", "")
            token = self.oauth.access(header[7:].strip()) if header[:7].lower() == "bearer " else None
            if token is None or token.state != "valid":
                raise Refused(401, "Authorization has been denied for this request.")
            principal = f"{token.client_id}#{token.serial}"
            if token.subject != book or self.store.get("Book", book) is None:
                raise Refused(403, f"The book {book} is not available to this user.")
            with self.store.transaction():
                response = await handler(request, book)
        except Refused as refused:
            return self._journal(request, answer(refused.body(), refused.status), "refused", book, "")
        except Exception:
            logger.exception("Reckon One emulator failed on %s %s", request.method, request.url.path)
            return self._journal(request, answer({"code": 500, "message": "An error has occurred."}, 500), "error",
                                 book, "")
        finally:
            self.parts.throttle.release({"key": key})
        return self._journal(request, response, "processed", book, principal)

    def _journal(self, request: Request, response: Response, outcome: str, book: str, principal: str) -> Response:
        self.store.journal_append(request.method, request.url.path, "", response.status_code, outcome, book=book,
                                  principal=principal)
        return response

    async def _json(self, request: Request) -> dict:
        try:
            body = wire.loads(await request.body() or b"null")
        except ValueError:
            raise Refused(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise Refused(400, "The request body must be a JSON object.")
        return body

    def _page(self, request: Request, records: list[dict]) -> Response:
        params = request.query_params
        try:
            page, per = int(params.get("page", 1)), int(params.get("perpage", 10))
        except ValueError:
            raise rules.invalid("page", "page and perpage must be whole numbers.") from None
        if page < 1 or not 1 <= per <= self.settings.max_perpage:
            raise rules.invalid("perpage", f"perpage must be between 1 and {self.settings.max_perpage}.")
        chosen = records[(page - 1) * per: page * per]
        return answer(chosen, headers={"X-Total-Count": str(len(records))})

    async def list_customers(self, request: Request, book: str) -> Response:
        clauses = rules.parse_filter(request.query_params.get("filter"))
        found = [{"id": c["id"], "name": c["name"], "reference": c.get("reference")}
                 for c in self.store.listed("Customer", book)]
        return self._page(request, [c for c in found if rules.matches(c, clauses)])

    async def create_customer(self, request: Request, book: str) -> Response:
        doc = rules.customer_input(self.store, book, await self._json(request))
        record = self.store.insert("Customer", book, doc, rules.new_id())
        return answer({"id": record["id"]}, 201)

    async def list_invoices(self, request: Request, book: str) -> Response:
        clauses = rules.parse_filter(request.query_params.get("filter"))
        found = [rules.render_invoice(self.store, r) for r in self.store.listed("Invoice", book)]
        return self._page(request, [i for i in found if rules.matches(i, clauses)])

    async def create_invoice(self, request: Request, book: str) -> Response:
        doc = rules.invoice_input(self.store, book, await self._json(request))
        doc.update(invoiceNumber=rules.next_number(self.store, book), status="Approved")
        record = self.store.insert("Invoice", book, doc, rules.new_id())
        return answer({"id": record["id"]}, 201)

    def _invoice(self, request: Request, book: str) -> dict:
        record = self.store.get("Invoice", request.path_params["invoiceId"], book)
        if record is None:
            raise Refused(404, "The invoice was not found.")
        return record

    async def read_invoice(self, request: Request, book: str) -> Response:
        return answer(rules.render_invoice(self.store, self._invoice(request, book)))

    async def replace_invoice(self, request: Request, book: str) -> Response:
        record = self._invoice(request, book)
        if record["status"] == "Paid":
            raise rules.invalid("status", "A paid invoice cannot be changed.")
        doc = rules.invoice_input(self.store, book, await self._json(request))
        doc.update(invoiceNumber=record["invoiceNumber"], status=record["status"])
        self.store.update("Invoice", record["id"], doc)
        return answer(None, 204)

    async def delete_invoice(self, request: Request, book: str) -> Response:
        record = self._invoice(request, book)
        if record["status"] != "Draft":
            raise Refused(400, "The invoice could not be deleted.")
        self.store.delete("Invoice", record["id"])
        return answer(None, 204)
