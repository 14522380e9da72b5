"""OAuth2 tokens every platform can share: a locked JSON file, and the refresh that never loses a token.

Refresh tokens rotate. QuickBooks Online issues a new one about daily and the old one answers
`invalid_grant` at once; Xero's access tokens live 30 minutes and each refresh rotates the refresh
token (the old one lasts 30 more minutes); FreshBooks' refresh tokens are single-use. Losing a
rotated token, or two workers refreshing the same one, is the most reported way integrations break.
What differs per platform is data (`OAuthProvider`); what must never differ is here:

- the tokens live in one file (mode 0600), replaced atomically (write a temp file, fsync, rename)
  and only ever written under an exclusive `fcntl` lock on a sibling `.lock` file;
- a refresh happens under that lock: re-read the file first (another process may have refreshed
  while we waited for the lock; then its access token is used and no call is made), and the new
  refresh token is written to the file BEFORE the new access token is handed to anyone;
- `invalid_grant` makes us re-read the file once more: a process that does not share our lock (a
  second machine, an old copy of the bridge) may have saved a newer token. Only when the file holds
  nothing newer is the operator told to reconnect (and, for single-use tokens, whether an answer
  lost on the way may have spent the token);
- the token endpoint is called through the kit's HTTP client: a few tries with backoff on 5xx, 429
  and dropped connections (a retry of a spent single-use token is refused, never double-spent).

Nothing here ever puts a token or the client secret into a log line or an exception message.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import httpx

from bridge_assets.destinations.kit.http import Backoff, GaveUp, PacedClient, Platform, Retry

log = logging.getLogger(__name__)


class OAuthError(Exception):
    """The platform refuses the bridge's credentials; a person must fix the configuration."""


class ReconnectRequired(OAuthError):
    """The stored refresh token is dead and nobody saved a newer one: authorize the app again."""


class TokenEndpointUnavailable(Exception):
    """The token endpoint did not answer usefully after a few tries (transient)."""


@dataclasses.dataclass(frozen=True)
class OAuthProvider:
    """One platform's OAuth2 facts and the names a person needs in a message, as data."""

    platform: str                                  # "QuickBooks Online", "Xero", "FreshBooks"
    token_url: str
    client_auth: str = "basic"                     # "basic": HTTP Basic; "body": client_id/secret in the body
    body_format: str = "form"                      # "form" (x-www-form-urlencoded) | "json"
    single_use_refresh: bool = False               # every refresh spends the token and must return a new one
    access_lifetime_s: float = 3600.0              # when the answer has no expires_in
    refresh_lifetime_field: str | None = None      # e.g. "x_refresh_token_expires_in" (QuickBooks)
    expiry_leeway_s: float = 120.0                 # refresh this long before the stated expiry
    extra_fields: Mapping[str, str] = dataclasses.field(default_factory=dict)   # e.g. redirect_uri
    refresh_token_setting: str = "the refresh token setting"
    client_settings: str = "the app's client id and secret"
    app_console: str = ""                          # where the app's keys are: " on developer.intuit.com"
    endpoint_tries: int = 3
    auth_error: type[Exception] = OAuthError
    reconnect_error: type[Exception] = ReconnectRequired
    unavailable_error: type[Exception] = TokenEndpointUnavailable

    def __post_init__(self) -> None:
        if self.client_auth not in ("basic", "body") or self.body_format not in ("form", "json"):
            raise ValueError(f"{self.platform}: client_auth is basic|body and body_format form|json")


