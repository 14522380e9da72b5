"""Business Central API v2.0 over HTTP: Entra client-credentials tokens, the OData routes, $batch.

    POST /{tenant}/oauth2/v2.0/token             client_credentials, scope https://api.businesscentral.dynamics.com/.default
    /v2.0/{tenant}/{environment}/api/v2.0/...    Authorization: Bearer <token>
        companies                                                GET
        companies({id})/customers | items                        GET ($filter), POST;  (...({id})) GET
        companies({id})/salesInvoices | salesCreditMemos         GET ($filter $top $skip $expand=...Lines), POST (deep insert)
            (...({id}))                                          GET, PATCH and DELETE with If-Match (drafts only)
            (...({id}))/salesInvoiceLines | salesCreditMemoLines GET, POST (drafts only)
            (...({id}))/Microsoft.NAV.post | Microsoft.NAV.cancel   POST -> 204
        companies({id})/customerPaymentJournals                  GET
            (...({id}))/customerPayments                         GET, POST;  customerPayments({id}) DELETE with If-Match
        companies({id})/journals({id})/Microsoft.NAV.post        POST -> 204 (posts the payment journal's lines)
        companies({id})/generalLedgerSetup | generalLedgerEntries    GET
        $batch                                                   POST {"requests": [...]} (at most 100), optional
                                                                 `Isolation: snapshot` (all or nothing)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge_assets.sandbox.business_central.documents import KINDS, Documents
from bridge_assets.sandbox.business_central.odata import (
    ODataError, check_if_match, matches, not_found, parse_filter, rendered, segments,
)
from bridge_assets.sandbox.business_central.payments import Payments
from bridge_assets.sandbox.business_central.settings import SCOPE
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.erp_requests import injected_fault, journal_answer, json_body
from bridge_assets.sandbox.kit.oauth import OAuthProvider

Answer = tuple[int, Any]
READ_ONLY = {"generalLedgerSetup", "generalLedgerEntries", "companies"}
COLLECTIONS = {"customers", "items", *KINDS, "customerPaymentJournals", "generalLedgerSetup", "generalLedgerEntries"}


def _json(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    if payload is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(payload, status_code=status, headers={"OData-Version": "4.0", **(headers or {})})


class BusinessCentralApi:
    def __init__(self, parts: Parts, oauth: OAuthProvider, documents: Documents, payments: Payments) -> None:
        self.parts, self.settings, self.store = parts, parts.settings, parts.store
        self.oauth, self.documents, self.payments = oauth, documents, payments

    def routes(self) -> list[Route]:
        return [Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
                Route("/v2.0/{tenant}/{environment}/api/v2.0/{rest:path}", self._api,
                      methods=["GET", "POST", "PATCH", "DELETE"])]

    async def _token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if request.path_params["tenant"] != self.settings.tenant:
            return JSONResponse({"error": "invalid_request", "error_description": f"AADSTS90002: Tenant "
                                 f"'{request.path_params['tenant']}' not found."}, status_code=400)
        if form.get("grant_type") == "client_credentials" and form.get("scope") != SCOPE:
            return JSONResponse({"error": "invalid_scope", "error_description": "AADSTS70011: The provided request "
                                 "must include a 'scope' input parameter."}, status_code=400)
        return await self.oauth.token_endpoint(request)

    async def _api(self, request: Request) -> Response:
        params = request.path_params
        if (params["tenant"], params["environment"]) != (self.settings.tenant, self.settings.environment):
            return _json(ODataError(404, "BadRequest_NotFound", "The environment does not exist.").body(), 404)
        token = request.headers.get("authorization", "")[7:].strip()
        access = self.oauth.access(token) if request.headers.get("authorization", "")[:7].lower() == "bearer " else None
        if access is None or access.state != "valid":
            return _json({"error": {"code": "Authentication_InvalidCredentials",
                                    "message": "The server has rejected the client credentials."}}, 401)
        refused = injected_fault(self.parts, request)
        if refused is not None:
            return refused
        if not self.parts.throttle.admit({"client": access.client_id}):
            self.store.journal_append(request.method, request.url.path, request.url.query, 429, "throttled")
            return _json({"error": {"code": "Application_TooManyRequests", "message": "Too many requests."}}, 429,
                         {"Retry-After": "5"})
        body = None
        try:
            body = await json_body(request)
            if params["rest"] == "$batch" and request.method == "POST":
                status, payload = self._batch(body or {}, request.headers.get("isolation", ""))
            else:
                status, payload = self.handle(request.method, params["rest"], dict(request.query_params),
                                              dict(request.headers), body)
        except ODataError as error:
            status, payload = error.status, error.body()
        except (ValueError, KeyError, TypeError) as problem:
            status, payload = 400, ODataError(400, "BadRequest_InvalidRequestBody", str(problem)).body()
        finally:
            self.parts.throttle.release({"client": access.client_id})
        reads_only = params["rest"] == "$batch" and all(
            str(item.get("method", "GET")).upper() == "GET" for item in (body or {}).get("requests") or [])
        wrote = request.method != "GET" and status < 400 and not reads_only
        journal_answer(self.parts, request, status, [params["rest"]], wrote=wrote, client_id=access.client_id)
        return _json(payload, status)

    # --- $batch -----------------------------------------------------------------------------------

    def _batch(self, body: dict[str, Any], isolation: str) -> Answer:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise ODataError(400, "BadRequest_InvalidRequestBody", "A $batch body needs a non-empty 'requests' list.")
        if len(requests) > self.settings.batch_max_operations:
            raise ODataError(400, "BadRequest_BatchRequestTooLarge",
                             f"The batch holds {len(requests)} operations; at most "
                             f"{self.settings.batch_max_operations} are allowed.")
        snapshot = isolation.strip().lower() == "snapshot"
        responses = []
        try:
            with self.store.transaction():
                for item in requests:
                    answer = self._batch_item(item)
                    responses.append(answer)
                    if snapshot and answer["status"] >= 400:
                        raise _RolledBack()
        except _RolledBack:
            responses = [r if r["status"] >= 400 else {**r, "status": 424, "body": ODataError(
                424, "BadRequest_FailedDependency", "The batch was rolled back (Isolation: snapshot).").body()}
                for r in responses]
        return 200, {"responses": responses}

    def _batch_item(self, item: dict[str, Any]) -> dict[str, Any]:
        url = urlsplit(str(item.get("url", "")))
        path = url.path.split("/api/v2.0/", 1)[-1].lstrip("/")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        headers = {k.lower(): v for k, v in (item.get("headers") or {}).items()}
        try:
            with self.store.transaction():
                status, payload = self.handle(str(item.get("method", "GET")).upper(), path, query, headers,
                                              item.get("body"))
        except ODataError as error:
            status, payload = error.status, error.body()
        return {"id": item.get("id"), "status": status, "headers": {"content-type": "application/json"},
                **({"body": payload} if payload is not None else {})}

    # --- one request ------------------------------------------------------------------------------

    def handle(self, method: str, rest: str, query: dict, headers: dict, body: Any) -> Answer:
        headers = {k.lower(): v for k, v in headers.items()}
        parts = segments(rest)
        if parts == [("companies", None)] and method == "GET":
            return 200, {"value": [rendered(c) for c in self.store.all("companies")]}
        if len(parts) < 2 or parts[0][0] != "companies" or self.store.get("companies", parts[0][1]) is None:
            raise not_found(rest)
        with self.store.transaction():
            return self._route(method, parts[1:], query, headers, body, rest)

    def _route(self, method: str, parts: list, query: dict, headers: dict, body: Any, rest: str) -> Answer:
        (name, key), tail = parts[0], parts[1:]
        if name == "journals" and key and tail == [("Microsoft.NAV.post", None)] and method == "POST":
            self.payments.post_journal(self.payments.journal(key))
            return 204, None
        if name not in COLLECTIONS and name != "customerPayments":
            raise not_found(rest)
        if key is None and not tail:
            return self._collection(method, name, query, body, rest)
        record = self.store.get(name, key)
        if record is None:
            raise ODataError(404, "Internal_RecordNotFound", f"The {name} {key} does not exist.")
        if not tail:
            return self._entity(method, name, record, headers, body, rest)
        (child, child_key), = tail
        if name in KINDS and child in ("Microsoft.NAV.post", "Microsoft.NAV.cancel") and method == "POST":
            (self.documents.post if child.endswith("post") else self.documents.cancel)(name, record)
            return 204, None
        if name in KINDS and child == KINDS[name][0] and child_key is None:
            if method == "GET":
                return 200, {"value": [rendered(l) for l in self.documents.lines(name, record["id"])]}
            if method == "POST":
                return 201, rendered(self.documents.add_line(name, record, body or {}))
        if name == "customerPaymentJournals" and child == "customerPayments" and child_key is None:
            if method == "GET":
                return 200, {"value": [rendered(l) for l in self.payments.lines(record["id"])]}
            if method == "POST":
                return 201, rendered(self.payments.add_line(record, body or {}))
        raise not_found(rest)

    def _collection(self, method: str, name: str, query: dict, body: Any, rest: str) -> Answer:
        if method == "GET":
            found = [r for r in self.store.all(name) if matches(r, parse_filter(query.get("$filter")))]
            found = found[int(query.get("$skip", 0)):]
            if query.get("$top"):
                found = found[:int(query["$top"])]
            out = [rendered(r) for r in found]
            expand = query.get("$expand")
            if expand and name in KINDS and expand == KINDS[name][0]:
                for row in out:
                    row[expand] = [rendered(l) for l in self.documents.lines(name, row["id"])]
            return 200, {"value": out}
        if method != "POST" or name in READ_ONLY or name == "customerPaymentJournals":
            raise ODataError(405, "BadRequest_MethodNotAllowed", f"'{method}' requests for '{name}' are not allowed.")
        if name in KINDS:
            return 201, rendered(self.documents.create(name, body or {}))
        return 201, rendered(self._master(name, body or {}))

    def _entity(self, method: str, name: str, record: dict, headers: dict, body: Any, rest: str) -> Answer:
        if method == "GET":
            return 200, rendered(record)
        if name in READ_ONLY:
            raise ODataError(405, "BadRequest_MethodNotAllowed", f"'{method}' requests for '{name}' are not allowed.")
        check_if_match(record, headers.get("if-match"))
        if method == "PATCH" and name in KINDS:
            return 200, rendered(self.documents.update(name, record, body or {}))
        if method == "DELETE" and name in KINDS:
            self.documents.delete(name, record)
            return 204, None
        if method == "DELETE" and name == "customerPayments":
            self.store.remove(name, record["id"])
            return 204, None
        if method == "PATCH" and name in ("customers", "items"):
            record.update({k: v for k, v in (body or {}).items() if k not in ("id", "number")})
            return 200, rendered(self.documents.touch(name, record))
        raise not_found(rest)

    def _master(self, name: str, body: dict) -> dict:
        """A customer or item: `number` is its key (from the No. Series when not given)."""
        import uuid
        allowed = {"customers": {"id", "number", "displayName", "type", "email", "currencyCode"},
                   "items": {"id", "number", "displayName", "type", "unitPrice"}}[name]
        unknown = set(body) - allowed
        if unknown:
            raise ODataError(400, "BadRequest_PropertyNotFound", f"Could not find a property named '{sorted(unknown)[0]}'.")
        if name == "items" and body.get("type", "Service") not in ("Inventory", "Service", "Non-Inventory"):
            raise ODataError(400, "Unknown", f"'{body.get('type')}' is not an option. The existing options are: "
                                             f"Inventory,Service,Non-Inventory")
        prefix = "C" if name == "customers" else "I"
        number = body.get("number") or f"{prefix}{10000 + 10 * self.store.next_value(prefix)}"
        table = "Customer" if name == "customers" else "Item"
        if any(r["number"] == number for r in self.store.all(name)):
            raise ODataError(400, "Internal_EntityWithSameKeyExists", f"The record in table {table} already exists. "
                                                                     f"Identification fields and values: No.='{number}'")
        record = {"id": str(body.get("id") or uuid.uuid4()), "number": number,
                  "displayName": body.get("displayName") or "", "type": body.get("type") or
                  ("Company" if name == "customers" else "Service"), "unitPrice": body.get("unitPrice", 0),
                  "email": body.get("email") or "", "currencyCode": body.get("currencyCode") or ""}
        if name == "items":
            record.pop("email"), record.pop("currencyCode")
        else:
            record.pop("unitPrice")
        return self.documents.touch(name, record)


class _RolledBack(Exception):
    pass
