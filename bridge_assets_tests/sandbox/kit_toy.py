"""The smallest emulator the kit allows, to test the kit itself over real HTTP: "Notebook", a made-up
platform with one resource (notes), OAuth 2.0, Xero-like rate limits and Xero-like 429s.

Everything but the notes and their wire format is `bridge_assets.sandbox.kit`, which is the point:
this is what a new platform's emulator looks like once the kit does the rest.

    python -m bridge_assets_tests.sandbox.kit_toy --port 0 --state notebook.sqlite3
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge_assets.sandbox.kit import emulator, serving
from bridge_assets.sandbox.kit import wire as json_codec
from bridge_assets.sandbox.kit.admin import AdminPanel
from bridge_assets.sandbox.kit.faults import DroppedResponseGateway, FaultInjector, FaultRules, request_drop
from bridge_assets.sandbox.kit.limits import DAY, MINUTE, RateLimiter, RateLimits, Window
from bridge_assets.sandbox.kit.oauth import OAuthPolicy, OAuthProvider
from bridge_assets.sandbox.kit.settings import SettingsBase
from bridge_assets.sandbox.kit.state import SqliteState, journal_schema

CLIENT_ID, CLIENT_SECRET = "notebook-app", "notebook-secret"
TOKEN_PATH, REVOKE_PATH, AUTHORIZE_PATH = "/oauth/token", "/oauth/revoke", "/oauth/authorize"


@dataclasses.dataclass(frozen=True)
class Settings(SettingsBase):
    time_scale: float = 1.0
    access_token_lifetime_s: float = 1800
    refresh_token_grace_s: float = 0
    rotation: str = "always"
    per_minute: int = 60
    per_day: int = 5000
    concurrent: int = 5
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class Store(SqliteState):
    schema = ("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL);\n"
              + journal_schema("subject TEXT"))


def throttled() -> Response:
    """Xero's 429: a body of its own and the headers a client must honour."""
    return JSONResponse({"Title": "Too Many Requests", "Detail": "minute limit"}, status_code=429,
                        headers={"Retry-After": "2", "X-Rate-Limit-Problem": "minute"})


RULES = FaultRules(
    keys=("latency_ms", "fail_next", "fail_requests", "fail_status", "error_rate", "error_statuses", "seed",
          "throttle_next", "drop_next_writes", "drop_mode", "expire_tokens_on_request", "paths"),
    responses={429: throttled, 503: lambda: Response("down for maintenance", status_code=503)},
)


class Notebook:
    def __init__(self, parts: emulator.Parts) -> None:
        self.parts, self.store, self.oauth = parts, parts.store, parts.auth

    async def serve(self, request: Request, write: bool) -> Response:
        decision = self.parts.faults.decide(method=request.method, path=request.url.path)
        if decision.expire_tokens:
            self.oauth.expire(("access",))
        found = self.oauth.access(request.headers.get("authorization", "")[7:].strip())
        if found is None or found.state != "valid":
            return self._answer(request, JSONResponse({"problem": "unauthorized"}, 401), "unauthorized", "")
        who = {"org": found.subject}
        if self.parts.faults.take_throttle() or not self.parts.throttle.admit(who):
            return self._answer(request, throttled(), "throttled", found.subject)
        try:
            await asyncio.sleep(decision.latency_s)
            if decision.status:
                return self._answer(request, self.parts.faults.rules.response(decision.status), "injected",
                                    found.subject)
            if not write:
                notes = [dict(row) for row in self.store.fetchall("SELECT * FROM notes ORDER BY id")]
                return self._answer(request, JSONResponse({"notes": notes}), "processed", found.subject)
            text = json_codec.loads(await request.body())["text"]
            note_id = self.store.execute("INSERT INTO notes (text) VALUES (?)", (text,)).lastrowid
            mode = self.parts.faults.take_drop("*", ["note"], "reset")
            if mode:
                request_drop(request.scope, mode)
            return self._answer(request, JSONResponse({"id": note_id}), f"dropped:{mode}" if mode else "processed",
                                found.subject)
        finally:
            self.parts.throttle.release(who)

    def _answer(self, request: Request, response: Response, outcome: str, subject: str) -> Response:
        self.store.journal_append(request.method, request.url.path, request.url.query, response.status_code,
                                  outcome, subject=subject)
        return response

    async def read(self, request: Request) -> Response:
        return await self.serve(request, write=False)

    async def write(self, request: Request) -> Response:
        return await self.serve(request, write=True)


def create_app(state_path: str | Path, *, settings: Settings | None = None) -> emulator.EmulatorApp:
    settings = settings or Settings()
    store = Store(state_path)
    policy = OAuthPolicy(grants=("authorization_code", "client_credentials", "refresh_token"),
                         access_token_lifetime_s=settings.access_token_lifetime_s, refresh_token_lifetime_s=60 * 86400,
                         rotation=settings.rotation, grace_s=settings.refresh_token_grace_s,
                         time_scale=settings.time_scale)
    oauth = OAuthProvider(store, policy, clients={CLIENT_ID: CLIENT_SECRET})
    limits = RateLimits((Window("per_minute", settings.per_minute, MINUTE, key="org"),
                         Window("per_day", settings.per_day, DAY, key="org")),
                        concurrent=settings.concurrent, concurrent_key="org")
    parts = emulator.Parts(settings, store, FaultInjector(RULES, settings.faults), oauth,
                           RateLimiter(limits, real_seconds=settings.real_seconds))

    def reset(body: dict[str, Any]) -> str:
        store.execute("DELETE FROM notes")
        oauth.reset(clients=True)
        parts.throttle.reset()
        parts.faults.restore_initial()
        return "all"

    def respond(payload: Any, status: int) -> Response:
        return Response(json_codec.dumps(payload), status, media_type="application/json")

    panel = AdminPanel(store, respond, json_codec.loads, parts.faults, health=lambda: {}, reset=reset,
                       settings_view=settings.to_mapping, oauth=oauth)
    notebook = Notebook(parts)
    routes = [Route(TOKEN_PATH, oauth.token_endpoint, methods=["POST"]),
              Route(REVOKE_PATH, oauth.revoke_endpoint, methods=["POST"]),
              Route(AUTHORIZE_PATH, oauth.consent_endpoint(scope="notes", subject_param="org", default_subject="org-1"),
                    methods=["GET"]),
              Route("/api/notes", notebook.read, methods=["GET"]),
              Route("/api/notes", notebook.write, methods=["POST"]),
              *panel.routes()]
    return emulator.EmulatorApp(parts, routes, outermost=lambda app: DroppedResponseGateway(
        app, bad_gateway=lambda: Response("bad gateway", status_code=502), timeout_s=lambda: 0.2))


class AdminClient(serving.AdminHttpClient):
    def set_faults(self, **plan: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", plan)["plan"]

    def journal(self) -> list[dict[str, Any]]:
        return self._call("GET", "/journal")["journal"]

    def reset(self) -> None:
        self._call("POST", "/reset", {})


@dataclasses.dataclass
class Handle(emulator.EmulatorHandle):
    settings: Settings
    admin: AdminClient


KIND = emulator.EmulatorKind(
    name="Notebook", module="bridge_assets_tests.sandbox.kit_toy", description="A toy emulator on the kit.",
    state_help="SQLite file holding the notes", create_app=create_app, settings_type=Settings,
    admin_client=AdminClient, handle=Handle, spawned=emulator.spawned_type(Handle), options=(emulator.TIME_SCALE,),
    overrides=("time_scale",), uvicorn_options={"http": "h11"})


if __name__ == "__main__":
    sys.exit(KIND.main())
