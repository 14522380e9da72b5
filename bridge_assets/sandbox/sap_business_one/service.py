"""The Service Layer over HTTP (`/b1s/v1`, OData v3 style): sessions, entity sets, bound actions, paging.

    POST /b1s/v1/Login {CompanyDB, UserName, Password}   -> {SessionId, Version, SessionTimeout} and the cookies
                                                            B1SESSION and ROUTEID; send both on every call
    POST /b1s/v1/Logout
    GET|POST       /b1s/v1/{BusinessPartners|Items|Invoices|CreditNotes|IncomingPayments}   $filter $select $top $skip
    GET|PATCH      /b1s/v1/{set}({key})      keys: 'C001' for partners and items, DocEntry numbers for documents
    POST           /b1s/v1/{Invoices|CreditNotes|IncomingPayments}({key})/Cancel
    GET            /b1s/v1/FinancePeriods    posting periods with PeriodStatus

A session lasts `SessionTimeout` idle minutes, renewed by each call; an unknown or expired one answers 401 with
code 301. Collections answer `Prefer: odata.maxpagesize` (default page 20) with `odata.nextLink`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.erp_requests import injected_fault, journal_answer, json_body
from bridge_assets.sandbox.sap_business_one.documents import DOCS, Documents
from bridge_assets.sandbox.sap_business_one.errors import B1Error, exists, invalid_session, no_match

ROOT = "/b1s/v1"
SETS = {"BusinessPartners": "CardCode", "Items": "ItemCode", "Invoices": "DocEntry", "CreditNotes": "DocEntry",
        "IncomingPayments": "DocEntry", "FinancePeriods": "AbsoluteEntry"}
CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$")
SEGMENT = re.compile(r"^(\w+)(?:\((.+)\))?$")


def _answer(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    if payload is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(payload, status_code=status, headers=headers)


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    try:
        return int(text)
    except ValueError:
        return float(text)


def _filter(text: str | None):
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip()) if text else []:
        match = CLAUSE.match(part)
        if not match:
            raise B1Error(-1000, f"Invalid $filter '{text}'")
        clauses.append((match.group(1), match.group(2), _literal(match.group(3))))
    return clauses


def _matches(record: dict, clauses) -> bool:
    for field, op, value in clauses:
        have = record.get(field)
        if have is None:
            return False
        if not {"eq": have == value, "ne": have != value, "gt": have > value, "ge": have >= value,
                "lt": have < value, "le": have <= value}[op]:
            return False
    return True


def visible(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_") and k != "id"}


class ServiceLayer:
    def __init__(self, parts: Parts, documents: Documents) -> None:
        self.parts, self.settings, self.store, self.documents = parts, parts.settings, parts.store, documents

    def routes(self) -> list[Route]:
        return [Route(ROOT + "/Login", self._login, methods=["POST"]),
                Route(ROOT + "/Logout", self._logout, methods=["POST"]),
                Route(ROOT + "/{rest:path}", self._serve, methods=["GET", "POST", "PATCH", "DELETE"])]

    # --- sessions ---------------------------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = {}
        user, password = body.get("UserName"), body.get("Password")
        if body.get("CompanyDB") != self.settings.company_db or self.settings.users.get(user) != password:
            return _answer(B1Error(100000027, "Login failed").body(), 401)
        session = secrets.token_hex(16)
        self.store.put("sessions", {"id": session, "user": user, "last_seen": time.time()})
        cookies = {"set-cookie": f"B1SESSION={session}; path=/b1s; HttpOnly"}
        response = _answer({"odata.metadata": f"{request.base_url}b1s/v1/$metadata#B1Sessions/@Element",
                            "SessionId": session, "Version": "1000190", "SessionTimeout": self.settings.session_timeout_min},
                           200, cookies)
        response.headers.append("set-cookie", "ROUTEID=.node1; path=/b1s")
        return response

    async def _logout(self, request: Request) -> Response:
        session = request.cookies.get("B1SESSION")
        if session:
            self.store.remove("sessions", session)
        return _answer(None, 204)

    def _session(self, request: Request) -> dict | None:
        session = self.store.get("sessions", request.cookies.get("B1SESSION") or "")
        idle = self.settings.real_seconds(self.settings.session_timeout_min * 60)
        if session is None or time.time() - session["last_seen"] > idle:
            return None
        session["last_seen"] = time.time()
        self.store.put("sessions", session)
        return session

    # --- requests ---------------------------------------------------------------------------------

    async def _serve(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return _answer(invalid_session().body(), 401)
        refused = injected_fault(self.parts, request)
        if refused is not None:
            return refused
        try:
            body = await json_body(request, {})
            with self.store.transaction():
                status, payload, headers = self.handle(request, body)
        except B1Error as error:
            status, payload, headers = error.status, error.body(), {}
        except (ValueError, KeyError, TypeError) as problem:
            status, payload, headers = 400, B1Error(-1000, str(problem)).body(), {}
        journal_answer(self.parts, request, status, [request.path_params["rest"].split("(")[0]],
                       user_name=session["user"])
        return _answer(payload, status, headers)

    def handle(self, request: Request, body: dict) -> tuple[int, Any, dict]:
        parts = request.path_params["rest"].strip("/").split("/")
        match = SEGMENT.match(parts[0])
        if not match or match.group(1) not in SETS:
            raise B1Error(-1000, f"Resource not found for the segment '{parts[0]}'.", 404)
        name, key = match.group(1), match.group(2)
        method = request.method
        if key is None:
            if method == "GET":
                return 200, self._list(request, name), {}
            if method == "POST" and name != "FinancePeriods":
                return 201, visible(self._add(name, body)), {}
            raise B1Error(-1000, f"Method {method} is not allowed on {name}.", 405)
        record = self.store.get(name, _literal(key))
        if record is None:
            raise no_match(f"{name}({key})")
        if len(parts) == 2 and parts[1] == "Cancel" and method == "POST" and name in (*DOCS, "IncomingPayments"):
            (self.documents.cancel_payment(record) if name == "IncomingPayments"
             else self.documents.cancel(name, record))
            return 204, None, {}
        if len(parts) != 1:
            raise B1Error(-1000, f"Resource not found for the segment '{parts[1]}'.", 404)
        if method == "GET":
            return 200, visible(record), {}
        if method == "PATCH" and name in DOCS:
            self.documents.patch(name, record, body)
            return 204, None, {}
        if method == "PATCH" and name in ("BusinessPartners", "Items"):
            record.update({k: v for k, v in body.items() if k != SETS[name]})
            self.documents.save(name, record)
            return 204, None, {}
        raise B1Error(-1000, f"Method {method} is not allowed on {name}({key}).", 405)

    def _add(self, name: str, body: dict) -> dict:
        if name in DOCS:
            return self.documents.add_document(name, body)
        if name == "IncomingPayments":
            return self.documents.add_payment(body)
        key = body.get(SETS[name])
        if not key:
            raise B1Error(-5002, f"Enter a code ({SETS[name]})")
        if self.store.get(name, key) is not None:
            raise exists()
        record = {"id": key, **body}
        if name == "BusinessPartners":
            record.setdefault("CardType", "cCustomer")
        return self.documents.save(name, record)

    def _list(self, request: Request, name: str) -> dict:
        query = request.query_params
        found = [r for r in self.store.all(name) if _matches(r, _filter(query.get("$filter")))]
        skip = int(query.get("$skip", 0))
        prefer = re.search(r"odata\.maxpagesize=(\d+)", request.headers.get("prefer", ""))
        size = min(int(prefer.group(1)), self.settings.max_page_size) if prefer else self.settings.page_size
        if query.get("$top"):
            found = found[:skip + int(query["$top"])]
        page = found[skip:skip + size]
        select = [f.strip() for f in (query.get("$select") or "").split(",") if f.strip()]
        rows = [{k: v for k, v in visible(r).items() if not select or k in select} for r in page]
        out: dict[str, Any] = {"odata.metadata": f"{request.base_url}b1s/v1/$metadata#{name}", "value": rows}
        if skip + size < len(found):
            rest = {k: v for k, v in query.items() if k != "$skip"}
            out["odata.nextLink"] = f"{name}?{urlencode({**rest, '$skip': skip + size})}"
        return out
