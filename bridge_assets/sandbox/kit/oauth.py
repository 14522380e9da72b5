"""An OAuth 2.0 provider an emulator configures instead of writing: grants, rotation, revoke, bearer checks.

    provider = OAuthProvider(store, OAuthPolicy(grants=("authorization_code", "refresh_token"), ...),
                             clients={"id": "secret"}, errors={...the platform's wording...})
    Route(TOKEN_PATH, provider.token_endpoint, methods=["POST"])
    Route(REVOKE_PATH, provider.revoke_endpoint, methods=["POST"])
    Route(AUTHORIZE_PATH, provider.consent_endpoint(...), methods=["GET"])
    provider.access(bearer_token)   -> AccessToken (its state: valid | expired | revoked) or None

Grants: `authorization_code` (a code minted by the consent page or the admin panel, single use),
`client_credentials` (id and secret by HTTP Basic or in the form), `password` (the emulator checks the
user), `refresh_token`. Every token belongs to a grant: a client acting for a subject (QuickBooks'
company, or the client or user itself).

Lifetimes are emulated seconds divided by `time_scale` when enforced; `expires_in` keeps the
platform's own number, so a client is told 3600 while the token dies after one scaled minute.

Refresh-token rotation (`rotation`): "always" (every refresh issues a new value), "periodic" (the same
value until it is `rotation_period_s` old: QuickBooks' "about every 24 hours"), "never". A superseded
value is `invalid_grant`, except within `grace_s` of its rotation: then it answers again with the
successor it was rotated to and a fresh access token, which is how a platform forgives a refresh whose
answer was lost (Xero: 30 minutes; QuickBooks: none, so 0). Revoke ends the whole grant
(`revoke_ends_grant`, as Intuit) or the one token.

Errors are `{"error": ..., "error_description"?: ...}` with the platform's status and wording, given as
data (`errors`, by situation; see `ERRORS`). State lives in the emulator's SQLite file (tables
`oauth_clients`, `oauth_codes`, `oauth_grants`, `oauth_tokens`), so tokens survive a restart; the
tokens of a file written before the kit are carried over (`migrate`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from bridge_assets.sandbox.kit.state import SqliteState

SCHEMA = """
CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id TEXT PRIMARY KEY,
    client_secret TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_codes (
    code TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    redirect_uri TEXT,
    expires_at REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS oauth_grants (
    grant_id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS oauth_tokens (
    serial INTEGER PRIMARY KEY AUTOINCREMENT,
    token TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,                -- access | refresh
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL,
    revoked_reason TEXT,               -- rotated | revoked | expired
    successor TEXT                     -- a rotated refresh token: the value it was rotated to
);
"""
GRANTS = ("authorization_code", "client_credentials", "password", "refresh_token")
ROTATIONS = ("always", "periodic", "never")

# Situation -> (error, status, description or None). An emulator overrides the wording it knows;
# a situation mapped to None is not an error there (a revoke without a token answers 200).
ERRORS: dict[str, tuple[str, int, str | None] | None] = {
    "not_form": ("invalid_request", 400, "The token endpoint takes application/x-www-form-urlencoded"),
    "client_auth_required": ("invalid_client", 401, "HTTP Basic client authentication is required"),
    "client_malformed": ("invalid_client", 401, None),
    "client_invalid": ("invalid_client", 401, None),
    "client_unregistered": ("invalid_client", 401, "unknown client_id {client_id!r}"),
    "grant_type_missing": ("invalid_request", 400, "grant_type is required"),
    "grant_type_unsupported": ("unsupported_grant_type", 400, None),
    "code_missing": ("invalid_request", 400, "code is required"),
    "code_invalid": ("invalid_grant", 400, None),
    "refresh_missing": ("invalid_request", 400, "refresh_token is required"),
    "refresh_invalid": ("invalid_grant", 400, None),
    "password_invalid": ("invalid_grant", 400, None),
    "token_missing": ("invalid_request", 400, "token is required"),
}


class OAuthError(Exception):
    def __init__(self, error: str, status: int = 400, description: str | None = None) -> None:
        super().__init__(error)
        self.error, self.status, self.description = error, status, description

    def response(self) -> Response:
        body: dict[str, Any] = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return JSONResponse(body, status_code=self.status)


@dataclasses.dataclass(frozen=True)
class OAuthPolicy:
    grants: tuple[str, ...] = ("authorization_code", "refresh_token")
    access_token_lifetime_s: float = 3600
    refresh_token_lifetime_s: float = 100 * 24 * 3600
    authorization_code_lifetime_s: float = 600
    rotation: str = "always"
    rotation_period_s: float = 24 * 3600
    grace_s: float = 0.0                 # how long a rotated refresh token still answers (a lost response)
    rolling_refresh_expiry: bool = True  # a refresh that keeps the value pushes its expiry out again
    revoke_ends_grant: bool = True
    basic_client_auth: bool = True       # HTTP Basic on every token and revoke call (else: only the
                                         # client_credentials grant names its client, Basic or form)
    form_client_auth: bool = False       # with basic_client_auth: the client may name itself in the form
                                         # instead (client_id, client_secret), as Xero's token endpoint takes
    form_only: bool = False              # refuse a token request that is not form-encoded
    body_client_auth: bool = False       # the client's id and secret in the request body (FreshBooks),
                                         # HTTP Basic also taken; JSON bodies are read like forms
    created_at_field: str | None = None  # e.g. "created_at": the issue time (epoch seconds) in the answer
    refresh_answer_has_refresh: bool = True   # a refresh that keeps the value repeats it (Zoho: it does not)
    answer_extra: tuple[tuple[str, str], ...] = ()   # constant fields of every token answer (Zoho's api_domain)
    token_type: str = "bearer"
    refresh_expiry_field: str | None = None   # e.g. "x_refresh_token_expires_in"
    no_store: bool = True                # Cache-Control: no-store on token answers
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.rotation not in ROTATIONS:
            raise ValueError(f"rotation must be one of {ROTATIONS}, not {self.rotation!r}")
        if not set(self.grants) <= set(GRANTS):
            raise ValueError(f"grants are among {GRANTS}, not {self.grants}")
        if self.grace_s < 0:
            raise ValueError("grace_s cannot be negative")

    def real_seconds(self, emulated_seconds: float) -> float:
        return emulated_seconds / self.time_scale


@dataclasses.dataclass(frozen=True)
class TokenFormat:
    """How the platform's token values look (QuickBooks' opaque strings, ServiceTrade's JWTs)."""

    access: Callable[[str, float, float], str] = lambda subject, issued, expires: secrets.token_urlsafe(48)
    refresh: Callable[[], str] = lambda: secrets.token_urlsafe(36)
    code: Callable[[], str] = lambda: secrets.token_urlsafe(24)


@dataclasses.dataclass(frozen=True)
class AccessToken:
    """Who a bearer token speaks for, and whether it still may."""

    serial: int
    client_id: str
    subject: str
    grant_id: str
    state: str  # valid | expired | revoked


class OAuthProvider:
    def __init__(self, store: SqliteState, policy: OAuthPolicy, *, clients: Mapping[str, str] = {},
                 errors: Mapping[str, tuple[str, int, str | None] | None] = {}, tokens: TokenFormat = TokenFormat(),
                 password_check: Callable[[str, str], bool] | None = None,
                 revoke_response: Callable[[], Response] = lambda: Response(status_code=200)) -> None:
        self.store, self.policy, self.format = store, policy, tokens
        self.errors = {**ERRORS, **errors}
        self.password_check = password_check
        self.revoke_response = revoke_response
        self.clients = dict(clients)
        migrate(store)
        self.register_clients()

    # --- clients ---------------------------------------------------------------------------------

    def register_clients(self) -> None:
        """The clients of the settings (again, after a reset that forgot them)."""
        for client_id, secret in self.clients.items():
            self.register_client(client_id, secret)

    def register_client(self, client_id: str, client_secret: str) -> None:
        self.store.execute("INSERT INTO oauth_clients (client_id, client_secret) VALUES (?, ?) ON CONFLICT "
                           "(client_id) DO UPDATE SET client_secret = excluded.client_secret",
                           (client_id, client_secret))

    def default_client_id(self) -> str:
        return next(iter(self.clients), "bridge-sandbox-client")

    def fail(self, situation: str, **context: Any) -> OAuthError:
        error, status, description = self.errors[situation]
        return OAuthError(error, status, description.format(**context) if description else None)

    def check_client(self, client_id: str) -> None:
        if self.store.fetchone("SELECT 1 FROM oauth_clients WHERE client_id = ?", (client_id,)) is None:
            raise self.fail("client_unregistered", client_id=client_id)

    def _client_ok(self, client_id: str, secret: str) -> bool:
        row = self.store.fetchone("SELECT client_secret FROM oauth_clients WHERE client_id = ?", (client_id,))
        return row is not None and secrets.compare_digest(row["client_secret"].encode(), secret.encode())

    def _client(self, request: Request, form: Mapping[str, str], *, from_form: bool) -> str:
        """The authenticated client: HTTP Basic, or (`from_form`) client_id/client_secret in the form."""
        header = request.headers.get("authorization", "")
        if header[:6].lower() == "basic ":
            try:
                client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise self.fail("client_malformed") from None
        elif from_form:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        else:
            raise self.fail("client_auth_required")
        if not self._client_ok(client_id, secret):
            raise self.fail("client_invalid")
        return client_id

    # --- grants and tokens -----------------------------------------------------------------------

    def mint_authorization_code(self, subject: str, client_id: str, redirect_uri: str | None = None) -> str:
        self.check_client(client_id)
        code = self.format.code()
        expires_at = time.time() + self.policy.real_seconds(self.policy.authorization_code_lifetime_s)
        self.store.execute("INSERT INTO oauth_codes (code, client_id, subject, redirect_uri, expires_at) "
                           "VALUES (?, ?, ?, ?, ?)", (code, client_id, subject, redirect_uri, expires_at))
        return code

    def mint_tokens(self, subject: str, client_id: str) -> dict[str, Any]:
        """A fresh grant and token pair, as if the user had just connected the app."""
        with self.store.transaction():
            grant_id = secrets.token_hex(8)
            self.store.execute("INSERT INTO oauth_grants (grant_id, client_id, subject, created_at) "
                               "VALUES (?, ?, ?, ?)", (grant_id, client_id, subject, time.time()))
            return self._issue(grant_id, client_id, subject, None)

    def _issue(self, grant_id: str, client_id: str, subject: str, refresh_token: str | None) -> dict[str, Any]:
        """A new access token (and, with `refresh_token` None, a new refresh token): the token answer."""
        now, policy = time.time(), self.policy
        expires_at = now + policy.real_seconds(policy.access_token_lifetime_s)
        access_token = self.format.access(subject, now, expires_at)
        rows = [(access_token, "access", expires_at)]
        if refresh_token is None:
            refresh_token = self.format.refresh()
            rows.append((refresh_token, "refresh", now + policy.real_seconds(policy.refresh_token_lifetime_s)))
        for token, kind, expiry in rows:
            self.store.execute("INSERT INTO oauth_tokens (token, kind, grant_id, client_id, issued_at, expires_at) "
                               "VALUES (?, ?, ?, ?, ?, ?)", (token, kind, grant_id, client_id, now, expiry))
        answer: dict[str, Any] = {"token_type": policy.token_type, "access_token": access_token,
                                  "refresh_token": refresh_token, "expires_in": int(policy.access_token_lifetime_s)}
        if policy.refresh_expiry_field:
            answer[policy.refresh_expiry_field] = int(policy.refresh_token_lifetime_s)
        if policy.created_at_field:
            answer[policy.created_at_field] = int(now)
        answer.update(policy.answer_extra)
        return answer

    def exchange_code(self, client_id: str, code: str | None, redirect_uri: str | None) -> dict[str, Any]:
        if not code:
            raise self.fail("code_missing")
        with self.store.transaction():
            row = self.store.fetchone("SELECT * FROM oauth_codes WHERE code = ?", (code,))
            if (row is None or row["used"] or row["client_id"] != client_id or row["expires_at"] < time.time()
                    or (row["redirect_uri"] and row["redirect_uri"] != redirect_uri)):
                raise self.fail("code_invalid")
            self.store.execute("UPDATE oauth_codes SET used = 1 WHERE code = ?", (code,))
            return self.mint_tokens(row["subject"], client_id)

    def refresh(self, client_id: str | None, token: str | None) -> dict[str, Any]:
        """A refresh_token grant; `client_id` None when the platform does not authenticate the client."""
        if not token:
            raise self.fail("refresh_missing")
        now, policy = time.time(), self.policy
        with self.store.transaction():
            row = self.store.fetchone(
                "SELECT t.*, g.client_id AS grant_client, g.subject, g.revoked FROM oauth_tokens t "
                "JOIN oauth_grants g ON g.grant_id = t.grant_id WHERE t.token = ? AND t.kind = 'refresh'", (token,))
            if (row is None or (client_id is not None and row["grant_client"] != client_id) or row["revoked"]
                    or row["expires_at"] <= now):
                raise self.fail("refresh_invalid")
            grant = (row["grant_id"], row["client_id"], row["subject"])
            if row["revoked_at"] is not None:
                return self._within_grace(row, grant, now)
            age = now - row["issued_at"]
            if policy.rotation == "always" or (
                    policy.rotation == "periodic" and age >= policy.real_seconds(policy.rotation_period_s)):
                answer = self._issue(*grant, None)
                self.store.execute("UPDATE oauth_tokens SET revoked_at = ?, revoked_reason = 'rotated', successor = ? "
                                   "WHERE serial = ?", (now, answer["refresh_token"], row["serial"]))
                return answer
            if policy.rolling_refresh_expiry:
                self.store.execute("UPDATE oauth_tokens SET expires_at = ? WHERE serial = ?",
                                   (now + policy.real_seconds(policy.refresh_token_lifetime_s), row["serial"]))
            answer = self._issue(*grant, token)
            if not policy.refresh_answer_has_refresh:
                answer.pop("refresh_token", None)
            return answer

    def _within_grace(self, row: Any, grant: tuple[str, str, str], now: float) -> dict[str, Any]:
        """A rotated refresh token presented again: its successor once more, if within the grace window."""
        grace = self.policy.real_seconds(self.policy.grace_s)
        if row["revoked_reason"] != "rotated" or now - row["revoked_at"] > grace:
            raise self.fail("refresh_invalid")
        successor = self.store.fetchone("SELECT revoked_at, expires_at FROM oauth_tokens WHERE token = ?",
                                        (row["successor"],))
        if successor is None or successor["revoked_at"] is not None or successor["expires_at"] <= now:
            raise self.fail("refresh_invalid")
        return self._issue(*grant, row["successor"])

    def revoke(self, client_id: str | None, token: str | None) -> None:
        """Revoking ends the token's whole grant (`revoke_ends_grant`) or the one token."""
        if not token:
            if self.errors["token_missing"] is None:
                return
            raise self.fail("token_missing")
        with self.store.transaction():
            row = self.store.fetchone("SELECT serial, grant_id FROM oauth_tokens WHERE token = ?", (token,))
            if row is None:
                return
            if self.policy.revoke_ends_grant:
                self.store.execute("UPDATE oauth_grants SET revoked = 1 WHERE grant_id = ? AND client_id = ?",
                                   (row["grant_id"], client_id))
            else:
                self.store.execute("UPDATE oauth_tokens SET revoked_at = ?, revoked_reason = 'revoked' "
                                   "WHERE serial = ? AND revoked_at IS NULL", (time.time(), row["serial"]))

    def access(self, token: str) -> AccessToken | None:
        """The grant behind a bearer token and whether it is valid now; None for a token never issued."""
        row = self.store.fetchone(
            "SELECT t.serial, t.expires_at, t.revoked_at, g.client_id, g.subject, g.grant_id, g.revoked "
            "FROM oauth_tokens t JOIN oauth_grants g ON g.grant_id = t.grant_id "
            "WHERE t.token = ? AND t.kind = 'access'", (token,))
        if row is None:
            return None
        state = ("revoked" if row["revoked"] or row["revoked_at"] is not None
                 else "expired" if row["expires_at"] <= time.time() else "valid")
        return AccessToken(row["serial"], row["client_id"], row["subject"], row["grant_id"], state)

    # --- admin -----------------------------------------------------------------------------------

    def expire(self, kinds: tuple[str, ...] = ("access",), *, subject: str | None = None,
               client_id: str | None = None, token: str | None = None) -> dict[str, int]:
        """Make live tokens of these kinds expire now (all, one subject's, one client's, or one token)."""
        now = time.time()
        counts = {}
        with self.store.transaction():
            for kind in kinds:
                sql = "UPDATE oauth_tokens SET expires_at = ?, revoked_reason = 'expired' WHERE kind = ?"
                params: list[Any] = [now - 1, kind]
                if token:
                    sql, params = sql + " AND token = ?", params + [token]
                else:
                    sql, params = sql + " AND revoked_at IS NULL AND expires_at > ?", params + [now]
                if client_id:
                    sql, params = sql + " AND client_id = ?", params + [client_id]
                if subject:
                    sql += " AND grant_id IN (SELECT grant_id FROM oauth_grants WHERE subject = ?)"
                    params.append(subject)
                counts[kind] = self.store.execute(sql, tuple(params)).rowcount
        return counts

    def tokens(self) -> list[dict[str, Any]]:
        """Every token issued, live or not, with why it ended (the values themselves are not shown)."""
        now = time.time()
        rows = self.store.fetchall("SELECT serial, kind, client_id, issued_at, expires_at, revoked_at, revoked_reason "
                                   "FROM oauth_tokens ORDER BY serial")
        return [{**dict(row), "live": row["revoked_at"] is None and row["expires_at"] > now} for row in rows]

    def reset(self, *, clients: bool) -> None:
        """Forget every code, grant and token (and registered client, with `clients`); serials start again."""
        with self.store.transaction():
            tables = ("oauth_codes", "oauth_grants", "oauth_tokens") + (("oauth_clients",) if clients else ())
            for table in tables:
                self.store.execute(f"DELETE FROM {table}")
            self.store.execute("DELETE FROM sqlite_sequence WHERE name = 'oauth_tokens'")
        if clients:
            self.register_clients()

    # --- HTTP endpoints --------------------------------------------------------------------------

    async def _form(self, request: Request) -> dict[str, str]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if self.policy.form_only and content_type != "application/x-www-form-urlencoded":
            raise self.fail("not_form")
        raw = (await request.body()).decode("utf-8", "replace")
        if content_type == "application/json" and not self.policy.form_only:
            try:
                body = json.loads(raw)
            except ValueError:
                raise self.fail("not_form") from None
            return {str(key): str(value) for key, value in body.items()} if isinstance(body, dict) else {}
        return {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}

    async def token_endpoint(self, request: Request) -> Response:
        try:
            form = await self._form(request)
            policy = self.policy
            client_id = (self._client(request, form, from_form=policy.form_client_auth or policy.body_client_auth)
                         if policy.basic_client_auth or policy.body_client_auth else None)
            grant = form.get("grant_type")
            if not grant:
                raise self.fail("grant_type_missing")
            if grant not in self.policy.grants:
                raise self.fail("grant_type_unsupported")
            if grant == "authorization_code":
                payload = self.exchange_code(client_id, form.get("code"), form.get("redirect_uri"))
            elif grant == "refresh_token":
                payload = self.refresh(client_id, form.get("refresh_token"))
            elif grant == "client_credentials":
                client_id = client_id or self._client(request, form, from_form=True)
                payload = self.mint_tokens(client_id, client_id)
            else:
                username, password = form.get("username", ""), form.get("password", "")
                if self.password_check is None or not self.password_check(username, password):
                    raise self.fail("password_invalid")
                payload = self.mint_tokens(username, username)
        except OAuthError as failure:
            return failure.response()
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"} if self.policy.no_store else None
        return JSONResponse(payload, headers=headers)

    async def revoke_endpoint(self, request: Request) -> Response:
        try:
            client_id = self._client(request, {}, from_form=False) if self.policy.basic_client_auth else None
            self.revoke(client_id, await self._revoked_token(request))
        except OAuthError as failure:
            return failure.response()
        return self.revoke_response()

    async def _revoked_token(self, request: Request) -> str | None:
        """The token to revoke: `token` (or `refresh_token`) form-encoded, or `{"token"}` as JSON unless `form_only`."""
        if self.policy.form_only:
            form = await self._form(request)
            return form.get("refresh_token") or form.get("token")
        raw = (await request.body()).decode("utf-8", "replace")
        if raw.strip().startswith("{"):
            try:
                return json.loads(raw).get("token")
            except (ValueError, AttributeError):
                pass
        form = parse_qs(raw)
        return next(iter(form.get("token") or form.get("refresh_token") or []), None)

    def consent_endpoint(self, *, scope: str, subject_param: str, default_subject: str,
                         on_consent: Callable[[str], object] = lambda subject: None):
        """The consent page, auto-approved: redirects to redirect_uri with code, state and the subject."""
        async def authorize(request: Request) -> Response:
            params = request.query_params
            client_id, redirect_uri = params.get("client_id"), params.get("redirect_uri")
            if not client_id or not redirect_uri or params.get("response_type") != "code":
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            if scope not in (params.get("scope") or "").split():
                return JSONResponse({"error": "invalid_scope"}, status_code=400)
            subject = params.get(subject_param) or default_subject
            try:
                self.check_client(client_id)
                on_consent(subject)
                code = self.mint_authorization_code(subject, client_id, redirect_uri)
            except OAuthError as failure:
                return failure.response()
            query = {"code": code, subject_param: subject}
            if params.get("state") is not None:
                query["state"] = params["state"]
            separator = "&" if "?" in redirect_uri else "?"
            return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)

        return authorize


def migrate(store: SqliteState) -> None:
    """Create the provider's tables, carrying over the tokens of a state file written before the kit.

    QuickBooks' emulator kept `realm_id` where the kit says `subject`, and its refresh and access
    tokens in two tables; ServiceTrade's kept tokens not tied to grants (each client its own grant
    now). Both are carried over, so a client holding a token from such a file can still use it.
    """
    for table in ("oauth_grants", "oauth_codes"):
        if "realm_id" in store.columns(table):
            store.execute(f"ALTER TABLE {table} RENAME COLUMN realm_id TO subject")
    tokens = store.columns("oauth_tokens")
    if tokens and "grant_id" not in tokens:
        store.execute("ALTER TABLE oauth_tokens RENAME TO oauth_tokens_before_grants")
    store.executescript(SCHEMA)
    if store.columns("oauth_tokens_before_grants"):
        with store.transaction():
            store.execute("INSERT OR IGNORE INTO oauth_grants (grant_id, client_id, subject, created_at) "
                          "SELECT 'legacy:' || client_id, client_id, client_id, min(issued_at) "
                          "FROM oauth_tokens_before_grants GROUP BY client_id")
            store.execute("INSERT OR IGNORE INTO oauth_tokens (serial, token, kind, grant_id, client_id, issued_at, "
                          "expires_at, revoked_at, revoked_reason) SELECT serial, token, kind, "
                          "'legacy:' || client_id, client_id, issued_at, expires_at, revoked_at, revoked_reason "
                          "FROM oauth_tokens_before_grants")
            store.execute("DROP TABLE oauth_tokens_before_grants")
    legacy = (("oauth_refresh_tokens", "refresh", "t.issued_at", "t.superseded_at"),
              ("oauth_access_tokens", "access", "0", "NULL"))
    for table, kind, issued, ended in legacy:
        if not store.columns(table):
            continue
        with store.transaction():
            store.execute(
                f"INSERT OR IGNORE INTO oauth_tokens (token, kind, grant_id, client_id, issued_at, expires_at, "
                f"revoked_at, revoked_reason) SELECT t.token, ?, t.grant_id, g.client_id, {issued}, t.expires_at, "
                f"{ended}, CASE WHEN {ended} IS NULL THEN NULL ELSE 'rotated' END "
                f"FROM {table} t JOIN oauth_grants g ON g.grant_id = t.grant_id", (kind,))
            store.execute(f"DROP TABLE {table}")
