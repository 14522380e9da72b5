"""Who may call the API: ServiceTrade sessions and OAuth2 bearer tokens.

Sessions (`POST /api/auth {"username", "password"}`): the answer's `data.authToken` is also set as the
`PHPSESSID` cookie, which every later request carries. A user holds at most
`max_sessions_per_user` live sessions; opening one more drops the OLDEST (its next request is 401),
which is why a bridge run must open one session and close it (`DELETE /api/auth`). A session idle for
`session_idle_timeout_s` (scaled) expires. Bad credentials are 403 (unconfirmed).

OAuth2 (`POST /api/oauth2/token`, form-encoded): `client_credentials` (id and secret in the form or as
HTTP Basic), `refresh_token`, and `password` (the official Python SDK's third grant). Access tokens
are JWT-shaped (the SDKs read `exp`) and live `access_token_lifetime_s` (scaled; `expires_in` keeps the
unscaled number). With `rotate_refresh_tokens` a refresh answers a new refresh token and the old one is
then `invalid_grant`. `POST /api/oauth2/revoke {refresh_token | token}` retires a token (as the PHP
SDK's disconnect does).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge_assets.sandbox.servicetrade import wire
from bridge_assets.sandbox.servicetrade.settings import EmulatorSettings
from bridge_assets.sandbox.servicetrade.store import Store

SESSION_COOKIE = "PHPSESSID"


@dataclasses.dataclass(frozen=True)
class Principal:
    kind: str      # "session" | "oauth"
    name: str      # username or client id
    serial: int    # which session / which access token

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}#{self.serial}"


class OAuthError(Exception):
    def __init__(self, error: str, status: int = 400, description: str | None = None) -> None:
        super().__init__(error)
        self.error, self.status, self.description = error, status, description

    def response(self) -> Response:
        body: dict[str, Any] = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return JSONResponse(body, status_code=self.status)


class Auth:
    def __init__(self, store: Store, settings: EmulatorSettings) -> None:
        self.store = store
        self.settings = settings
        self.ensure_accounts()

    # --- accounts --------------------------------------------------------------------------------

    def ensure_accounts(self) -> None:
        for username, password in self.settings.users.items():
            self.register_user(username, password)
        for client_id, secret in self.settings.clients.items():
            self.register_client(client_id, secret)

    def register_user(self, username: str, password: str) -> None:
        self.store.execute("INSERT INTO users (username, password) VALUES (?, ?) "
                           "ON CONFLICT (username) DO UPDATE SET password = excluded.password", (username, password))

    def register_client(self, client_id: str, client_secret: str) -> None:
        self.store.execute("INSERT INTO oauth_clients (client_id, client_secret) VALUES (?, ?) ON CONFLICT "
                           "(client_id) DO UPDATE SET client_secret = excluded.client_secret", (client_id, client_secret))

    def _password_ok(self, username: str, password: str) -> bool:
        row = self.store.fetchone("SELECT password FROM users WHERE username = ?", (username,))
        return row is not None and secrets.compare_digest(row["password"].encode(), password.encode())

    def _client_ok(self, client_id: str, client_secret: str) -> bool:
        row = self.store.fetchone("SELECT client_secret FROM oauth_clients WHERE client_id = ?", (client_id,))
        return row is not None and secrets.compare_digest(row["client_secret"].encode(), client_secret.encode())

    # --- sessions --------------------------------------------------------------------------------

    def login(self, body: Any) -> tuple[str, dict[str, Any]]:
        if not isinstance(body, dict):
            raise wire.invalid({"username": "username is required", "password": "password is required"})
        problems = {name: f"{name} is required" for name in ("username", "password")
                    if not isinstance(body.get(name), str) or not body.get(name)}
        if problems:
            raise wire.invalid(problems)
        username, password = body["username"], body["password"]
        if not self._password_ok(username, password):
            raise wire.ApiError(403, ["Invalid username or password"])
        now = time.time()
        token = secrets.token_hex(16)
        with self.store.transaction():
            serial = self.store.execute(
                "INSERT INTO sessions (token, username, created_at, last_seen) VALUES (?, ?, ?, ?)",
                (token, username, now, now)).lastrowid
            self._expire_idle_sessions(now)
            live = self.store.fetchall(
                "SELECT serial FROM sessions WHERE username = ? AND ended_at IS NULL ORDER BY created_at, serial",
                (username,))
            excess = len(live) - self.settings.max_sessions_per_user
            for row in live[:max(0, excess)]:
                self.store.execute("UPDATE sessions SET ended_at = ?, ended_reason = 'dropped' WHERE serial = ?",
                                   (now, row["serial"]))
        return token, {"authenticated": True, "authToken": token, "user": {"username": username},
                       "sessionId": serial}

    def logout(self, principal: Principal) -> None:
        if principal.kind == "session":
            self.store.execute("UPDATE sessions SET ended_at = ?, ended_reason = 'logout' "
                               "WHERE serial = ? AND ended_at IS NULL", (time.time(), principal.serial))

    def _expire_idle_sessions(self, now: float) -> None:
        idle = self.settings.real_seconds(self.settings.session_idle_timeout_s)
        self.store.execute("UPDATE sessions SET ended_at = ?, ended_reason = 'expired' "
                           "WHERE ended_at IS NULL AND last_seen < ?", (now, now - idle))

    def session_for(self, token: str) -> Principal | None:
        now = time.time()
        row = self.store.fetchone("SELECT * FROM sessions WHERE token = ?", (token,))
        if row is None or row["ended_at"] is not None:
            return None
        if row["last_seen"] < now - self.settings.real_seconds(self.settings.session_idle_timeout_s):
            self.store.execute("UPDATE sessions SET ended_at = ?, ended_reason = 'expired' WHERE serial = ?",
                               (now, row["serial"]))
            return None
        self.store.execute("UPDATE sessions SET last_seen = ? WHERE serial = ?", (now, row["serial"]))
        return Principal("session", row["username"], row["serial"])

    def sessions(self) -> list[dict[str, Any]]:
        self._expire_idle_sessions(time.time())
        rows = self.store.fetchall("SELECT serial, username, created_at, last_seen, ended_at, ended_reason "
                                   "FROM sessions ORDER BY serial")
        return [{**dict(row), "live": row["ended_at"] is None} for row in rows]

    # --- bearer tokens ---------------------------------------------------------------------------

    def bearer_for(self, token: str) -> Principal | None:
        row = self.store.fetchone("SELECT * FROM oauth_tokens WHERE token = ? AND kind = 'access'", (token,))
        if row is None or row["revoked_at"] is not None or row["expires_at"] <= time.time():
            return None
        return Principal("oauth", row["client_id"], row["serial"])

    def authenticate(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            principal = self.bearer_for(header[7:].strip())
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            principal = self.session_for(cookie) if cookie else None
        if principal is None:
            raise wire.unauthorized()
        return principal

    def mint_tokens(self, client_id: str) -> dict[str, Any]:
        now = time.time()
        access_expiry = now + self.settings.real_seconds(self.settings.access_token_lifetime_s)
        access = _jwt({"iss": "servicetrade-emulator", "sub": client_id, "iat": int(now),
                       "exp": int(access_expiry) + 1, "jti": secrets.token_hex(8)})
        refresh = "rt_" + secrets.token_urlsafe(32)
        with self.store.transaction():
            self.store.execute("INSERT INTO oauth_tokens (token, kind, client_id, issued_at, expires_at) "
                               "VALUES (?, 'access', ?, ?, ?)", (access, client_id, now, access_expiry))
            self.store.execute(
                "INSERT INTO oauth_tokens (token, kind, client_id, issued_at, expires_at) VALUES (?, 'refresh', ?, ?, ?)",
                (refresh, client_id, now, now + self.settings.real_seconds(self.settings.refresh_token_lifetime_s)))
        return {"access_token": access, "token_type": "Bearer",
                "expires_in": int(self.settings.access_token_lifetime_s), "refresh_token": refresh}

    async def token_endpoint(self, request: Request) -> Response:
        try:
            form = await _form(request)
            grant = form.get("grant_type")
            if grant == "client_credentials":
                client_id, secret = _client_credentials(request, form)
                if not self._client_ok(client_id, secret):
                    raise OAuthError("invalid_client", 401, "Unknown client or wrong secret")
                return JSONResponse(self.mint_tokens(client_id))
            if grant == "password":
                username, password = form.get("username", ""), form.get("password", "")
                if not self._password_ok(username, password):
                    raise OAuthError("invalid_grant", 400, "Invalid username or password")
                return JSONResponse(self.mint_tokens(username))
            if grant == "refresh_token":
                return JSONResponse(self._refresh(form.get("refresh_token", "")))
            raise OAuthError("unsupported_grant_type", 400,
                             "grant_type must be client_credentials, refresh_token or password")
        except OAuthError as failure:
            return failure.response()

    def _refresh(self, token: str) -> dict[str, Any]:
        now = time.time()
        row = self.store.fetchone("SELECT * FROM oauth_tokens WHERE token = ? AND kind = 'refresh'", (token,))
        if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
            raise OAuthError("invalid_grant", 400, "The refresh token is invalid, expired or already used")
        answer = self.mint_tokens(row["client_id"])
        if self.settings.rotate_refresh_tokens:
            self.store.execute("UPDATE oauth_tokens SET revoked_at = ?, revoked_reason = 'rotated' WHERE serial = ?",
                               (now, row["serial"]))
        else:
            self.store.execute("DELETE FROM oauth_tokens WHERE token = ?", (answer["refresh_token"],))
            answer["refresh_token"] = token
        return answer

    async def revoke_endpoint(self, request: Request) -> Response:
        try:
            form = await _form(request)
        except OAuthError as failure:
            return failure.response()
        token = form.get("refresh_token") or form.get("token") or ""
        self.store.execute("UPDATE oauth_tokens SET revoked_at = ?, revoked_reason = 'revoked' "
                           "WHERE token = ? AND revoked_at IS NULL", (time.time(), token))
        return JSONResponse({})  # like most OAuth servers: 200 whether or not the token was known

    # --- admin -----------------------------------------------------------------------------------

    def expire(self, *, username: str | None = None, client_id: str | None = None, sessions: bool = True,
               access_tokens: bool = True, refresh_tokens: bool = False) -> dict[str, int]:
        now = time.time()
        counts = {"sessions": 0, "access_tokens": 0, "refresh_tokens": 0}
        with self.store.transaction():
            if sessions and client_id is None:
                sql, params = "UPDATE sessions SET ended_at = ?, ended_reason = 'expired' WHERE ended_at IS NULL", [now]
                if username:
                    sql, params = sql + " AND username = ?", params + [username]
                counts["sessions"] = self.store.execute(sql, tuple(params)).rowcount
            for kind, wanted in (("access", access_tokens), ("refresh", refresh_tokens)):
                if not wanted or username is not None:
                    continue
                sql = ("UPDATE oauth_tokens SET expires_at = ?, revoked_reason = 'expired' "
                       "WHERE kind = ? AND revoked_at IS NULL AND expires_at > ?")
                params = [now, kind, now]
                if client_id:
                    sql, params = sql + " AND client_id = ?", params + [client_id]
                counts[f"{kind}_tokens"] = self.store.execute(sql, tuple(params)).rowcount
        return counts

    def tokens(self) -> list[dict[str, Any]]:
        now = time.time()
        rows = self.store.fetchall("SELECT serial, kind, client_id, issued_at, expires_at, revoked_at, revoked_reason "
                                   "FROM oauth_tokens ORDER BY serial")
        return [{**dict(row), "live": row["revoked_at"] is None and row["expires_at"] > now} for row in rows]


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", 400, "The token endpoint takes application/x-www-form-urlencoded")
    raw = (await request.body()).decode("utf-8", "replace")
    return {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return client_id, secret
        except ValueError:
            raise OAuthError("invalid_client", 401, "Malformed Basic credentials") from None
    return form.get("client_id", ""), form.get("client_secret", "")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(32))}"
