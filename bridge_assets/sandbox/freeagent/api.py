"""FreeAgent v2's wire: the token endpoint and the resources the bridge uses, named by URL.

    POST /v2/token_endpoint                               HTTP Basic; authorization_code | refresh_token
    GET  /v2/bank_accounts
    GET|POST        /v2/{contacts|invoices|credit_notes|bank_transaction_explanations}
    GET|PUT|DELETE  /v2/{...}/{id}
    PUT  /v2/{invoices|credit_notes}/{id}/transitions/{mark_as_sent|mark_as_draft|mark_as_cancelled}
Lists: `page`, `per_page` (default 25, at most 100), `sort=updated_at|-updated_at|created_at`, `Link` header
(rel next/prev/first/last). Every call needs a `User-Agent`.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import threading
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge_assets.sandbox.freeagent.rules import BANK_ACCOUNTS, ITEMS, Books, Refusal, cents
from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.gate import Gate

PLURALS = ("contacts", "invoices", "credit_notes", "bank_transaction_explanations")
SINGULAR = {"contacts": "contact", "invoices": "invoice", "credit_notes": "credit_note",
            "bank_transaction_explanations": "bank_transaction_explanation"}


def respond(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(wire.dumps(_text(payload)), status_code=status, media_type="application/json", headers=headers)


def _text(value: Any) -> Any:
    """Money and quantities as decimal strings, FreeAgent's way."""
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return str(value) if not isinstance(value, (str, int, bool, type(None))) else value


def failure(status: int, message: str) -> Response:
    return respond({"errors": [{"message": message}]}, status)


def throttled() -> Response:
    return failure(429, "You must not exceed 120 requests per 60 seconds")


def stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Api:
    def __init__(self, parts: Parts) -> None:
        self.parts, self.settings, self.books = parts, parts.settings, Books(parts.store)
        self.gate = Gate(parts, token_of=self._token, denied=lambda why: failure(401, "Access token not recognised"),
                         throttled=throttled, caller=lambda grant, request: {"user": grant.subject},
                         book=lambda caller: caller["user"])
        self._refreshes: collections.deque = collections.deque()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._refreshes.clear()

    def routes(self) -> list[Route]:
        return [Route("/v2/token_endpoint", self.token, methods=["POST"]),
                Route("/v2/bank_accounts", self.bank_accounts, methods=["GET"]),
                Route("/v2/{plural}", self.collection, methods=["GET", "POST"]),
                Route("/v2/{plural}/{doc_id}", self.member, methods=["GET", "PUT", "DELETE"]),
                Route("/v2/{plural}/{doc_id}/transitions/{name}", self.transition, methods=["PUT"])]

    @staticmethod
    def _token(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return header[7:].strip() if header[:7].lower() == "bearer " else None

    async def token(self, request: Request) -> Response:
        """The kit's provider, after FreeAgent's cap of token refreshes a minute."""
        with self._lock:
            window = self.settings.real_seconds(60)
            while self._refreshes and self._refreshes[0] <= time.monotonic() - window:
                self._refreshes.popleft()
            if len(self._refreshes) >= self.settings.refreshes_per_minute:
                return failure(429, f"You must not exceed {self.settings.refreshes_per_minute} token refreshes "
                                    f"per 60 seconds")
            self._refreshes.append(time.monotonic())
        return await self.parts.auth.token_endpoint(request)

    def _work(self, request: Request, run):
        def work(grant: Any, caller: Any, raw: bytes) -> Response:
            if not request.headers.get("user-agent"):
                return failure(400, "User-Agent header is required")
            try:
                body = wire.loads(raw) if raw.strip() else {}
                return run(grant.subject, body if isinstance(body, dict) else {})
            except Refusal as refusal:
                return failure(refusal.status, refusal.message)
            except ValueError:
                return failure(400, "The body is not valid JSON")
        return self.gate.run(request, work)

    async def bank_accounts(self, request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return await self._work(request, lambda company, body: respond({"bank_accounts": [
            {**a, "url": f"{base}/v2/bank_accounts/{a['id']}"} for a in BANK_ACCOUNTS]}))

    async def collection(self, request: Request) -> Response:
        plural = request.path_params["plural"]

        def run(company: str, body: dict) -> Response:
            if plural not in PLURALS:
                return failure(404, "Resource not found")
            if request.method == "GET":
                return self._list(request, company, plural)
            fields = body.get(SINGULAR[plural])
            if not isinstance(fields, dict):
                return failure(422, f"the body must be {{\"{SINGULAR[plural]}\": {{...}}}}")
            if plural == "contacts":
                doc_id = self.books.create_contact(company, fields)
            elif plural == "bank_transaction_explanations":
                doc_id = self.books.explain(company, fields)
            else:
                doc_id = self.books.save(company, plural, fields, None)
            url = f"{self._base(request)}/v2/{plural}/{doc_id}"
            return respond({SINGULAR[plural]: self.render(request, company, plural, doc_id)}, 201, {"Location": url})
        return await self._work(request, run)

    async def member(self, request: Request) -> Response:
        plural, doc_id = request.path_params["plural"], request.path_params["doc_id"]

        def run(company: str, body: dict) -> Response:
            if plural not in PLURALS:
                return failure(404, "Resource not found")
            row = self.books.get(company, plural, doc_id)
            if request.method == "DELETE":
                self.books.delete(company, plural, row)
                return respond({})
            if request.method == "PUT":
                if plural not in ITEMS:
                    return failure(405, "Method not allowed")
                self.books.save(company, plural, body.get(SINGULAR[plural]) or {}, row)
            return respond({SINGULAR[plural]: self.render(request, company, plural, row["id"])})
        return await self._work(request, run)

    async def transition(self, request: Request) -> Response:
        plural, doc_id, name = (request.path_params[k] for k in ("plural", "doc_id", "name"))

        def run(company: str, body: dict) -> Response:
            if plural not in ITEMS:
                return failure(404, "Resource not found")
            self.books.transition(company, plural, self.books.get(company, plural, doc_id), name)
            return respond({})
        return await self._work(request, run)

    # --- reading ------------------------------------------------------------------------------------

    @staticmethod
    def _base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def _list(self, request: Request, company: str, plural: str) -> Response:
        query = request.query_params
        rows = [r for r in self.parts.store.rows(company, plural) if r["state"] != "deleted"]
        sort = query.get("sort") or "created_at"
        key = "updated_at" if sort.lstrip("-") == "updated_at" else "id"
        rows.sort(key=lambda r: r[key], reverse=sort.startswith("-"))
        per_page = min(max(int(query.get("per_page") or 25), 1), 100)
        pages = max(math.ceil(len(rows) / per_page), 1)
        page = max(int(query.get("page") or 1), 1)
        chosen = rows[(page - 1) * per_page: page * per_page]
        url = f"{self._base(request)}/v2/{plural}?sort={sort}&per_page={per_page}&page="
        links = [f'<{url}{page + 1}>; rel="next"'] if page < pages else []
        links += [f'<{url}{page - 1}>; rel="prev"'] if page > 1 else []
        links += [f'<{url}1>; rel="first"', f'<{url}{pages}>; rel="last"']
        items = [self.render(request, company, plural, r["id"]) for r in chosen]
        return respond({plural: items}, 200, {"Link": ", ".join(links)})

    def render(self, request: Request, company: str, plural: str, doc_id: int) -> dict[str, Any]:
        row, base = self.parts.store.get(company, plural, doc_id), self._base(request)
        body = dict(row["body"])
        out = {"url": f"{base}/v2/{plural}/{doc_id}", "updated_at": stamp(row["updated_at"])}
        if plural == "contacts":
            return {**out, **body}
        if plural == "bank_transaction_explanations":
            return {**out, **body, "bank_account": f"{base}/v2/bank_accounts/{body['bank_account']}",
                    "paid_invoice": f"{base}/v2/invoices/{body['paid_invoice']}"}
        total = cents(body["net"] + body["tax"])
        status = body["status"]
        if status == "Open" and body["paid"]:
            status = "Paid" if body["paid"] == total else "Overpaid" if body["paid"] > total else "Open"
        due_on = (dt.date.fromisoformat(body["dated_on"]) + dt.timedelta(days=body["payment_terms_in_days"])).isoformat()
        items = [{**{k: v for k, v in item.items() if k not in ("net", "tax", "position")},
                  "url": f"{base}/v2/{plural[:-1]}_items/{doc_id}{item['position']:03d}"} for item in body["items"]]
        return {**out, "contact": f"{base}/v2/contacts/{body['contact']}", "dated_on": body["dated_on"], "due_on": due_on,
                "payment_terms_in_days": body["payment_terms_in_days"], "reference": body["reference"],
                "currency": body["currency"], "status": status, "comments": body.get("comments", ""),
                "net_value": cents(body["net"]), "sales_tax_value": cents(body["tax"]), "total_value": total,
                "paid_value": cents(body["paid"]), "due_value": total - cents(body["paid"]) if status != "Cancelled"
                else cents(0), ITEMS[plural]: items}
