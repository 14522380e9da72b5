"""Tiny real servers on loopback for the kit's tests: an API that records arrivals, an OAuth2 token endpoint.

Each runs uvicorn in a thread on a port of its own, so the kit's clients speak real HTTP to them
(and a child process can reach them too). They keep only what the tests read: when each request
arrived, how many were in flight at most, which refresh tokens were granted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import secrets
import socket
import threading
import time
import urllib.parse
from typing import Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@contextlib.contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """`app` on 127.0.0.1 in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the loopback server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class RecordingApi:
    """GET /items answers 200 after `delay_s`, recording each arrival (monotonic) and the most in flight."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.arrivals: list[float] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/items", self._items)])

    async def _items(self, request: Request) -> JSONResponse:
        with self._lock:
            self.arrivals.append(time.monotonic())
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            return JSONResponse({"items": []})
        finally:
            with self._lock:
                self.in_flight -= 1


@dataclasses.dataclass
class TokenEndpoint:
    """An OAuth2 token endpoint with rotating refresh tokens, as the platforms have them.

    `single_use`: a refresh token works once (FreshBooks); otherwise the one before the newest keeps
    working for `grace_s` after it was replaced (Xero: 30 minutes; QuickBooks: none). `json_body`:
    the grant comes as JSON with the client's id and secret in it (FreshBooks), else as a form with
    HTTP Basic (QuickBooks, Xero). `delay_s` keeps a grant open long enough for two callers to meet.
    """

    client_id: str = "kit-client"
    client_secret: str = "kit-secret-never-logged-5Zq"
    single_use: bool = False
    grace_s: float = 0.0
    json_body: bool = False
    delay_s: float = 0.0
    expires_in: int = 1800
    grants: int = 0                      # successful refresh grants
    calls: int = 0                       # every POST to /token

    def __post_init__(self) -> None:
        self.live: dict[str, float | None] = {}      # refresh token -> valid until (None: no end)
        self.access_tokens: set[str] = set()
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/token", self._token, methods=["POST"]),
                                     Route("/me", self._me)])

    def mint(self) -> str:
        token = "rt-" + secrets.token_hex(12)
        self.live[token] = None
        return token

    async def _token(self, request: Request) -> JSONResponse:
        fields, client = await self._read(request)
        self.calls += 1
        if client != (self.client_id, self.client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        with self._lock:
            old = fields.get("refresh_token", "")
            until = self.live.get(old, 0.0)
            if old not in self.live or (until is not None and until < time.time()):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            if self.single_use:
                del self.live[old]
            else:
                self.live[old] = time.time() + self.grace_s
            new = self.mint()
            access = "at-" + secrets.token_hex(12)
            self.access_tokens.add(access)
            self.grants += 1
        return JSONResponse({"access_token": access, "refresh_token": new, "token_type": "bearer",
                             "expires_in": self.expires_in})

    async def _me(self, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return JSONResponse({"ok": True})

    async def _read(self, request: Request) -> tuple[dict[str, str], tuple[str, str]]:
        if self.json_body:
            fields = json.loads(await request.body())
            return fields, (fields.get("client_id", ""), fields.get("client_secret", ""))
        fields = dict(urllib.parse.parse_qsl((await request.body()).decode("utf-8")))
        basic = request.headers.get("authorization", "").removeprefix("Basic ")
        pair = base64.b64decode(basic).decode("utf-8") if basic else ":"
        client_id, _, client_secret = pair.partition(":")
        return fields, (client_id, client_secret)