@dataclasses.dataclass(frozen=True)
class Tokens:
    refresh_token: str
    access_token: str | None = None
    access_expires_at: float | None = None       # epoch seconds
    refresh_expires_at: float | None = None
    seed_fingerprint: str | None = None          # which configured refresh token value seeded this store
    updated_at: float = 0.0

    def __repr__(self) -> str:  # never show a token, even in a traceback's locals
        return f"Tokens(access_expires_at={self.access_expires_at}, updated_at={self.updated_at})"

    def access_token_valid(self, now: float, leeway: float = 120.0) -> bool:
        return bool(self.access_token) and (self.access_expires_at or 0) - leeway > now

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Tokens":
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def fingerprint(secret: str) -> str:
    """A short, one-way name for a secret (to notice a new configured refresh token without storing it twice)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


class TokenStore:
    """The token file. `load` needs no lock (the file is only ever replaced whole); writes do."""

    def __init__(self, path: Path | str, provider: OAuthProvider | None = None) -> None:
        self.path = Path(path)
        self.provider = provider
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._temp_path = self.path.with_name(self.path.name + ".tmp")
        self._thread_lock = threading.RLock()

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across processes (flock) and across threads of this one."""
        with self._thread_lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def load(self) -> Tokens | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return Tokens.from_json(text)
        except (ValueError, TypeError) as problem:
            provider = self.provider
            error = provider.auth_error if provider else OAuthError
            raise error(
                f"the {provider.platform + ' ' if provider else ''}token store {self.path} is not readable JSON "
                f"({type(problem).__name__}); delete it and set "
                f"{provider.refresh_token_setting if provider else 'the refresh token'} to a fresh refresh token"
            ) from None

    def save(self, tokens: Tokens) -> None:
        """Replace the file atomically. Call with `locked()` held."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = tokens.to_json().encode("utf-8")
        # The temp name is fixed: only the lock holder writes it, and a crashed writer's leftover is
        # simply overwritten next time.
        fd = os.open(self._temp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self._temp_path, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def seed(self, refresh_token: str, now: float | None = None) -> bool:
        """Put a configured refresh token into the store when it is new to it.

        The store wins over the environment once the token has rotated: the environment keeps the
        value it was set to, the store holds the newest. A value that differs from the one that
        seeded the store means the operator connected again, and it replaces what is stored.
        Returns whether the store was written.
        """
        refresh_token = refresh_token.strip()
        if not refresh_token:
            return False
        mark = fingerprint(refresh_token)
        with self.locked():
            current = self.load()
            if current is not None and (current.seed_fingerprint in (None, mark)
                                        or current.refresh_token == refresh_token):
                return False
            self.save(Tokens(refresh_token=refresh_token, seed_fingerprint=mark,
                             updated_at=time.time() if now is None else now))
            return True


class OAuthSession:
    """Access tokens for API calls, refreshed through the shared store (see the module docstring)."""

    def __init__(self, store: TokenStore, provider: OAuthProvider, client_id: str, client_secret: str, *,
                 timeout: httpx.Timeout | float = 30.0, transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        self.provider = provider
        if store.provider is None:
            store.provider = provider
        self._client_id = client_id
        self._client_secret = client_secret
        endpoint = Platform(
            f"{provider.platform} token endpoint",
            retry=Retry(tries=provider.endpoint_tries, backoff=Backoff(first_s=1.0, max_s=4.0, floor_share=0.5)),
            retryable=lambda response: response.status_code >= 500 or response.status_code == 429,
            give_up=self._endpoint_unavailable)
        self._http = PacedClient(endpoint, timeout=timeout, transport=transport, sleep=sleep,
                                 headers={"Accept": "application/json"})
        self._clock = clock
        self._cached: Tokens | None = None
        self.refreshes = 0          # token endpoint calls that issued tokens (for tests and reports)
        self.token_calls = 0        # token endpoint calls made, whatever they answered

    def __repr__(self) -> str:
        return f"OAuthSession({self.provider.platform!r}, store={self.store!r})"

    @property
    def token_url(self) -> str:
        return self.provider.token_url

    def close(self) -> None:
        self._http.close()

    def access_token(self) -> str:
        now = self._clock()
        leeway = self.provider.expiry_leeway_s
        if self._cached is not None and self._cached.access_token_valid(now, leeway):
            return self._cached.access_token  # type: ignore[return-value]
        stored = self.store.load()
        if stored is not None and stored.access_token_valid(now, leeway):
            self._cached = stored
            return stored.access_token  # type: ignore[return-value]
        return self.refresh(rejected_access_token=None)

    def refresh(self, rejected_access_token: str | None) -> str:
        """A working access token after `rejected_access_token` failed (or none was valid)."""
        provider = self.provider
        with self.store.locked():
            current = self.store.load()
            if current is None:
                raise provider.reconnect_error(
                    f"no {provider.platform} refresh token is stored in {self.store.path}; connect the bridge to "
                    f"{provider.platform} and set {provider.refresh_token_setting} to the refresh token it gives"
                )
            if (current.access_token and current.access_token != rejected_access_token
                    and current.access_token_valid(self._clock(), provider.expiry_leeway_s)):
                # Another process refreshed while we waited for the lock: use its token, call nobody.
                self._cached = current
                return current.access_token
            tried: set[str] = set()
            while True:
                tried.add(current.refresh_token)
                answer, lost = self._grant(current.refresh_token)
                if "access_token" in answer:
                    tokens = self._issued(current, answer)
                    self.store.save(tokens)          # the new refresh token is safe before anything uses it
                    self._cached = tokens
                    self.refreshes += 1
                    return tokens.access_token  # type: ignore[return-value]
                if answer.get("error") == "invalid_grant":
                    again = self.store.load()
                    if again is not None and again.refresh_token not in tried:
                        log.info("%s refresh token was rotated by another process; using the stored one",
                                 provider.platform)
                        current = again
                        continue
                raise self._refused(str(answer.get("error") or ""), lost)

    def _issued(self, current: Tokens, answer: Mapping[str, Any]) -> Tokens:
        provider = self.provider
        issued = self._clock()
        refresh_token = answer.get("refresh_token")
        if not refresh_token and provider.single_use_refresh:
            log.warning("%s refreshed the connection without a new refresh token although its refresh tokens are "
                        "single-use; the next refresh will need a reconnect", provider.platform)
        lifetime = answer.get(provider.refresh_lifetime_field) if provider.refresh_lifetime_field else None
        return Tokens(
            refresh_token=str(refresh_token or current.refresh_token),
            access_token=str(answer["access_token"]),
            access_expires_at=issued + float(answer.get("expires_in") or provider.access_lifetime_s),
            refresh_expires_at=issued + float(lifetime) if lifetime else None,
            seed_fingerprint=current.seed_fingerprint,
            updated_at=issued,
        )

    def _refused(self, error: str, lost: bool) -> Exception:
        provider = self.provider
        if error == "invalid_grant":
            spent = (" An earlier try's answer was lost on the way, so the token endpoint may have spent the "
                     "single-use refresh token then." if lost and provider.single_use_refresh else "")
            return provider.reconnect_error(
                f"{provider.platform} no longer accepts the refresh token stored in {self.store.path} "
                f"(invalid_grant: it was rotated or revoked and no newer one was saved).{spent} Reconnect the bridge "
                f"to {provider.platform} (authorize the app again) and set {provider.refresh_token_setting} to the "
                f"new refresh token."
            )
        if error == "invalid_client":
            return provider.auth_error(
                f"{provider.platform}'s token endpoint refused the app's credentials (invalid_client); "
                f"check {provider.client_settings} against the app's keys{provider.app_console}"
            )
        return provider.auth_error(
            f"{provider.platform}'s token endpoint refused to refresh the connection ({error or 'no reason given'}); "
            f"reconnect the bridge to {provider.platform} and set {provider.refresh_token_setting}"
        )

    def _grant(self, refresh_token: str) -> tuple[dict[str, Any], bool]:
        """POST grant_type=refresh_token: the parsed answer (tokens, or {"error": ...}), and whether a try was lost."""
        provider = self.provider
        fields = {"grant_type": "refresh_token", "refresh_token": refresh_token, **provider.extra_fields}
        headers = {}
        if provider.client_auth == "basic":
            pair = f"{self._client_id}:{self._client_secret}".encode("utf-8")
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            fields.update(client_id=self._client_id, client_secret=self._client_secret)
        body = {"json": fields} if provider.body_format == "json" else {"data": fields}
        dropped = self._http.stats.dropped
        self.token_calls += 1
        response = self._http.send("POST", provider.token_url, headers=headers, what="refresh token grant", **body)
        lost = self._http.stats.dropped > dropped
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code == 200 and isinstance(answer, dict) and answer.get("access_token"):
            return answer, lost
        error = answer.get("error") if isinstance(answer, dict) else None
        return {"error": str(error or f"HTTP {response.status_code}")}, lost

    def _endpoint_unavailable(self, gave_up: GaveUp) -> Exception:
        return self.provider.unavailable_error(
            f"{self.provider.platform}'s token endpoint {self.provider.token_url} did not answer ({gave_up.problem}) "
            f"after {gave_up.tries} tries"
        )



class BearerAuth:
    """The kit's `Auth` for a platform's API: the session's access token as a bearer header; a 401
    refreshes it once (`PacedClient` then sends again). `extra` are headers the platform also wants on
    every call (MYOB's key and version). A token endpoint that does not answer is the platform being
    unavailable: `unavailable(message)` builds the exception the caller treats as transient."""

    def __init__(self, session: OAuthSession, *, extra: Mapping[str, str] | None = None,
                 unavailable: Callable[[str], Exception] | None = None, scheme: str = "Bearer") -> None:
        self.session = session
        self.scheme = scheme                       # Zoho: "Zoho-oauthtoken"
        self.extra = dict(extra or {})
        self.unavailable = unavailable

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"{self.scheme} {self._token(None)}", **self.extra}

    def renew(self, rejected: Mapping[str, str]) -> bool:
        self._token(rejected.get("Authorization", "").removeprefix(f"{self.scheme} "))
        return True

    def _token(self, rejected: str | None) -> str:
        try:
            if rejected is None:
                return self.session.access_token()
            return self.session.refresh(rejected_access_token=rejected)
        except TokenEndpointUnavailable as failure:
            if self.unavailable is None:
                raise
            raise self.unavailable(str(failure)) from failure
