"""Sage Accounting v3.1's wire, and the token endpoint of its OAuth host.

    POST /token                                     form: authorization_code | refresh_token, client in the form
    GET  /v3.1/businesses | /financial_settings | /ledger_accounts | /bank_accounts | /tax_rates
    GET|POST        /v3.1/{contacts|sales_invoices|sales_credit_notes|contact_payments|contact_allocations}
    GET|PUT|DELETE  /v3.1/{...}/{key}               DELETE of an invoice or credit note voids (?void_reason=)
Lists: `page`, `items_per_page` (<= 200; past the end: the last page), `attributes=all`, `search`,
`contact_id`, `status_id`, `updated_or_created_since` (inclusive), `deleted_since` (exclusive: the deleted).
A create carrying `idempotency_id` (32 hex characters) answers a repeat with its first answer.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.gate import Gate
from bridge_assets.sandbox.sage.rules import (
    BANK_ACCOUNTS, LEDGER_ACCOUNTS, LINES, NUMBERS, TAX_RATES, Books, Refusal, cents, own_id, wire_id,
)

SINGULAR = {"contacts": "contact", "sales_invoices": "sales_invoice", "sales_credit_notes": "sales_credit_note",
            "contact_payments": "contact_payment", "contact_allocations": "contact_allocation"}
HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


def respond(payload: Any, status: int = 200) -> Response:
    return Response(wire.dumps(payload), status_code=status, media_type="application/json")


def failure(status: int, data_code: str, message: str, source: str = "") -> Response:
    return respond([{"$severity": "error", "$dataCode": data_code, "$message": message, "$source": source}], status)


def throttled() -> Response:
    return failure(429, "TooManyRequests", "Too Many Requests")


def stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def moment(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+")).timestamp()


class Api:
    def __init__(self, parts: Parts) -> None:
        self.parts, self.settings, self.books = parts, parts.settings, Books(parts.store)
        self.gate = Gate(parts, token_of=self._token, denied=self._denied, throttled=throttled,
                         caller=lambda grant, request: {"business": request.headers.get("x-business")
                                                        or self.settings.business_id},
                         book=lambda caller: caller["business"])

    def routes(self) -> list[Route]:
        return [Route("/token", self.parts.auth.token_endpoint, methods=["POST"]),
                Route("/v3.1/businesses", self.businesses, methods=["GET"]),
                Route("/v3.1/financial_settings", self.financial_settings, methods=["GET"]),
                Route("/v3.1/{plural}", self.collection, methods=["GET", "POST"]),
                Route("/v3.1/{plural}/{key}", self.member, methods=["GET", "PUT", "DELETE"])]

    @staticmethod
    def _token(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return header[7:].strip() if header[:7].lower() == "bearer " else None

    @staticmethod
    def _denied(why: str) -> Response:
        return failure(401, "Unauthorized", "The access token is missing, invalid or expired")

    def _business(self, run):
        def work(grant: Any, caller: Any, raw: bytes) -> Response:
            if caller["business"] != grant.subject:
                return failure(403, "Forbidden", "You do not have access to this business", "X-Business")
            try:
                body = wire.loads(raw) if raw.strip() else {}
                return run(caller["business"], body if isinstance(body, dict) else {})
            except Refusal as refusal:
                return failure(refusal.status, refusal.data_code, refusal.message, refusal.source)
            except ValueError:
                return failure(400, "BadRequest", "The body is not valid JSON")
        return work

    async def businesses(self, request: Request) -> Response:
        return await self.gate.run(request, lambda grant, caller, raw: respond([
            {"id": self.settings.business_id, "displayed_as": "Bridge sandbox business", "is_lead": True}]))

    async def financial_settings(self, request: Request) -> Response:
        return await self.gate.run(request, self._business(lambda business, body: respond({
            "year_end_date": "2026-12-31", "year_end_lockdown_date": self.parts.store.lock_date(business),
            "accounts_start_date": "2020-01-01"})))

    async def collection(self, request: Request) -> Response:
        plural = request.path_params["plural"]
        references = {"ledger_accounts": LEDGER_ACCOUNTS, "bank_accounts": BANK_ACCOUNTS, "tax_rates": TAX_RATES}

        def run(business: str, body: dict) -> Response:
            if plural in references:
                items = references[plural]
                return respond({"$total": len(items), "$page": 1, "$next": None, "$back": None,
                                "$itemsPerPage": 200, "$items": items})
            if plural not in SINGULAR:
                return failure(404, "RecordNotFound", "Resource not found")
            if request.method == "GET":
                return respond(self._list(business, plural, request.query_params))
            return self._create(business, plural, body)
        return await self.gate.run(request, self._business(run))

    def _create(self, business: str, plural: str, body: dict) -> Response:
        fields = body.get(SINGULAR[plural])
        if not isinstance(fields, dict):
            raise Refusal(422, "RecordInvalid", f"the body must be {{\"{SINGULAR[plural]}\": {{...}}}}", "base")
        key = fields.get("idempotency_id")
        if key is not None:
            if not HEX32.match(str(key)):
                raise Refusal(422, "RecordInvalid", "must be 32 hexadecimal characters (a GUID without hyphens)",
                              "idempotency_id")
            first = self.parts.store.replay(business, f"{plural}:{key}",
                                            self.settings.real_seconds(self.settings.idempotency_window_s))
            if first is not None:
                return respond(first[1], first[0])
        try:
            doc_id = self._make(business, plural, fields)
            status, answer = 201, self.render(business, plural, self.parts.store.get(business, plural, doc_id))
        except Refusal as refusal:
            status, answer = refusal.status, [{"$severity": "error", "$dataCode": refusal.data_code,
                                               "$message": refusal.message, "$source": refusal.source}]
        if key is not None:
            self.parts.store.remember(business, f"{plural}:{key}", status, answer)
        return respond(answer, status)

    def _make(self, business: str, plural: str, fields: dict) -> int:
        if plural == "contacts":
            return self.books.create_contact(business, fields)
        if plural == "contact_payments":
            return self.books.pay(business, fields)
        if plural == "contact_allocations":
            return self.books.allocate(business, fields)
        return self.books.save(business, plural, fields, None)

    async def member(self, request: Request) -> Response:
        plural, key = request.path_params["plural"], request.path_params["key"]

        def run(business: str, body: dict) -> Response:
            if plural not in SINGULAR:
                return failure(404, "RecordNotFound", "Resource not found")
            row = self.books.get(business, plural, key)
            if request.method == "DELETE":
                if plural in NUMBERS:
                    self.books.void(business, plural, row, request.query_params.get("void_reason"))
                elif plural in ("contact_payments", "contact_allocations"):
                    self.books.release(business, plural, row)
                else:
                    return failure(405, "MethodNotAllowed", "Method not allowed")
                return Response(status_code=204)
            if request.method == "PUT":
                fields = body.get(SINGULAR[plural])
                if plural not in NUMBERS or not isinstance(fields, dict):
                    return failure(405 if plural not in NUMBERS else 422, "RecordInvalid", "cannot be updated here")
                self.books.save(business, plural, fields, row)
            return respond(self.render(business, plural, self.parts.store.get(business, plural, row["id"])))
        return await self.gate.run(request, self._business(run))

    # --- reading ------------------------------------------------------------------------------------

    def _list(self, business: str, plural: str, query: Any) -> dict:
        since, deleted_since = query.get("updated_or_created_since"), query.get("deleted_since")
        rows = self.parts.store.rows(business, plural)
        if deleted_since:
            rows = [r for r in rows if r["state"] == "deleted" and r["updated_at"] > moment(deleted_since)]
        else:
            rows = [r for r in rows if r["state"] != "deleted" and (not since or r["updated_at"] >= moment(since))]
        items = [self.render(business, plural, row) for row in rows]
        search = (query.get("search") or "").lower()
        if search:
            items = [i for i in items if search in str(i.get("reference") or "").lower()
                     or search in str((i.get("contact") or {}).get("displayed_as") or i.get("name") or "").lower()]
        for field in ("contact_id", "status_id"):
            if query.get(field):
                key = "contact" if field == "contact_id" else "status"
                items = [i for i in items if (i.get(key) or {}).get("id") == query[field]]
        per_page = min(max(int(query.get("items_per_page") or 20), 1), 200)
        pages = max(math.ceil(len(items) / per_page), 1)
        page = min(max(int(query.get("page") or 1), 1), pages)          # past the end: the last page
        chosen = items[(page - 1) * per_page: page * per_page]
        if query.get("attributes") != "all":
            chosen = [{"id": i["id"], "displayed_as": i["displayed_as"], "$path": i["$path"]} for i in chosen]
        link = f"/{plural}?page={{}}&items_per_page={per_page}"
        return {"$total": len(items), "$page": page, "$next": link.format(page + 1) if page < pages else None,
                "$back": link.format(page - 1) if page > 1 else None, "$itemsPerPage": per_page, "$items": chosen}

    def render(self, business: str, plural: str, row: dict[str, Any]) -> dict[str, Any]:
        body, key = dict(row["body"]), wire_id(plural, row["id"])
        out = {"id": key, "$path": f"/{plural}/{key}", "updated_at": stamp(row["updated_at"])}
        if plural == "contacts":
            return {**out, "displayed_as": body["name"], "name": body["name"], "reference": body["reference"],
                    "contact_types": [{"id": body["contact_type"]}]}
        contact = self.parts.store.get(business, "contacts", body["contact_id"])
        out["contact"] = {"id": wire_id("contacts", body["contact_id"]),
                          "displayed_as": contact["body"]["name"] if contact else ""}
        out["date"] = body["date"]
        if plural in ("contact_payments", "contact_allocations"):
            artefacts = [{"artefact": {"id": a["artefact_id"]}, "amount": a["amount"]} for a in body["allocated_artefacts"]]
            extra = ({"total_amount": body["total_amount"], "reference": body["reference"],
                      "payment_on_account": {"total_amount": body["payment_on_account"]},
                      "bank_account": {"id": body["bank_account_id"]}, "transaction_type": {"id": "CUSTOMER_RECEIPT"}}
                     if plural == "contact_payments" else {"transaction_type": {"id": "CUSTOMER_ALLOCATION"}})
            return {**out, "displayed_as": body.get("reference") or key, "allocated_artefacts": artefacts, **extra}
        field, _ = NUMBERS[plural]
        total = cents(body["net"] + body["tax"])
        outstanding = total - body["allocated"] if body["status"] != "VOID" else cents(0)
        status = body["status"]
        if status == "UNPAID" and body["allocated"]:
            status = "PAID" if outstanding == 0 else "PART_PAID"
        lines = [{**{k: v for k, v in line.items() if k not in ("ledger_account_id", "tax_rate_id")},
                  "ledger_account": {"id": line["ledger_account_id"]}, "tax_rate": {"id": line["tax_rate_id"]}}
                 for line in body["lines"]]
        return {**out, "displayed_as": body[field], field: body[field], "reference": body["reference"],
                "notes": body["notes"], "status": {"id": status}, "net_amount": cents(body["net"]),
                "tax_amount": cents(body["tax"]), "total_amount": total, "outstanding_amount": outstanding,
                "editable": status not in ("VOID",) and not body["allocated"], LINES[plural]: lines,
                "void_reason": body.get("void_reason")}
