"""Credentials, in whichever scheme `EmulatorSettings.auth_scheme` names (none is confirmed upstream).

"token": an OWIN-style resource-owner token endpoint, the usual shape on ASP.NET Web API hosts:

    POST /api/token   Content-Type: application/x-www-form-urlencoded
         grant_type=password&username=...&password=...      (+ the API key header if required)
    200  {"access_token": "...", "token_type": "bearer", "expires_in": 1799, "userName": "...",
          ".issued": "...", ".expires": "..."}
    400  {"error": "invalid_grant", "error_description": "The user name or password is incorrect."}

then `Authorization: Bearer <token>` on every request. An expired or unknown token is answered 401
with `WWW-Authenticate: Bearer error="invalid_token"` and the configured error body.

"basic": `Authorization: Basic base64(username:password)` on every request.
"api_key": the key in the `api_key_header` header on every request.

Tokens are stored as their sha256 only, with their expiry, so they survive a restart.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import hmac
import secrets
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.sedona_api import wire
from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings
from bridge_assets.sandbox.sedona_api.store import Store

DENIED = "Authorization has been denied for this request."


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class Authenticator:
    def __init__(self, store: Store, settings: EmulatorSettings) -> None:
        self.store = store
        self.settings = settings

    async def token_endpoint(self, request: Request) -> Response:
        settings = self.settings
        if settings.auth_scheme != "token":
            return wire.error_response(settings, 404, f"No HTTP resource was found that matches the request URI "
                                                      f"'{request.url.path}'.")
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "password":
            return wire.json_response({"error": "unsupported_grant_type"}, 400)
        if settings.token_requires_api_key and not _same(request.headers.get(settings.api_key_header), settings.api_key):
            return wire.json_response({"error": "invalid_client", "error_description": "The API key is missing or wrong."}, 400)
        if not (_same(form.get("username"), settings.username) and _same(form.get("password"), settings.password)):
            return wire.json_response({"error": "invalid_grant",
                                       "error_description": "The user name or password is incorrect."}, 400)
        token = secrets.token_urlsafe(32)
        expires_at = self.store.add_token(token, settings.username, settings.token_lifetime_s)
        issued = dt.datetime.now(dt.timezone.utc)
        return wire.json_response({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": max(settings.token_lifetime_s - 1, 0),
            "userName": settings.username,
            ".issued": email.utils.format_datetime(issued, usegmt=True),
            ".expires": email.utils.format_datetime(dt.datetime.fromtimestamp(expires_at, dt.timezone.utc), usegmt=True),
        }, headers={"Cache-Control": "no-cache", "Pragma": "no-cache"})

    def check(self, request: Request) -> tuple[bool, str]:
        """(allowed, why not): "missing", "expired", "invalid" or "" when allowed."""
        settings = self.settings
        header = request.headers.get("authorization", "")
        if settings.auth_scheme == "api_key":
            given = request.headers.get(settings.api_key_header)
            if given is None:
                return False, "missing"
            return (True, "") if _same(given, settings.api_key) else (False, "invalid")
        if settings.auth_scheme == "basic":
            if not header.lower().startswith("basic "):
                return False, "missing"
            try:
                user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False, "invalid"
            ok = _same(user, settings.username) and _same(password, settings.password)
            return (True, "") if ok else (False, "invalid")
        if not header.lower().startswith("bearer "):
            return False, "missing"
        state = self.store.token_state(header[7:].strip())
        if state == "valid":
            return True, ""
        return False, "expired" if state == "expired" else "invalid"

    def denied(self, why: str) -> Response:
        headers = {}
        if self.settings.auth_scheme == "token":
            detail = "The access token expired" if why == "expired" else "The access token is invalid"
            headers["WWW-Authenticate"] = (
                "Bearer" if why == "missing" else f'Bearer error="invalid_token", error_description="{detail}"')
        elif self.settings.auth_scheme == "basic":
            headers["WWW-Authenticate"] = 'Basic realm="SedonaAPI"'
        return wire.error_response(self.settings, 401, DENIED, headers=headers)
