"""Oracle Fusion Receivables REST (`/fscmRestApi/resources/11.13.18.05/`) over HTTP: Basic auth, privileges,
collections with `q`, `limit`, `offset`, and the receipt actions.

    receivablesInvoices | receivablesCreditMemos            GET (q, limit, offset), POST
        /{CustomerTransactionId}                            GET, PATCH (InvoiceStatus, PaymentTerms, TransactionDate), DELETE
    receivablesInvoices/{id}/child/receivablesInvoiceInstallments    GET (InstallmentId = the payment schedule id)
    standardReceipts                                        GET (q), POST;  /{id} GET
        /{id}/action/applyReceipt   {appliedPaymentScheduleId, amountApplied?}    /{id}/action/reverseReceipt  {}
    q: `Field='value';Other>'2026-09-01'` (=, >, >=, <, <=; `;` or ` and ` between)
"""

from __future__ import annotations

import base64
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.erp_requests import injected_fault, journal_answer, json_body
from bridge_assets.sandbox.oracle_fusion_receivables.receivables import TRANSACTIONS, ArError, Receivables
from bridge_assets.sandbox.oracle_fusion_receivables.settings import CREDIT_PRIV, INVOICE_PRIV, RECEIPT_PRIV

ROOT = "/fscmRestApi/resources/11.13.18.05"
PRIVILEGE = {"receivablesInvoices": INVOICE_PRIV, "receivablesCreditMemos": CREDIT_PRIV,
             "standardReceipts": RECEIPT_PRIV}
CLAUSE = re.compile(r"^\s*(\w+)\s*(>=|<=|=|>|<)\s*'?(.*?)'?\s*$")


def visible(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_") and k != "id"}


def _matches(record: dict[str, Any], q: str | None) -> bool:
    for part in [p for p in re.split(r";|\s+and\s+", q or "") if p.strip()]:
        match = CLAUSE.match(part)
        if not match:
            raise ArError(400, "INVALID_QUERY", f"The query {q} is not valid.")
        field, op, value = match.groups()
        have = record.get(field)
        if have is None:
            return False
        have, value = str(have), value.replace("''", "'")
        if not {"=": have == value, ">": have > value, ">=": have >= value, "<": have < value,
                "<=": have <= value}[op]:
            return False
    return True


class ReceivablesApi:
    def __init__(self, parts: Parts, receivables: Receivables) -> None:
        self.parts, self.settings, self.store, self.ar = parts, parts.settings, parts.store, receivables

    def routes(self) -> list[Route]:
        return [Route(ROOT + "/{rest:path}", self._serve, methods=["GET", "POST", "PATCH", "DELETE"])]

    def _user(self, request: Request) -> tuple[str, dict] | None:
        header = request.headers.get("authorization", "")
        if header[:6].lower() != "basic ":
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        found = self.settings.users.get(user)
        return (user, found) if found and found["password"] == password else None

    async def _serve(self, request: Request) -> Response:
        who = self._user(request)
        if who is None:
            return Response("Unauthorized", status_code=401, headers={"WWW-Authenticate": 'Basic realm="fusion"'})
        parts = request.path_params["rest"].strip("/").split("/")
        needed = PRIVILEGE.get(parts[0])
        if needed and needed not in who[1].get("privileges", []):
            return JSONResponse(ArError(403, "FND_NO_PRIVILEGE", f"You don't have the privilege {needed} to access "
                                                                 f"{parts[0]}.").body(), status_code=403)
        refused = injected_fault(self.parts, request)
        if refused is not None:
            return refused
        try:
            body = await json_body(request, {})
            with self.store.transaction():
                status, payload = self.handle(request.method, parts, request.query_params, body)
        except ArError as error:
            status, payload = error.status, error.body()
        except (ValueError, KeyError, TypeError) as problem:
            status, payload = 400, ArError(400, "INVALID_REQUEST", str(problem)).body()
        journal_answer(self.parts, request, status, [parts[0], "/".join(p for p in parts if not p.isdigit())],
                       user_name=who[0])
        if payload is None:
            return Response(status_code=status)
        return JSONResponse(payload, status_code=status, media_type="application/vnd.oracle.adf.resourceitem+json")

    def handle(self, method: str, parts: list[str], query, body: dict) -> tuple[int, Any]:
        kind = parts[0]
        if kind not in (*TRANSACTIONS, "standardReceipts"):
            raise ArError(404, "RESOURCE_NOT_FOUND", f"The resource {kind} does not exist.")
        if len(parts) == 1:
            if method == "GET":
                return 200, self._list(kind, query)
            if method == "POST":
                record = self.ar.create_receipt(body) if kind == "standardReceipts" else self.ar.create(kind, body)
                return 201, visible(record)
            raise ArError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {kind}.")
        record = self.store.get(kind, parts[1])
        if record is None:
            raise ArError(404, "RESOURCE_NOT_FOUND", f"The {kind} {parts[1]} does not exist.")
        tail = parts[2:]
        if tail == ["child", "receivablesInvoiceInstallments"] and kind == "receivablesInvoices" and method == "GET":
            return 200, {"items": [{"InstallmentId": record["_installment"], "DueDate": record["DueDate"],
                                    "InstallmentBalanceDue": record["InvoiceBalanceAmount"]}], "count": 1,
                         "hasMore": False}
        if kind == "standardReceipts" and len(tail) == 2 and tail[0] == "action" and method == "POST":
            if tail[1] == "applyReceipt":
                return 200, {"result": visible(self.ar.apply_receipt(record, body))}
            if tail[1] == "reverseReceipt":
                return 200, {"result": visible(self.ar.reverse_receipt(record))}
        if tail:
            raise ArError(404, "RESOURCE_NOT_FOUND", f"The path {'/'.join(parts)} does not exist.")
        if method == "GET":
            return 200, visible(record)
        if method == "PATCH" and kind in TRANSACTIONS:
            self.ar.patch(kind, record, body)
            return 200, visible(self.store.get(kind, record["id"]))
        if method == "DELETE" and kind in TRANSACTIONS:
            self.ar.delete(kind, record)
            return 204, None
        raise ArError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {kind}/{parts[1]}.")

    def _list(self, kind: str, query) -> dict[str, Any]:
        found = [r for r in self.store.all(kind) if _matches(r, query.get("q"))]
        limit, offset = int(query.get("limit", self.settings.page_limit)), int(query.get("offset", 0))
        page = found[offset:offset + limit]
        out = {"items": [visible(r) for r in page], "count": len(page), "hasMore": offset + limit < len(found),
               "limit": limit, "offset": offset}
        if query.get("totalResults") == "true":
            out["totalResults"] = len(found)
        return out
