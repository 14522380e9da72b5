"""The `/_emulator/...` control panel every emulator has, mounted the same way.

No authentication (the emulators listen on loopback), no faults, no throttle, not journaled: these
calls stand for what a person does in the platform's UI or what a test needs to see or break.

Common to every emulator (`AdminPanel.routes` adds the emulator's own after them):

    GET    /_emulator/health          {"status": "ok", ...what the emulator adds}
    GET    /_emulator/settings        the settings in force (secrets masked where the emulator says so)
    POST   /_emulator/reset           forget everything (or one scope, for an emulator with scopes)
    GET    /_emulator/faults          {"faults": {scope: plan}}
    POST   /_emulator/faults          a fault plan (faults.py); an emulator with scopes (QBO's companies)
                                      names the scope in the body (`fault_scope`, e.g. "realmId")
    DELETE /_emulator/faults[?<scope>=]
    GET    /_emulator/journal[?since=seq]   every API request, for emulators with one journal
    POST   /_emulator/clients         {"client_id", "client_secret"}: register an OAuth app (emulators
                                      with an OAuth provider)

Every endpoint answers a refusal (`AdminError`, with its status) or a malformed body or parameter
(ValueError, TypeError, KeyError: 400, named by type) as `{"error": "..."}`, never a bare 500.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bridge_assets.sandbox.kit.faults import FaultInjector
from bridge_assets.sandbox.kit.oauth import OAuthProvider
from bridge_assets.sandbox.kit.serving import ADMIN_PREFIX
from bridge_assets.sandbox.kit.state import SqliteState

Endpoint = Callable[[Request], Awaitable[Response]]
OwnRoute = tuple[str, Endpoint, list[str]]


class AdminError(Exception):
    """A refused admin call; `status` is what it answers (400 unless said otherwise)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class AdminPanel:
    store: SqliteState
    respond: Callable[[Any, int], Response]     # the emulator's JSON answer (its own number format)
    loads: Callable[[bytes], Any]               # the emulator's JSON parser (Decimal money)
    faults: FaultInjector
    health: Callable[[], dict[str, Any]]
    settings_view: Callable[[], dict[str, Any]]
    reset: Callable[[dict[str, Any]], str]      # the body -> what was reset ("all", or a scope)
    fault_scope: str | None = None              # body key / query parameter naming a fault scope
    journal: bool = True                        # mount GET /journal (QBO's journal is per company)
    refusals: tuple[type[Exception], ...] = ()  # exceptions that answer themselves (`.response()`)
    oauth: OAuthProvider | None = None          # mount POST /clients

    def routes(self, own: Sequence[OwnRoute] = ()) -> list[BaseRoute]:
        common: list[OwnRoute] = [
            ("/health", self._health, ["GET"]),
            ("/settings", self._settings, ["GET"]),
            ("/reset", self._reset, ["POST"]),
            ("/faults", self._read_faults, ["GET"]),
            ("/faults", self._set_faults, ["POST"]),
            ("/faults", self._clear_faults, ["DELETE"]),
        ]
        if self.journal:
            common.append(("/journal", self._journal, ["GET"]))
        if self.oauth is not None:
            common.append(("/clients", self._register_client, ["POST"]))
        return [Route(ADMIN_PREFIX + path, self.guard(endpoint), methods=methods)
                for path, endpoint, methods in [*common, *own]]

    def guard(self, endpoint: Endpoint) -> Endpoint:
        async def call(request: Request) -> Response:
            try:
                return await endpoint(request)
            except AdminError as problem:
                return self.respond({"error": str(problem)}, problem.status)
            except self.refusals as failure:
                return failure.response()
            except (ValueError, TypeError, KeyError) as problem:
                return self.respond({"error": f"{type(problem).__name__}: {problem}"}, 400)

        return call

    async def body(self, request: Request) -> dict[str, Any]:
        """The request body as a JSON object; an empty body is `{}`, anything but an object is refused."""
        raw = await request.body()
        if not raw.strip():
            return {}
        body = self.loads(raw)
        if not isinstance(body, dict):
            raise AdminError("the body must be a JSON object")
        return body

    # --- the common endpoints ----------------------------------------------------------------------

    async def _health(self, request: Request) -> Response:
        return self.respond({"status": "ok", **self.health()}, 200)

    async def _settings(self, request: Request) -> Response:
        return self.respond(self.settings_view(), 200)

    async def _reset(self, request: Request) -> Response:
        return self.respond({"reset": self.reset(await self.body(request))}, 200)

    async def _read_faults(self, request: Request) -> Response:
        return self.respond({"faults": self.faults.plans()}, 200)

    async def _set_faults(self, request: Request) -> Response:
        body = await self.body(request)
        scope = body.pop(self.fault_scope, None) if self.fault_scope else None
        plan = self.faults.set_plan(body, scope)
        return self.respond({"scope": scope or "*", "plan": self.faults.show(plan)}, 200)

    async def _clear_faults(self, request: Request) -> Response:
        scope = request.query_params.get(self.fault_scope) if self.fault_scope else None
        self.faults.clear(scope or None)
        return self.respond({"faults": self.faults.plans()}, 200)

    async def _journal(self, request: Request) -> Response:
        since = int(request.query_params.get("since") or 0)
        return self.respond({"journal": self.store.journal_rows(since=since)}, 200)

    async def _register_client(self, request: Request) -> Response:
        body = await self.body(request)
        if not body.get("client_id") or not body.get("client_secret"):
            raise AdminError("client_id and client_secret are required")
        self.oauth.register_client(str(body["client_id"]), str(body["client_secret"]))
        return self.respond({"client_id": body["client_id"]}, 200)
