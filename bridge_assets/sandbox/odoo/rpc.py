"""Odoo's external RPC API over XML-RPC, as `/xmlrpc/2/common` and `/xmlrpc/2/object` serve it.

    common   version() -> {server_version, server_version_info, server_serie, protocol_version}
             authenticate(db, login, password_or_key, user_agent_env) -> uid, or False
             login(db, login, password) -> uid, or False
    object   execute_kw(db, uid, password, model, method, args[, kwargs]) -> the method's result
             execute(db, uid, password, model, method, *args)
    GET /web/version  {"version_info": [...], "version": "17.0"}   (JSON, as Odoo answers it)

Stateless, as Odoo is: db, uid and password (or API key) ride on every call; a wrong one is the fault
"Access Denied" (code 3). An Odoo exception is an XML-RPC Fault with the codes of errors.py; the
answer's HTTP status stays 200. None is never sent (Odoo's marshaller answers False).

Faults injected by the kit (faults.py) answer what stands in front of Odoo (nginx): 502/503/504 pages,
429 with Retry-After. A dropped answer (`drop_next_writes`) loses the answer of a committed write;
`drop_entities` names a model ("account.move") or one of its methods ("account.move.reversal.modify_moves").
"""

from __future__ import annotations

import datetime as dt
import traceback
import xmlrpc.client
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.faults import request_drop
from bridge_assets.sandbox.odoo.errors import FAULT_APPLICATION, AccessDenied, OdooError
from bridge_assets.sandbox.odoo.models import Database

READS = {"search", "search_read", "search_count", "read", "fields_get", "name_search"}


def _plain(value: Any) -> Any:
    if value is None:
        return False
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class OdooRpc:
    def __init__(self, parts: Parts, database: Database) -> None:
        self.parts = parts
        self.settings = parts.settings
        self.database = database
        self.store = database.store

    def routes(self) -> list[Route]:
        return [Route("/xmlrpc/2/common", self._common, methods=["POST"]),
                Route("/xmlrpc/2/object", self._object, methods=["POST"]),
                Route("/web/version", self._web_version, methods=["GET", "POST"])]

    def version(self) -> dict[str, Any]:
        major, minor = (self.settings.server_version.split(".") + ["0"])[:2]
        info = [int(major), int(minor), 0, "final", 0, ""]
        return {"server_version": self.settings.server_version, "server_version_info": info,
                "server_serie": self.settings.server_version, "protocol_version": 1}

    async def _web_version(self, request: Request) -> Response:
        version = self.version()
        return JSONResponse({"version_info": version["server_version_info"], "version": version["server_version"]})

    async def _common(self, request: Request) -> Response:
        return await self._serve(request, self._dispatch_common)

    async def _object(self, request: Request) -> Response:
        return await self._serve(request, self._dispatch_object)

    async def _serve(self, request: Request, dispatch) -> Response:
        decision = self.parts.faults.decide(method=request.method, path=request.url.path)
        if decision.status is not None:
            self.store.journal_append(request.method, request.url.path, "", decision.status, "injected")
            return self.parts.faults.rules.response(decision.status)
        if decision.latency_s:
            import asyncio
            await asyncio.sleep(decision.latency_s)
        try:
            params, method = xmlrpc.client.loads(await request.body(), use_builtin_types=True)
        except Exception as problem:       # not XML-RPC at all
            return Response(f"<html><body><h1>400 Bad Request</h1><p>{type(problem).__name__}</p></body></html>",
                            status_code=400, media_type="text/html")
        meta: dict[str, Any] = {"login": None, "model": None, "rpc_method": method}
        try:
            result = dispatch(method, list(params), meta)
            body = xmlrpc.client.dumps((_plain(result),), methodresponse=True, allow_none=False)
            outcome = "processed"
        except OdooError as error:
            body = xmlrpc.client.dumps(xmlrpc.client.Fault(error.fault_code, str(error)), methodresponse=True)
            outcome = "refused"
        except Exception:                 # Odoo answers any other exception as code 1 with its traceback
            body = xmlrpc.client.dumps(xmlrpc.client.Fault(FAULT_APPLICATION, traceback.format_exc()),
                                       methodresponse=True)
            outcome = "error"
        wrote = outcome == "processed" and meta["model"] is not None and meta["rpc_method"] not in READS
        mode = None
        if wrote:
            touched = [meta["model"], f"{meta['model']}.{meta['rpc_method']}"]   # drop_entities names either
            mode = self.parts.faults.take_drop("*", touched, "reset")
            if mode:
                request_drop(request.scope, mode)
        self.store.journal_append(request.method, request.url.path, "", 200,
                                  f"dropped:{mode}" if mode else outcome, **meta)
        return Response(body, media_type="text/xml")

    # --- services ---------------------------------------------------------------------------------

    def _dispatch_common(self, method: str, params: list, meta: dict) -> Any:
        if method == "version":
            return self.version()
        if method in ("authenticate", "login"):
            db, login, password = params[:3]
            meta["login"] = login
            user = self._user(db, login, password)
            return user["id"] if user else False
        raise OdooError(f'Method not available {method}')

    def _dispatch_object(self, method: str, params: list, meta: dict) -> Any:
        if method not in ("execute_kw", "execute"):
            raise OdooError(f"Method not available {method}")
        db, uid, password, model, model_method, *rest = params
        user = self.store.get("res.users", uid) if isinstance(uid, int) else None
        if user is None or self._user(db, user["login"], password) is None:
            raise AccessDenied()
        meta.update(login=user["login"], model=model, rpc_method=model_method)
        if method == "execute_kw":
            args = rest[0] if rest else []
            kwargs = rest[1] if len(rest) > 1 else {}
        else:
            args, kwargs = rest, {}
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise ValueError("execute_kw takes a list of positional arguments and a dict of keyword arguments")
        return self.database.execute(set(user["groups"]), model, model_method, args, kwargs)

    def _user(self, db: str, login: str, password: str) -> dict[str, Any] | None:
        if db != self.settings.database:
            raise OdooError(f'database "{db}" does not exist')
        for user in self.store.all("res.users"):
            if user["login"] == login and user["active"]:
                if password == user["password"] or password in user.get("api_keys", []):
                    return user
                return None
        return None


def seed_database(store, settings) -> None:
    """The records every fresh database has: the company, its journal and currency, the users."""
    with store.transaction():
        if store.all("res.company"):
            return
        store.put("res.company", {"id": store.next_id("res.company"), "name": settings.company,
                                  "period_lock_date": False, "fiscalyear_lock_date": False})
        store.put("account.journal", {"id": store.next_id("account.journal"), "name": "Customer Invoices",
                                      "code": "INV", "type": "sale"})
        store.put("res.currency", {"id": store.next_id("res.currency"), "name": "USD"})
        for login, user in settings.users.items():
            store.put("res.users", {"id": store.next_id("res.users"), "login": login, "name": login,
                                    "password": user["password"], "groups": list(user.get("groups") or []),
                                    "active": True, "api_keys": []})


__all__ = ["OdooRpc", "seed_database", "dt"]
