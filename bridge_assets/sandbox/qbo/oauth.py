"""Intuit's OAuth 2.0 server, as the bridge meets it: token endpoint, revoke, and bearer checks.

    POST /oauth2/v1/tokens/bearer     form-encoded, HTTP Basic client id/secret;
                                      grant_type=authorization_code (code, redirect_uri) or
                                      grant_type=refresh_token (refresh_token)
    POST /v2/oauth2/tokens/revoke     HTTP Basic; JSON or form {"token": access or refresh token}
    GET  /connect/oauth2              the consent page, auto-approved: redirects to redirect_uri with
                                      code, state and realmId (emulator: ?realmId= picks the company)

Access tokens live `access_token_lifetime_s` (3600) and refresh tokens `refresh_token_lifetime_s`
(100 days, rolling), both divided by `time_scale`. `expires_in` is always the API's own number: the
client is told 3600 even when the emulator lets the token die after one scaled minute, so the
"expired early, got 401, refreshed" path is exercised like in production.

Refresh-token rotation follows `refresh_token_rotation`. Once a refresh token has been replaced by a
new value, presenting the old one is `400 {"error": "invalid_grant"}`: the failure behind most broken
QuickBooks integrations (two workers refreshing at once, or a rotated token not saved).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import secrets
import time
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from bridge_assets.sandbox.qbo import errors
from bridge_assets.sandbox.qbo.settings import EmulatorSettings
from bridge_assets.sandbox.qbo.store import Store

TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"
AUTHORIZE_PATH = "/connect/oauth2"
SCOPE = "com.intuit.quickbooks.accounting"


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who a valid bearer token speaks for."""

    realm_id: str
    client_id: str
    grant_id: str


