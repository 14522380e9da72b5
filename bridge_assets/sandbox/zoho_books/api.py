"""Zoho Books' wire (`/books/v3`, `organization_id` on every call) and its accounts server's token endpoint.

    POST /oauth/v2/token                                  refresh_token | authorization_code, client in the form
    GET  /books/v3/organizations
    GET|POST /books/v3/contacts | /items                  (?contact_name= | ?name=)
    GET|POST|PUT /books/v3/invoices                       PUT: the unique-field upsert (X-Unique-Identifier-*)
    GET|PUT|DELETE /books/v3/invoices/{id}                POST .../status/sent|void|draft
    GET|POST /books/v3/creditnotes, GET|PUT|DELETE .../{id}, POST .../status/void|open, POST .../{id}/invoices
    GET|POST /books/v3/customerpayments, GET|DELETE .../{id}
    GET  /books/v3/settings/transactionlock
Lists: `page`, `per_page` (<= 200), exact filters on the number fields, `customer_id`, `status`,
`last_modified_time` (at or after); `page_context.has_more_page`.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from typing import Any, Callable
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.gate import Gate
from bridge_assets.sandbox.zoho_books.rules import NUMBER_FIELD, Books, Refusal, cents, own_id, wire_id

KINDS = {"contacts": "contact", "items": "item", "invoices": "invoice", "creditnotes": "creditnote",
         "customerpayments": "payment"}
SINGULAR = {"contact": "contact", "item": "item", "invoice": "invoice", "creditnote": "creditnote",
            "payment": "payment"}
FILTERS = ("invoice_number", "creditnote_number", "reference_number", "contact_name", "name", "customer_id", "status")
UPSERT_KINDS = ("invoice", "contact", "item")


def respond(payload: Any, status: int = 200) -> Response:
    return Response(wire.dumps(payload, whole_as_int=False), status_code=status, media_type="application/json")


def failure(code: int, message: str, status: int = 400) -> Response:
    return respond({"code": code, "message": message}, status)


def throttled() -> Response:
    return failure(44, "Rate Limit Exceeded (API usage limit exceeded)", 429)


def stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


class Api:
    def __init__(self, parts: Parts) -> None:
        self.parts, self.settings, self.books = parts, parts.settings, Books(parts.store)
        self.gate = Gate(parts, token_of=self._token, denied=self._denied, throttled=throttled,
                         caller=lambda grant, request: {"org": grant.subject}, book=lambda caller: caller["org"])
        self._minted: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._minted.clear()

    def routes(self) -> list[Route]:
        base = "/books/v3"
        return [Route("/oauth/v2/token", self.token, methods=["POST"]),
                Route(f"{base}/organizations", self.organizations, methods=["GET"]),
                Route(f"{base}/settings/transactionlock", self.lock, methods=["GET"]),
                Route(base + "/{plural}", self.collection, methods=["GET", "POST", "PUT"]),
                Route(base + "/{plural}/{doc_id}", self.member, methods=["GET", "PUT", "DELETE"]),
                Route(base + "/{plural}/{doc_id}/status/{status}", self.status, methods=["POST"]),
                Route(base + "/creditnotes/{doc_id}/invoices", self.apply_credit, methods=["POST"])]

    @staticmethod
    def _token(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return header[16:].strip() if header.lower().startswith("zoho-oauthtoken ") else None

    @staticmethod
    def _denied(why: str) -> Response:
        return failure(57, "You are not authorized to perform this operation" if why == "missing"
                       else "Invalid OAuth token", 401)

    async def token(self, request: Request) -> Response:
        """The kit's provider, after Zoho's cap: a refresh token mints at most N access tokens per 10 minutes."""
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if form.get("grant_type") == "refresh_token":
            window = self.settings.real_seconds(600)
            with self._lock:
                minted = self._minted[form.get("refresh_token", "")]
                while minted and minted[0] <= time.monotonic() - window:
                    minted.popleft()
                if len(minted) >= self.settings.access_tokens_per_window:
                    return respond({"error": "Access Denied", "error_description": "You have made too many requests "
                                    "continuously. Please try again after some time."}, 400)
                minted.append(time.monotonic())
        return await self.parts.auth.token_endpoint(request)

    # --- the calls ------------------------------------------------------------------------------------

    def _scoped(self, request: Request, work: Callable[[str, dict[str, Any]], Any]):
        def run(grant: Any, caller: Any, raw: bytes) -> Response:
            org = request.query_params.get("organization_id")
            if not org:
                return failure(6041, "organization_id is required")
            if org != grant.subject:
                return failure(6024, "You are not authorized to access this organization", 401)
            try:
                body = wire.loads(raw) if raw.strip() else {}
                return respond({"code": 0, "message": "success", **work(org, body if isinstance(body, dict) else {})})
            except Refusal as refusal:
                return failure(refusal.code, refusal.message, refusal.status)
            except ValueError:
                return failure(2, "The request body is not valid JSON")
        return self.gate.run(request, run)

    async def organizations(self, request: Request) -> Response:
        return await self.gate.run(request, lambda grant, caller, raw: respond({"code": 0, "organizations": [
            {"organization_id": grant.subject, "name": "Bridge sandbox organization", "currency_code": "USD"}]}))

    async def lock(self, request: Request) -> Response:
        def work(org: str, body: dict) -> dict:
            day = self.parts.store.lock_date(org)
            return {"transaction_lock": {"transaction_lock_status": "enabled" if day else "disabled",
                                         "transaction_lock_date": day or "", "lock_scope": 0}}
        return await self._scoped(request, work)

    def _kind(self, request: Request) -> str:
        kind = KINDS.get(request.path_params["plural"])
        if kind is None:
            raise Refusal(404, 5, "Invalid URL Passed")
        return kind

    async def collection(self, request: Request) -> Response:
        def work(org: str, body: dict) -> dict:
            kind = self._kind(request)
            if request.method == "GET":
                return self._list(org, kind, request.query_params)
            if request.method == "PUT":
                return self._upsert(org, kind, request, body)
            mandate = request.query_params.get("ignore_auto_number_generation") == "true"
            if kind == "contact":
                doc_id = self.books.create_contact(org, body)
            elif kind == "item":
                doc_id = self.books.create_item(org, body)
            elif kind == "payment":
                doc_id = self.books.pay(org, body)
            else:
                doc_id = self.books.save(org, kind, body, None, mandate, None)
            return {SINGULAR[kind]: self.render(org, kind, self.parts.store.get(org, kind, doc_id))}
        return await self._scoped(request, work)

    def _upsert(self, org: str, kind: str, request: Request, body: dict) -> dict:
        field, value = request.headers.get("x-unique-identifier-key"), request.headers.get("x-unique-identifier-value")
        if kind not in UPSERT_KINDS or kind != "invoice":
            raise Refusal(400, 4, "Upsert by a unique custom field is not available here.")
        if field != self.settings.unique_field or not value:
            raise Refusal(400, 4, f"X-Unique-Identifier-Key must name a unique custom field ({self.settings.unique_field})"
                                  " and X-Unique-Identifier-Value its value")
        current = self.books.by_unique_field(org, kind, field, value)
        if current is None and request.headers.get("x-upsert", "").lower() != "true":
            raise Refusal(404, 1002, "Invoice does not exist.")
        mandate = request.query_params.get("ignore_auto_number_generation") == "true"
        doc_id = self.books.save(org, kind, body, current, mandate, (field, value))
        return {"invoice": self.render(org, kind, self.parts.store.get(org, kind, doc_id))}

    async def member(self, request: Request) -> Response:
        def work(org: str, body: dict) -> dict:
            kind = self._kind(request)
            row = self.books.get(org, kind, request.path_params["doc_id"], kind.capitalize())
            if request.method == "DELETE":
                if kind == "payment":
                    self.books.unpay(org, row)
                elif kind in NUMBER_FIELD:
                    self.books.delete(org, kind, row)
                else:
                    raise Refusal(405, 37, "Method not allowed")
                return {}
            if request.method == "PUT":
                if kind not in NUMBER_FIELD:
                    raise Refusal(405, 37, "Method not allowed")
                self.books.save(org, kind, body, row, False, None)
            return {SINGULAR[kind]: self.render(org, kind, self.parts.store.get(org, kind, row["id"]))}
        return await self._scoped(request, work)

    async def status(self, request: Request) -> Response:
        def work(org: str, body: dict) -> dict:
            kind = self._kind(request)
            if kind not in NUMBER_FIELD:
                raise Refusal(404, 5, "Invalid URL Passed")
            row = self.books.get(org, kind, request.path_params["doc_id"], kind.capitalize())
            self.books.set_status(org, kind, row, request.path_params["status"])
            return {}
        return await self._scoped(request, work)

    async def apply_credit(self, request: Request) -> Response:
        def work(org: str, body: dict) -> dict:
            credit = self.books.get(org, "creditnote", request.path_params["doc_id"], "Credit note")
            self.books.apply_credit(org, credit, body.get("invoices") or [])
            return {"apply_to_invoices": {"invoices": body.get("invoices") or []}}
        return await self._scoped(request, work)

    # --- reading ------------------------------------------------------------------------------------

    def _list(self, org: str, kind: str, query: Any) -> dict:
        rows = [row for row in self.parts.store.rows(org, kind) if row["state"] != "deleted"]
        rendered = [self.render(org, kind, row) for row in rows]
        since = query.get("last_modified_time")
        chosen = [doc for doc in rendered
                  if all(str(doc.get(f)) == query[f] for f in FILTERS if f in query)
                  and (not since or doc["last_modified_time"] >= since)]
        per_page = min(max(int(query.get("per_page") or 200), 1), 200)
        page = max(int(query.get("page") or 1), 1)
        plural = next(p for p, k in KINDS.items() if k == kind)
        return {plural: chosen[(page - 1) * per_page: page * per_page],
                "page_context": {"page": page, "per_page": per_page, "has_more_page": page * per_page < len(chosen)}}

    def render(self, org: str, kind: str, row: dict[str, Any]) -> dict[str, Any]:
        body, id_field = dict(row["body"]), ("payment" if kind == "payment" else kind) + "_id"
        out = {id_field: wire_id(row["id"]), "last_modified_time": stamp(row["updated_at"])}
        if kind in ("contact", "item"):
            return {**out, **body}
        customer = self.parts.store.get(org, "contact", own_id(body["customer_id"]))
        out["customer_name"] = customer["body"]["contact_name"] if customer else ""
        if kind == "payment":
            return {**out, **body, "unused_amount": body["amount"] - sum(
                (a["amount_applied"] for a in body["invoices"]), 0)}
        total = cents(body["sub_total"] + body.get("adjustment", 0))
        custom = [{"api_name": k, "value": v} for k, v in body.pop("custom_fields").items()]
        status = body["status"]
        if kind == "invoice" and status == "sent" and body["applied"] > 0:
            status = "paid" if body["applied"] >= total else "partially_paid"
        return {**out, **{k: v for k, v in body.items() if k != "applied"}, "status": status, "custom_fields": custom,
                "adjustment": body.get("adjustment", cents(0)), "total": total,
                "balance": total - body["applied"] if status != "void" else cents(0)}
