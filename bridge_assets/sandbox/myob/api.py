"""MYOB's wire: the token endpoint of secure.myob.com and `/accountright/{company file}/...`.

    POST /oauth2/v1/authorize                                  form: authorization_code | refresh_token
    GET  /accountright/{cf}/GeneralLedger/Account | /GeneralLedger/TaxCode
    GET|POST        /accountright/{cf}/Contact/Customer, GET .../{UID}
    GET             /accountright/{cf}/Sale/Invoice                      every layout
    GET|POST        /accountright/{cf}/Sale/Invoice/Service, GET|PUT|DELETE .../{UID}
    GET|POST        /accountright/{cf}/Sale/CreditSettlement, GET|DELETE .../{UID}
    GET|POST        /accountright/{cf}/Sale/CustomerPayment, GET|DELETE .../{UID}
Every call: `Authorization: Bearer`, `x-myobapi-key`, `x-myobapi-version: v2`. Lists: OData `$filter`, `$top`
(<= 1000), `$skip`; `{"Items", "NextPageLink", "Count"}`. POST and PUT answer the entity with `returnBody=true`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.gate import Gate
from bridge_assets.sandbox.myob.rules import ACCOUNTS, Books, Refusal, cents, uid

RESOURCES = {"Contact/Customer": "customers", "Sale/Invoice/Service": "invoices", "Sale/Invoice": "invoices",
             "Sale/CreditSettlement": "settlements", "Sale/CustomerPayment": "payments"}
CLAUSE = re.compile(r"^\(?\s*([A-Za-z]+(?:/[A-Za-z]+)?)\s+(eq|gt|lt)\s+(datetime)?'((?:[^']|'')*)'\s*\)?$")
FILTERABLE = ("Number", "ReceiptNumber", "CompanyName", "DisplayID", "LastModified", "Customer/UID", "JournalMemo")


def respond(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(wire.dumps(payload), status_code=status, media_type="application/json", headers=headers)


def failure(status: int, name: str, message: str, code: int = 0) -> Response:
    return respond({"Errors": [{"Name": name, "Message": message, "AdditionalDetails": "", "ErrorCode": code,
                                "Severity": "Error", "LearnMore": None}]}, status)


def rate_limited() -> Response:
    return respond({"Errors": [{"Name": "RateLimitError", "Message": "API key has exceeded the per-second rate limit",
                                "AdditionalDetails": "Header: x-myobapi-key", "ErrorCode": 0, "Severity": "Error",
                                "LearnMore": None}]}, 403)


def stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def clauses(text: str | None) -> list[tuple[str, str, str]]:
    found = []
    for part in re.split(r"\)\s+and\s+\(|\s+and\s+", text or "") if text else []:
        match = CLAUSE.match(part.strip())
        if match is None or match.group(1) not in FILTERABLE:
            raise Refusal(400, "InvalidFilter", f"The $filter clause {part!r} is not supported here", 160)
        found.append((match.group(1), match.group(2), match.group(4).replace("''", "'")))
    return found


class Api:
    def __init__(self, parts: Parts) -> None:
        settings = parts.settings
        self.parts, self.settings = parts, settings
        self.books = Books(parts.store, dict(settings.tax_codes), settings.must_reverse)
        self.gate = Gate(parts, token_of=self._token, denied=lambda why: failure(
            401, "OAuthTokenIsInvalid", "The supplied OAuth token (Bearer) is not valid", 401),
            throttled=rate_limited, caller=lambda grant, request: {"key": request.headers.get("x-myobapi-key"),
                                                                   "file": grant.subject},
            book=lambda caller: caller["file"])

    def routes(self) -> list[Route]:
        base = "/accountright/{cf}"
        return [Route("/oauth2/v1/authorize", self.parts.auth.token_endpoint, methods=["POST"]),
                Route(base + "/GeneralLedger/{what}", self.ledger, methods=["GET"]),
                Route(base + "/{group}/{name}", self.collection, methods=["GET", "POST"]),
                Route(base + "/{group}/{name}/{layout}", self.layout, methods=["GET", "POST"]),
                Route(base + "/{group}/{name}/{layout}/{key}", self.member, methods=["GET", "PUT", "DELETE"])]

    @staticmethod
    def _token(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return header[7:].strip() if header[:7].lower() == "bearer " else None

    def _scoped(self, request: Request, run):
        def work(grant: Any, caller: Any, raw: bytes) -> Response:
            if request.headers.get("x-myobapi-key") not in self.settings.clients:
                return failure(401, "InvalidApiKey", "The x-myobapi-key header does not name a registered API key")
            if request.headers.get("x-myobapi-version") != "v2":
                return failure(400, "ApiVersionRequired", "The x-myobapi-version header must be v2")
            if request.path_params["cf"] != grant.subject:
                return failure(403, "CompanyFileAccessDenied", "The token was not consented for this company file")
            try:
                body = wire.loads(raw) if raw.strip() else {}
                return run(grant.subject, body if isinstance(body, dict) else {})
            except Refusal as refusal:
                return failure(refusal.status, refusal.name, refusal.message, refusal.code)
            except ValueError:
                return failure(400, "SerializationError", "The body is not valid JSON", 50)
        return self.gate.run(request, work)

    async def ledger(self, request: Request) -> Response:
        what = request.path_params["what"]

        def run(cf: str, body: dict) -> Response:
            if what == "Account":
                items = ACCOUNTS
            elif what == "TaxCode":
                items = [{"UID": key, "Code": code, "Rate": rate} for key, (code, rate) in self.books.tax_codes.items()]
            else:
                return failure(404, "NotFound", "The requested resource was not found", 150)
            return respond({"Items": items, "NextPageLink": None, "Count": len(items)})
        return await self._scoped(request, run)

    async def collection(self, request: Request) -> Response:
        return await self._resource(request, f"{request.path_params['group']}/{request.path_params['name']}", None)

    async def layout(self, request: Request) -> Response:
        params = request.path_params
        path = f"{params['group']}/{params['name']}/{params['layout']}"
        if path in RESOURCES:
            return await self._resource(request, path, None)
        return await self._resource(request, f"{params['group']}/{params['name']}", params["layout"])   # .../{UID}

    async def member(self, request: Request) -> Response:
        params = request.path_params
        path = f"{params['group']}/{params['name']}/{params['layout']}"
        if path not in RESOURCES:                                 # nothing lives below Contact/Customer/{UID}
            return await self._resource(request, path, None, tail=params["key"])
        return await self._resource(request, path, params["key"])

    async def _resource(self, request: Request, path: str, key: str | None, tail: str | None = None) -> Response:
        kind = RESOURCES.get(path)

        def run(cf: str, body: dict) -> Response:
            if kind is None or tail is not None or (path == "Sale/Invoice" and request.method != "GET"):
                return failure(404, "NotFound", "The requested resource was not found", 150)
            if request.method == "GET" and key is None:
                return respond(self._list(request, cf, kind, path))
            if request.method == "POST":
                doc_id = {"customers": self.books.create_customer, "invoices": lambda c, b: self.books.save(c, b, None),
                          "settlements": self.books.settle, "payments": self.books.pay}[kind](cf, body)
                return self._written(request, cf, kind, path, doc_id, 201)
            row = self.books.get(cf, kind, key)
            if request.method == "DELETE":
                self.books.delete(cf, kind, row)
                return Response(status_code=200)
            if request.method == "PUT":
                if kind != "invoices":
                    return failure(405, "MethodNotAllowed", "PUT is not supported on this resource")
                self.books.save(cf, body, row)
                return self._written(request, cf, kind, path, row["id"], 200)
            return respond(self.render(request, cf, kind, self.parts.store.get(cf, kind, row["id"])))
        return await self._scoped(request, run)

    def _written(self, request: Request, cf: str, kind: str, path: str, doc_id: int, status: int) -> Response:
        location = f"{str(request.base_url).rstrip('/')}/accountright/{cf}/{path}/{uid(kind, doc_id)}"
        if request.query_params.get("returnBody") != "true":
            return Response(status_code=status, headers={"Location": location})
        return respond(self.render(request, cf, kind, self.parts.store.get(cf, kind, doc_id)), status,
                       {"Location": location})

    # --- reading ------------------------------------------------------------------------------------

    def _list(self, request: Request, cf: str, kind: str, path: str) -> dict:
        query = request.query_params
        items = [self.render(request, cf, kind, row) for row in self.parts.store.rows(cf, kind) if row["state"] != "deleted"]
        for field, operator, value in clauses(query.get("$filter")):
            def held(item: dict) -> str:
                return str((item.get("Customer") or {}).get("UID") if field == "Customer/UID" else item.get(field) or "")
            items = [i for i in items if (held(i) == value if operator == "eq" else
                                          held(i) > value if operator == "gt" else held(i) < value)]
        top, skip = min(int(query.get("$top") or 400), 1000), int(query.get("$skip") or 0)
        chosen = items[skip: skip + top]
        base = f"{str(request.base_url).rstrip('/')}/accountright/{cf}/{path}"
        more = skip + top < len(items)
        return {"Items": chosen, "NextPageLink": f"{base}?$top={top}&$skip={skip + top}" if more else None,
                "Count": len(items)}

    def render(self, request: Request, cf: str, kind: str, row: dict[str, Any]) -> dict[str, Any]:
        body, key = row["body"], uid(kind, row["id"])
        base = f"{str(request.base_url).rstrip('/')}/accountright/{cf}"
        out = {"UID": key, "LastModified": stamp(row["updated_at"]), "RowVersion": body.get("RowVersion", "1")}
        if kind == "customers":
            return {**out, "URI": f"{base}/Contact/Customer/{key}", **{k: body[k] for k in
                                                                      ("CompanyName", "LastName", "DisplayID", "IsIndividual")}}
        customer = self.parts.store.get(cf, "customers", body["Customer"])
        out["Customer"] = {"UID": uid("customers", body["Customer"]), "Name": customer["body"]["CompanyName"],
                           "DisplayID": customer["body"]["DisplayID"]}
        out["Date"] = f"{body['Date']}T00:00:00"
        if kind == "payments":
            return {**out, "URI": f"{base}/Sale/CustomerPayment/{key}", "ReceiptNumber": body["ReceiptNumber"],
                    "AmountReceived": body["AmountReceived"], "Memo": body["Memo"], "DepositTo": "Account",
                    "Account": {"UID": body["Account"]}, "Invoices": [
                        {"UID": uid("invoices", t), "AmountApplied": cents(s), "Type": "Invoice"} for t, s in body["Applied"]]}
        if kind == "settlements":
            return {**out, "URI": f"{base}/Sale/CreditSettlement/{key}",
                    "CreditFromInvoice": {"UID": uid("invoices", body["CreditFromInvoice"])},
                    "Lines": [{"Sale": {"UID": uid("invoices", t)}, "AmountApplied": cents(s), "Type": "Invoice"}
                              for t, s in body["Applied"]]}
        total = cents(body["Subtotal"] + body["TotalTax"])
        due = total - body["applied"] if total >= 0 else total + body["applied"]
        status = "Credit" if total < 0 else "Closed" if due == 0 else "Open"
        return {**out, "URI": f"{base}/Sale/Invoice/Service/{key}", "Number": body["Number"],
                "CustomerPurchaseOrderNumber": body["CustomerPurchaseOrderNumber"], "JournalMemo": body["JournalMemo"],
                "IsTaxInclusive": False, "Subtotal": cents(body["Subtotal"]), "TotalTax": cents(body["TotalTax"]),
                "TotalAmount": total, "BalanceDueAmount": due, "Status": status,
                "Lines": [{"RowID": line["RowID"], "RowVersion": line["RowVersion"], "Type": line["Type"],
                           "Description": line["Description"], "Total": line["Total"],
                           "Account": {"UID": line["Account"]}, "TaxCode": {"UID": line["TaxCode"]}}
                          for line in body["Lines"]]}
