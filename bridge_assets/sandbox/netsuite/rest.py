"""SuiteTalk REST over HTTP: the OAuth 2.0 token endpoint and the Record Service.

    POST /services/rest/auth/oauth2/v1/token                  authorization_code | refresh_token, HTTP Basic client
    /services/rest/record/v1/{type}                           GET ?q=&limit=&offset= (links and ids), POST -> 204 + Location
    /services/rest/record/v1/{type}/{id | eid:externalId}     GET [?expandSubResources=true], PATCH [?replace=item,apply],
                                                              PUT (eid: only: upsert), DELETE
    /services/rest/record/v1/invoice/{id}/!transform/creditMemo   POST -> 204 + Location
    types: customer, serviceSaleItem, invoice, creditMemo, customerPayment, accountingPeriod (read only)
    q: `field IS "value"`, `field ON_OR_AFTER "2026-09-01T00:00:00Z"` (also AFTER, BEFORE, ON_OR_BEFORE), joined by AND
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.erp_requests import injected_fault, journal_answer, json_body
from bridge_assets.sandbox.kit.oauth import OAuthProvider
from bridge_assets.sandbox.netsuite.errors import NsError, missing
from bridge_assets.sandbox.netsuite.records import TRANSACTIONS, TYPES, Records

ROOT = "/services/rest/record/v1"
CLAUSE = re.compile(r'^\s*(\w+)\s+(IS|ON_OR_AFTER|AFTER|BEFORE|ON_OR_BEFORE)\s+"([^"]*)"\s*$')
SUBLISTS = {"item", "apply"}


def _error(error: NsError) -> Response:
    return JSONResponse(error.body(), status_code=error.status, media_type="application/vnd.oracle.resource+json")


def _visible(record: dict[str, Any], expand: bool, url: str) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if not k.startswith("_") and v is not None}
    for sublist in SUBLISTS & set(out):
        if not expand:
            out[sublist] = {"links": [{"rel": "self", "href": f"{url}/{sublist}"}]}
    return {"links": [{"rel": "self", "href": url}], **out}


def _query(text: str | None) -> list[tuple[str, str, str]]:
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip()) if text else []:
        match = CLAUSE.match(part)
        if not match:
            raise NsError(400, "INVALID_PARAMETER", f"Invalid query: {text}")
        clauses.append(match.groups())
    return clauses


def _matches(record: dict[str, Any], clauses: list[tuple[str, str, str]]) -> bool:
    for field, op, value in clauses:
        have = record.get(field)
        have = have.get("id") if isinstance(have, dict) else have
        have = str(have).lower() if isinstance(have, bool) else have
        if have is None:
            return False
        have, value = str(have).replace("Z", ""), value.replace("Z", "")
        if not {"IS": have == value, "ON_OR_AFTER": have >= value, "AFTER": have > value, "BEFORE": have < value,
                "ON_OR_BEFORE": have <= value}[op]:
            return False
    return True


class RecordService:
    def __init__(self, parts: Parts, oauth: OAuthProvider, records: Records) -> None:
        self.parts, self.store, self.oauth, self.records = parts, parts.store, oauth, records

    def routes(self) -> list[Route]:
        return [Route("/services/rest/auth/oauth2/v1/token", self.oauth.token_endpoint, methods=["POST"]),
                Route(ROOT + "/{rest:path}", self._serve, methods=["GET", "POST", "PATCH", "PUT", "DELETE"])]

    async def _serve(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        access = self.oauth.access(header[7:].strip()) if header[:7].lower() == "bearer " else None
        if access is None or access.state != "valid":
            return _error(NsError(401, "INVALID_LOGIN", "Invalid login attempt. For more details, see the Login Audit "
                                                        "Trail in the NetSuite UI at Setup > Users/Roles > User Management "
                                                        "> View Login Audit Trail."))
        refused = injected_fault(self.parts, request)
        if refused is not None:
            return refused
        if not self.parts.throttle.admit({"account": "*"}):
            self.store.journal_append(request.method, request.url.path, request.url.query, 429, "throttled")
            return _error(NsError(429, "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded. Request blocked."))
        try:
            body = await json_body(request, {})
            with self.store.transaction():
                status, payload, headers = self.handle(request, body)
        except NsError as error:
            status, payload, headers = error.status, error.body(), {}
        except (ValueError, TypeError, KeyError) as problem:
            error = NsError(400, "INVALID_CONTENT", f"Error while accessing resource: {problem}")
            status, payload, headers = 400, error.body(), {}
        finally:
            self.parts.throttle.release({"account": "*"})
        journal_answer(self.parts, request, status, [request.path_params["rest"].split("/")[0]],
                       client_id=access.client_id)
        if payload is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(payload, status_code=status, headers=headers)

    def handle(self, request: Request, body: dict) -> tuple[int, Any, dict]:
        parts = request.path_params["rest"].strip("/").split("/")
        kind, method = parts[0], request.method
        base = str(request.base_url).rstrip("/") + ROOT
        if kind not in TYPES:
            raise NsError(404, "INVALID_RCRD_TYPE", f"Record type '{kind}' does not exist.")
        query = request.query_params
        if len(parts) == 1:
            if method == "GET":
                return 200, self._list(kind, query, f"{base}/{kind}"), {}
            if method == "POST" and kind != "accountingPeriod":
                record = self.records.write(kind, body, None, set())
                return 204, None, {"Location": f"{base}/{kind}/{record['id']}"}
            raise NsError(405, "INVALID_METHOD", f"{method} is not allowed on {kind}.")
        key = parts[1]
        record = self.records.by_key(kind, key)
        if len(parts) == 4 and parts[2] == "!transform" and method == "POST" and kind == "invoice":
            if record is None:
                raise missing(kind, key)
            credit = self.records.transform(record, parts[3], body)
            return 204, None, {"Location": f"{base}/{parts[3]}/{credit['id']}"}
        if len(parts) != 2:
            raise NsError(404, "NONEXISTENT_ID", f"Invalid path {request.url.path}.")
        replace = {s.strip() for s in (query.get("replace") or "").split(",") if s.strip()}
        if method == "PUT" and key.startswith("eid:") and kind != "accountingPeriod":
            saved = self.records.write(kind, {**body, "externalId": key[4:]}, record,
                                       replace | (SUBLISTS if record is not None else set()))
            return 204, None, {"Location": f"{base}/{kind}/{saved['id']}"}
        if record is None:
            raise missing(kind, key)
        url = f"{base}/{kind}/{record['id']}"
        if method == "GET":
            return 200, _visible(record, query.get("expandSubResources") == "true", url), {}
        if method == "PATCH" and kind != "accountingPeriod":
            self.records.write(kind, body, record, replace)
            return 204, None, {}
        if method == "DELETE" and kind in (*TRANSACTIONS, "customer", "serviceSaleItem"):
            self.records.delete(kind, record)
            return 204, None, {}
        raise NsError(405, "INVALID_METHOD", f"{method} is not allowed on {kind}/{key}.")

    def _list(self, kind: str, query, url: str) -> dict[str, Any]:
        found = [r for r in self.store.all(kind) if _matches(r, _query(query.get("q")))]
        limit, offset = min(int(query.get("limit", 1000)), 1000), int(query.get("offset", 0))
        page = found[offset:offset + limit]
        return {"links": [{"rel": "self", "href": url}], "count": len(page), "hasMore": offset + limit < len(found),
                "items": [{"links": [{"rel": "self", "href": f"{url}/{r['id']}"}], "id": r["id"]} for r in page],
                "offset": offset, "totalResults": len(found)}