class OAuthError(Exception):
    def __init__(self, error: str, status: int = 400, description: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.description = description

    def response(self) -> Response:
        body: dict[str, Any] = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return JSONResponse(body, status_code=self.status)


class OAuthServer:
    def __init__(self, store: Store, settings: EmulatorSettings,
                 ensure_company: Callable[[str], object] | None = None) -> None:
        self.store = store
        self.settings = settings
        # Consent creates the company when it is new, like connecting a fresh sandbox company.
        self.ensure_company = ensure_company or (lambda realm_id: None)
        for client_id, secret in settings.clients.items():
            self.register_client(client_id, secret)

    # --- clients, codes, tokens ------------------------------------------------------------------

    def register_client(self, client_id: str, client_secret: str) -> None:
        self.store.execute(
            "INSERT INTO oauth_clients (client_id, client_secret) VALUES (?, ?) "
            "ON CONFLICT (client_id) DO UPDATE SET client_secret = excluded.client_secret",
            (client_id, client_secret),
        )

    def default_client_id(self) -> str:
        return next(iter(self.settings.clients), "bridge-sandbox-client")

    def _check_client(self, client_id: str) -> None:
        if self.store.fetchone("SELECT 1 FROM oauth_clients WHERE client_id = ?", (client_id,)) is None:
            raise OAuthError("invalid_client", 401, f"unknown client_id {client_id!r}")

    def mint_authorization_code(self, realm_id: str, client_id: str, redirect_uri: str | None = None) -> str:
        self._check_client(client_id)
        code = "AB11" + secrets.token_urlsafe(24)
        expires_at = time.time() + self.settings.real_seconds(self.settings.authorization_code_lifetime_s)
        self.store.execute(
            "INSERT INTO oauth_codes (code, client_id, realm_id, redirect_uri, expires_at) VALUES (?, ?, ?, ?, ?)",
            (code, client_id, realm_id, redirect_uri, expires_at),
        )
        return code

    def mint_tokens(self, realm_id: str, client_id: str) -> dict[str, Any]:
        """A fresh grant for a company and client, as if the user had just clicked "Connect"."""
        self._check_client(client_id)
        grant_id = secrets.token_hex(8)
        with self.store.transaction():
            self.store.execute(
                "INSERT INTO oauth_grants (grant_id, client_id, realm_id, created_at) VALUES (?, ?, ?, ?)",
                (grant_id, client_id, realm_id, time.time()),
            )
            refresh_token = self._new_refresh_token(grant_id)
            return self._token_response(grant_id, refresh_token)

    def _new_refresh_token(self, grant_id: str) -> str:
        now = time.time()
        token = "AB11" + secrets.token_urlsafe(36)
        self.store.execute(
            "INSERT INTO oauth_refresh_tokens (token, grant_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
            (token, grant_id, now, now + self.settings.real_seconds(self.settings.refresh_token_lifetime_s)),
        )
        return token

    def _token_response(self, grant_id: str, refresh_token: str) -> dict[str, Any]:
        access_token = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + secrets.token_urlsafe(48)
        self.store.execute(
            "INSERT INTO oauth_access_tokens (token, grant_id, expires_at) VALUES (?, ?, ?)",
            (access_token, grant_id,
             time.time() + self.settings.real_seconds(self.settings.access_token_lifetime_s)),
        )
        return {
            "token_type": "bearer",
            "access_token": access_token,
            "refresh_token": refresh_token,
            "expires_in": self.settings.access_token_lifetime_s,
            "x_refresh_token_expires_in": self.settings.refresh_token_lifetime_s,
        }

    def exchange_code(self, client_id: str, code: str | None, redirect_uri: str | None) -> dict[str, Any]:
        if not code:
            raise OAuthError("invalid_request", description="code is required")
        with self.store.transaction():
            row = self.store.fetchone("SELECT * FROM oauth_codes WHERE code = ?", (code,))
            if (row is None or row["used"] or row["client_id"] != client_id or row["expires_at"] < time.time()
                    or (row["redirect_uri"] and row["redirect_uri"] != redirect_uri)):
                raise OAuthError("invalid_grant")
            self.store.execute("UPDATE oauth_codes SET used = 1 WHERE code = ?", (code,))
            grant_id = secrets.token_hex(8)
            self.store.execute(
                "INSERT INTO oauth_grants (grant_id, client_id, realm_id, created_at) VALUES (?, ?, ?, ?)",
                (grant_id, client_id, row["realm_id"], time.time()),
            )
            refresh_token = self._new_refresh_token(grant_id)
            return self._token_response(grant_id, refresh_token)

    def refresh(self, client_id: str, refresh_token: str | None) -> dict[str, Any]:
        if not refresh_token:
            raise OAuthError("invalid_request", description="refresh_token is required")
        now = time.time()
        with self.store.transaction():
            row = self.store.fetchone(
                "SELECT t.*, g.client_id, g.revoked FROM oauth_refresh_tokens t "
                "JOIN oauth_grants g ON g.grant_id = t.grant_id WHERE t.token = ?",
                (refresh_token,),
            )
            if (row is None or row["client_id"] != client_id or row["revoked"] or row["superseded_at"] is not None
                    or row["expires_at"] < now):
                raise OAuthError("invalid_grant")
            policy = self.settings.refresh_token_rotation
            age = now - row["issued_at"]
            rotate = policy == "always" or (
                policy == "daily" and age >= self.settings.real_seconds(self.settings.refresh_token_rotation_period_s))
            if rotate:
                self.store.execute("UPDATE oauth_refresh_tokens SET superseded_at = ? WHERE token = ?",
                                   (now, refresh_token))
                new_token = self._new_refresh_token(row["grant_id"])
            else:
                # Rolling lifetime: every use pushes the expiry out again.
                self.store.execute(
                    "UPDATE oauth_refresh_tokens SET expires_at = ? WHERE token = ?",
                    (now + self.settings.real_seconds(self.settings.refresh_token_lifetime_s), refresh_token),
                )
                new_token = refresh_token
            return self._token_response(row["grant_id"], new_token)

    def revoke(self, client_id: str, token: str | None) -> None:
        """Revoking either token of a grant ends the whole grant, as Intuit's revoke does."""
        if not token:
            raise OAuthError("invalid_request", description="token is required")
        with self.store.transaction():
            row = self.store.fetchone(
                "SELECT grant_id FROM oauth_refresh_tokens WHERE token = ? "
                "UNION SELECT grant_id FROM oauth_access_tokens WHERE token = ?",
                (token, token),
            )
            if row is not None:
                self.store.execute("UPDATE oauth_grants SET revoked = 1 WHERE grant_id = ? AND client_id = ?",
                                   (row["grant_id"], client_id))

    def expire_access_tokens(self, realm_id: str | None = None, access_token: str | None = None) -> int:
        """Admin: make access tokens expire now (all, one company's, or one token)."""
        past = time.time() - 1
        if access_token:
            cursor = self.store.execute("UPDATE oauth_access_tokens SET expires_at = ? WHERE token = ?",
                                        (past, access_token))
        elif realm_id:
            cursor = self.store.execute(
                "UPDATE oauth_access_tokens SET expires_at = ? WHERE expires_at > ? AND grant_id IN "
                "(SELECT grant_id FROM oauth_grants WHERE realm_id = ?)",
                (past, past, realm_id),
            )
        else:
            cursor = self.store.execute("UPDATE oauth_access_tokens SET expires_at = ? WHERE expires_at > ?",
                                        (past, past))
        return cursor.rowcount

    def authenticate(self, authorization: str | None, realm_id: str) -> Caller | Response:
        """The caller behind `Authorization: Bearer ...`, or the 401 QuickBooks answers."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return errors.authentication_failed("Authorization header missing or not a Bearer token")
        token = authorization[7:].strip()
        row = self.store.fetchone(
            "SELECT a.expires_at, g.realm_id, g.client_id, g.grant_id, g.revoked FROM oauth_access_tokens a "
            "JOIN oauth_grants g ON g.grant_id = a.grant_id WHERE a.token = ?",
            (token,),
        )
        if row is None:
            return errors.authentication_failed("Token invalid")
        if row["revoked"]:
            return errors.authentication_failed("Token revoked")
        if row["expires_at"] < time.time():
            return errors.authentication_failed(f"Token expired: {token[-12:]}")
        if row["realm_id"] != realm_id:
            return errors.authentication_failed(f"Token was not issued for company {realm_id}")
        return Caller(row["realm_id"], row["client_id"], row["grant_id"])

    # --- HTTP endpoints --------------------------------------------------------------------------

    def _basic_client(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            raise OAuthError("invalid_client", 401, "HTTP Basic client authentication is required")
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", 401) from None
        row = self.store.fetchone("SELECT client_secret FROM oauth_clients WHERE client_id = ?", (client_id,))
        if row is None or not secrets.compare_digest(row["client_secret"], secret):
            raise OAuthError("invalid_client", 401)
        return client_id

    async def token_endpoint(self, request: Request) -> Response:
        try:
            client_id = self._basic_client(request)
            form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                payload = self.exchange_code(client_id, form.get("code"), form.get("redirect_uri"))
            elif grant_type == "refresh_token":
                payload = self.refresh(client_id, form.get("refresh_token"))
            elif not grant_type:
                raise OAuthError("invalid_request", description="grant_type is required")
            else:
                raise OAuthError("unsupported_grant_type")
        except OAuthError as failure:
            return failure.response()
        return JSONResponse(payload, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def revoke_endpoint(self, request: Request) -> Response:
        try:
            client_id = self._basic_client(request)
            raw = (await request.body()).decode("utf-8", "replace")
            try:
                token = json.loads(raw).get("token") if raw.strip().startswith("{") else None
            except ValueError:
                token = None
            if token is None:
                token = next(iter(parse_qs(raw).get("token", [])), None)
            self.revoke(client_id, token)
        except OAuthError as failure:
            return failure.response()
        return Response(status_code=200)

    async def authorize_endpoint(self, request: Request) -> Response:
        params = request.query_params
        client_id, redirect_uri = params.get("client_id"), params.get("redirect_uri")
        if not client_id or not redirect_uri or params.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if SCOPE not in (params.get("scope") or "").split():
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        realm_id = params.get("realmId") or self.settings.default_realm_id
        try:
            self._check_client(client_id)
            self.ensure_company(realm_id)
            code = self.mint_authorization_code(realm_id, client_id, redirect_uri)
        except OAuthError as failure:
            return failure.response()
        query = {"code": code, "realmId": realm_id}
        if params.get("state") is not None:
            query["state"] = params["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)
