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

from starlette.requests import Request
from starlette.responses import JSONResponse

from bridge_assets.sandbox.kit.oauth import OAuthPolicy, OAuthProvider, TokenFormat
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


# The wording of ServiceTrade's OAuth refusals (unconfirmed), by situation (kit/oauth.py ERRORS).
_BAD_REFRESH = ("invalid_grant", 400, "The refresh token is invalid, expired or already used")
_BAD_GRANT = ("unsupported_grant_type", 400, "grant_type must be client_credentials, refresh_token or password")
ERRORS = {
    "client_malformed": ("invalid_client", 401, "Malformed Basic credentials"),
    "client_invalid": ("invalid_client", 401, "Unknown client or wrong secret"),
    "password_invalid": ("invalid_grant", 400, "Invalid username or password"),
    "refresh_missing": _BAD_REFRESH, "refresh_invalid": _BAD_REFRESH,
    "grant_type_missing": _BAD_GRANT, "grant_type_unsupported": _BAD_GRANT,
    "token_missing": None,  # like most OAuth servers: a revoke answers 200 whatever it was given
}


def oauth_policy(settings: EmulatorSettings) -> OAuthPolicy:
    return OAuthPolicy(
        grants=("client_credentials", "refresh_token", "password"),
        access_token_lifetime_s=settings.access_token_lifetime_s,
        refresh_token_lifetime_s=settings.refresh_token_lifetime_s,
        rotation="always" if settings.rotate_refresh_tokens else "never", rolling_refresh_expiry=False,
        grace_s=settings.refresh_token_grace_s, revoke_ends_grant=False, basic_client_auth=False,
        form_only=True, token_type="Bearer", no_store=False, time_scale=settings.time_scale,
    )


def _access_token(subject: str, issued: float, expires: float) -> str:
    return _jwt({"iss": "servicetrade-emulator", "sub": subject, "iat": int(issued), "exp": int(expires) + 1,
                 "jti": secrets.token_hex(8)})


TOKENS = TokenFormat(access=_access_token, refresh=lambda: "rt_" + secrets.token_urlsafe(32))


class Auth:
    def __init__(self, store: Store, settings: EmulatorSettings) -> None:
        self.store = store
        self.settings = settings
        self.oauth = OAuthProvider(store, oauth_policy(settings), clients=settings.clients, errors=ERRORS,
                                   tokens=TOKENS, password_check=self._password_ok,
                                   revoke_response=lambda: JSONResponse({}))
        self.token_endpoint = self.oauth.token_endpoint
        self.revoke_endpoint = self.oauth.revoke_endpoint
        self.ensure_accounts()

    # --- accounts --------------------------------------------------------------------------------

    def ensure_accounts(self) -> None:
        for username, password in self.settings.users.items():
            self.register_user(username, password)
        self.oauth.register_clients()

    def register_user(self, username: str, password: str) -> None:
        self.store.execute("INSERT INTO users (username, password) VALUES (?, ?) "
                           "ON CONFLICT (username) DO UPDATE SET password = excluded.password", (username, password))

    def register_client(self, client_id: str, client_secret: str) -> None:
        self.oauth.register_client(client_id, client_secret)

    def reset(self) -> None:
        """Forget every session, token and account; the start-up accounts come back."""
        self.oauth.reset(clients=True)
        self.ensure_accounts()

    def _password_ok(self, username: str, password: str) -> bool:
        row = self.store.fetchone("SELECT password FROM users WHERE username = ?", (username,))
        return row is not None and secrets.compare_digest(row["password"].encode(), password.encode())

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
        found = self.oauth.access(token)
        return Principal("oauth", found.client_id, found.serial) if found and found.state == "valid" else None

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
        """A token pair for a client, without the token endpoint (the admin panel's shortcut)."""
        return self.oauth.mint_tokens(client_id, client_id)

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
        kinds = tuple(kind for kind, wanted in (("access", access_tokens), ("refresh", refresh_tokens)) if wanted)
        if username is None:
            for kind, count in self.oauth.expire(kinds, client_id=client_id).items():
                counts[f"{kind}_tokens"] = count
        return counts

    def tokens(self) -> list[dict[str, Any]]:
        return self.oauth.tokens()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(32))}"
