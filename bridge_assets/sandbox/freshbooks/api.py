"""FreshBooks' wire: the token endpoint, `/auth/api/v1/users/me`, and the accounting resources.

    POST /auth/oauth/token                                         the kit's OAuth provider (single-use refresh)
    GET  /auth/api/v1/users/me                                     who the token speaks for, with the account id
    GET|POST        /accounting/account/{accountId}/{group}/{plural}
    GET|PUT|DELETE  /accounting/account/{accountId}/{group}/{plural}/{id}
    GET|POST        /events/account/{accountId}/events/callbacks, GET|PUT|DELETE .../{id}   (callbacks.py)

Lists take `page`, `per_page` (at most 100), `include[]=lines`, and `search[field]=v`,
`search[field][]=v`, `search[field_like]=v`, `search[updated_min|updated_max]=YYYY-MM-DD`
(US/Eastern), `search[vis_state]=1` for deleted documents.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge_assets.sandbox.freshbooks.callbacks import Callbacks
from bridge_assets.sandbox.freshbooks.rules import VIS_ACTIVE, Books, Refusal
from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.gate import hold_answer

RESOURCES = {("users", "clients"): "client", ("invoices", "invoices"): "invoice",
             ("credit_notes", "credit_notes"): "credit_note", ("payments", "payments"): "payment"}
MAX_PER_PAGE = 100


def respond(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(wire.dumps(payload), status_code=status, media_type="application/json", headers=headers)


def error_body(refusal: Refusal) -> Response:
    error = {"errno": refusal.errno, "field": refusal.field, "message": refusal.message, "object": refusal.obj,
             "value": None if refusal.value is None else str(refusal.value)}
    return respond({"response": {"errors": [error]}}, refusal.status)


def throttled() -> Response:
    return respond({"response": {"errors": [{"errno": 429, "field": None, "message": "Too many requests.",
                                             "object": None, "value": None}]}}, 429)


def unavailable() -> Response:
    return respond({"errno": 503, "message": "Service temporarily unavailable."}, 503)


def server_error() -> Response:
    return respond({"response": {"errors": [{"errno": 500, "field": None, "message": "FreshAlchemyUnexpected",
                                             "object": None, "value": None}]}}, 500)


class Api:
    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self.settings = parts.settings
        self.books = Books(parts.store, parts.settings.currency)
        self.callbacks = Callbacks(parts.store, parts.settings.business_id)

    def routes(self) -> list[Route]:
        base = "/accounting/account/{account}/{group}/{plural}"
        return [Route("/auth/oauth/token", self.parts.auth.token_endpoint, methods=["POST"]),
                Route("/auth/api/v1/users/me", self.me, methods=["GET"]),
                Route(base, self.collection, methods=["GET", "POST"]),
                Route(base + "/{doc_id}", self.member, methods=["GET", "PUT", "DELETE"]),
                Route("/events/account/{account}/events/callbacks", self.hooks, methods=["GET", "POST"]),
                Route("/events/account/{account}/events/callbacks/{doc_id}", self.hooks,
                      methods=["GET", "PUT", "DELETE"])]

    # --- the gate every call passes ------------------------------------------------------------------

    async def _gate(self, request: Request) -> tuple[Response | None, str | None]:
        """(an answer instead of the work, or None; the account the token is for)."""
        decision = self.parts.faults.decide(method=request.method, path=request.url.path)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.expire_tokens:
            self.parts.auth.expire()
        if decision.status:
            return self.parts.faults.rules.response(decision.status), None
        header = request.headers.get("authorization", "")
        grant = self.parts.auth.access(header[7:].strip()) if header[:7].lower() == "bearer " else None
        if grant is None or grant.state != "valid":
            reason = "expired" if grant is not None and grant.state == "expired" else "invalid"
            return respond({"errno": 401, "message": f"invalid_token: The access token is {reason}"}, 401), None
        account = grant.subject
        if self.parts.faults.take_throttle() or not self.parts.throttle.admit({"account": account}):
            return throttled(), None
        self.parts.throttle.release({"account": account})
        return None, account

    def _journal(self, request: Request, status: int, outcome: str, account: str | None) -> None:
        self.parts.store.journal_append(request.method, request.url.path, str(request.url.query), status, outcome,
                                        book=account)

    async def me(self, request: Request) -> Response:
        refused, account = await self._gate(request)
        if refused is not None:
            self._journal(request, refused.status_code, "refused", None)
            return refused
        self._journal(request, 200, "processed", account)
        return respond({"response": {"id": 1, "identity_id": 1, "first_name": "Bridge", "last_name": "Sandbox",
                                     "email": "bridge@example.invalid", "business_memberships": [
                                         {"role": "owner", "business": {"id": self.settings.business_id,
                                                                        "account_id": account,
                                                                        "name": "Bridge sandbox business"}}]}})

    async def collection(self, request: Request) -> Response:
        return await self._work(request, None)

    async def member(self, request: Request) -> Response:
        return await self._work(request, request.path_params["doc_id"])

    async def _work(self, request: Request, doc_id: str | None) -> Response:
        refused, account = await self._gate(request)
        if refused is not None:
            self._journal(request, refused.status_code, "refused", account)
            return refused
        try:
            answer = self._answer(request, account, doc_id, await request.body())
        except Refusal as refusal:
            answer = error_body(refusal)
        except ValueError:
            answer = error_body(Refusal(400, 1005, "The request body could not be parsed."))
        if await hold_answer(self.parts, request, answer,
                             lambda: self._journal(request, answer.status_code, "dropped:timeout", account)):
            return answer
        self._journal(request, answer.status_code, "processed" if answer.status_code < 400 else "refused", account)
        return answer

    def _answer(self, request: Request, account: str, doc_id: str | None, raw: bytes) -> Response:
        params = request.path_params
        if "group" not in params:
            return self._callbacks(request, account, doc_id, raw)
        kind = RESOURCES.get((params["group"], params["plural"]))
        if kind is None:
            raise Refusal(404, 404, "Requested resource could not be found.")
        if params["account"] != account:
            raise Refusal(403, 1003, "You do not have access to this account.", "accountId", "account",
                          params["account"])
        lines = "lines" in request.query_params.getlist("include[]")
        if request.method == "GET" and doc_id is None:
            return respond({"response": {"result": self._list(account, kind, request.query_params, lines)}})
        if request.method == "GET":
            row = self.books.existing(account, kind, doc_id, writable=False)
        else:
            body = wire.loads(raw) if raw.strip() else {}
            if request.method == "DELETE":
                if kind != "invoice":
                    raise Refusal(405, 1004, f"A {kind.replace('_', ' ')} is deleted with vis_state 1.")
                self.books.update(account, kind, doc_id, {"vis_state": 1})
            else:
                fields = body.get(kind) if isinstance(body, dict) else None
                if not isinstance(fields, dict):
                    raise Refusal(400, 1005, f"The body must be {{\"{kind}\": {{...}}}}.", kind)
                if request.method == "POST":
                    doc_id = self.books.create(account, kind, fields)
                else:
                    self.books.update(account, kind, doc_id, fields)
            row = self.parts.store.get(account, kind, doc_id)
            change = ("create" if request.method == "POST" else "delete" if row["state"] == "deleted" else "update")
            self.callbacks.notify(account, f"{kind}.{change}", row["id"])
        return respond({"response": {"result": {kind: self.books.render(account, kind, row, lines=lines)}}})

    async def hooks(self, request: Request) -> Response:
        return await self._work(request, request.path_params.get("doc_id"))

    def _callbacks(self, request: Request, account: str, doc_id: str | None, raw: bytes) -> Response:
        if request.path_params["account"] != account:
            raise Refusal(403, 1003, "You do not have access to this account.", "accountId", "account")
        body = wire.loads(raw) if raw.strip() else {}
        fields = body.get("callback") if isinstance(body, dict) else None
        if request.method == "POST":
            doc_id = self.callbacks.register(account, fields or {})
        elif request.method == "PUT":
            self.callbacks.change(account, doc_id, fields or {})
        elif request.method == "DELETE":
            self.callbacks.delete(account, doc_id)
            return respond({"response": {"result": {}}})
        elif doc_id is None:
            rows = [r for r in self.parts.store.rows(account, "callback") if r["state"] != "deleted"]
            return respond({"response": {"result": {"callbacks": [self.callbacks.render(r) for r in rows],
                                                    "page": 1, "pages": 1, "per_page": 100, "total": len(rows)}}})
        row = self.parts.store.get(account, "callback", doc_id)
        if row is None or row["state"] == "deleted":
            raise Refusal(404, 1012, "Callback not found.", "callbackid", "callback", doc_id)
        return respond({"response": {"result": {"callback": self.callbacks.render(row)}}})

    def _list(self, account: str, kind: str, query: Any, lines: bool) -> dict[str, Any]:
        rendered = [self.books.render(account, kind, row, lines=lines) for row in self.parts.store.rows(account, kind)]
        search: dict[str, list[str]] = {}
        for key, value in query.multi_items():
            if key.startswith("search[") and "]" in key:
                search.setdefault(key[7:key.index("]")], []).append(value)
        visible = str(search.pop("vis_state", [str(VIS_ACTIVE)])[0])
        chosen = [doc for doc in rendered if str(doc["vis_state"]) == visible and _matches(doc, search)]
        try:
            per_page = min(max(int(query.get("per_page") or 15), 1), MAX_PER_PAGE)
            page = max(int(query.get("page") or 1), 1)
        except ValueError:
            raise Refusal(400, 1014, "page and per_page must be numbers.") from None
        plural = next(p for (_, p), k in RESOURCES.items() if k == kind)
        pages = max(math.ceil(len(chosen) / per_page), 1)
        return {plural: chosen[(page - 1) * per_page: page * per_page], "page": page, "pages": pages,
                "per_page": per_page, "total": len(chosen)}


def _matches(doc: dict[str, Any], search: dict[str, list[str]]) -> bool:
    for key, values in search.items():
        if key == "updated_min":
            if doc["updated"][:10] < values[0]:
                return False
        elif key == "updated_max":
            if doc["updated"][:10] > values[0]:
                return False
        elif key.endswith("_like"):
            if values[0].lower() not in str(doc.get(key[:-5]) or "").lower():
                return False
        else:
            field = key if key in doc or not key.endswith("s") else key[:-1]   # `search[invoiceids][]=` lists
            if str(doc.get(field)) not in values:
                return False
    return True
