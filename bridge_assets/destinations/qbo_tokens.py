"""QuickBooks Online OAuth tokens: a JSON file every bridge process shares, and the refresh dance.

Intuit rotates refresh tokens: once a new value is issued, the old one answers `invalid_grant`
(API_FACTS.md, OAuth 2.0). Losing a rotated token, or two workers refreshing the same one, is the
most reported way QuickBooks integrations break. So:

- the tokens live in one file (mode 0600), replaced atomically (write a temp file, fsync, rename)
  and only ever written under an exclusive `fcntl` lock on a sibling `.lock` file;
- a refresh happens under that lock: re-read the file first (another process may have refreshed
  while we waited for the lock; then its access token is used and no call is made), and the new
  refresh token is written to the file BEFORE the new access token is handed to anyone;
- `invalid_grant` makes us re-read the file once more: a process that does not share our lock (a
  second machine, an old copy of the bridge) may have saved a newer token. Only when the file holds
  nothing newer is the operator told to reconnect.

Nothing here ever puts a token or the client secret into a log line or an exception message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import random
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx

from bridge_assets.destinations.base import DestinationError

log = logging.getLogger(__name__)

# Refresh this long before Intuit's stated expiry, so a token never dies between check and use.
EXPIRY_LEEWAY_S = 120.0
TOKEN_ENDPOINT_TRIES = 3


class QboAuthError(DestinationError):
    """QuickBooks Online refuses the bridge's credentials; a person must fix the configuration."""


class QboReconnectRequired(QboAuthError):
    """The stored refresh token is dead and nobody saved a newer one: authorize the app again."""


class QboTokenEndpointUnavailable(Exception):
    """Intuit's token endpoint did not answer usefully after a few tries (transient)."""


@dataclasses.dataclass(frozen=True)
class Tokens:
    refresh_token: str
    access_token: str | None = None
    access_expires_at: float | None = None       # epoch seconds
    refresh_expires_at: float | None = None
    seed_fingerprint: str | None = None          # which QBO_REFRESH_TOKEN value seeded this store
    updated_at: float = 0.0

    def __repr__(self) -> str:  # never show a token, even in a traceback's locals
        return f"Tokens(access_expires_at={self.access_expires_at}, updated_at={self.updated_at})"

    def access_token_valid(self, now: float, leeway: float = EXPIRY_LEEWAY_S) -> bool:
        return bool(self.access_token) and (self.access_expires_at or 0) - leeway > now

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Tokens":
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def fingerprint(secret: str) -> str:
    """A short, one-way name for a secret (to notice a new QBO_REFRESH_TOKEN without storing it twice)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


class TokenStore:
    """The token file. `load` needs no lock (the file is only ever replaced whole); writes do."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
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
            raise QboAuthError(
                f"the QuickBooks Online token store {self.path} is not readable JSON ({type(problem).__name__}); "
                f"delete it and set QBO_REFRESH_TOKEN to a fresh refresh token"
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
        """Put a configured refresh token (QBO_REFRESH_TOKEN) into the store when it is new to it.

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

    def __init__(self, store: TokenStore, token_url: str, client_id: str, client_secret: str, *,
                 timeout: httpx.Timeout | float = 30.0, transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._clock = clock
        self._sleep = sleep
        self._cached: Tokens | None = None
        self.refreshes = 0          # token endpoint calls that issued tokens (for tests and reports)

    def __repr__(self) -> str:
        return f"OAuthSession(store={self.store!r})"

    def close(self) -> None:
        self._http.close()

    def access_token(self) -> str:
        now = self._clock()
        if self._cached is not None and self._cached.access_token_valid(now):
            return self._cached.access_token  # type: ignore[return-value]
        stored = self.store.load()
        if stored is not None and stored.access_token_valid(now):
            self._cached = stored
            return stored.access_token  # type: ignore[return-value]
        return self.refresh(rejected_access_token=None)

    def refresh(self, rejected_access_token: str | None) -> str:
        """A working access token after `rejected_access_token` failed (or none was valid)."""
        with self.store.locked():
            current = self.store.load()
            if current is None:
                raise QboReconnectRequired(
                    f"no QuickBooks Online refresh token is stored in {self.store.path}; connect the bridge to "
                    f"QuickBooks and set QBO_REFRESH_TOKEN to the refresh token it gives"
                )
            now = self._clock()
            if (current.access_token and current.access_token != rejected_access_token
                    and current.access_token_valid(now)):
                # Another process refreshed while we waited for the lock: use its token, call nobody.
                self._cached = current
                return current.access_token
            tried: set[str] = set()
            while True:
                tried.add(current.refresh_token)
                answer = self._grant(current.refresh_token)
                if "access_token" in answer:
                    issued = self._clock()
                    tokens = Tokens(
                        refresh_token=answer.get("refresh_token") or current.refresh_token,
                        access_token=answer["access_token"],
                        access_expires_at=issued + float(answer.get("expires_in") or 3600),
                        refresh_expires_at=(issued + float(answer["x_refresh_token_expires_in"])
                                            if answer.get("x_refresh_token_expires_in") else None),
                        seed_fingerprint=current.seed_fingerprint,
                        updated_at=issued,
                    )
                    self.store.save(tokens)          # the new refresh token is safe before anything uses it
                    self._cached = tokens
                    self.refreshes += 1
                    return tokens.access_token  # type: ignore[return-value]
                error = answer.get("error")
                if error == "invalid_grant":
                    again = self.store.load()
                    if again is not None and again.refresh_token not in tried:
                        log.info("QuickBooks Online refresh token was rotated by another process; using the stored one")
                        current = again
                        continue
                    raise QboReconnectRequired(
                        f"QuickBooks Online no longer accepts the refresh token stored in {self.store.path} "
                        f"(invalid_grant: it was rotated or revoked and no newer one was saved). Reconnect the bridge "
                        f"to QuickBooks (authorize the app again) and set QBO_REFRESH_TOKEN to the new refresh token."
                    )
                if error == "invalid_client":
                    raise QboAuthError(
                        "QuickBooks Online's token endpoint refused the app's credentials (invalid_client); "
                        "check QBO_CLIENT_ID and QBO_CLIENT_SECRET against the app's keys on developer.intuit.com"
                    )
                raise QboAuthError(
                    f"QuickBooks Online's token endpoint refused to refresh the connection ({error or 'no reason given'}); "
                    f"reconnect the bridge to QuickBooks and set QBO_REFRESH_TOKEN"
                )

    def _grant(self, refresh_token: str) -> dict[str, Any]:
        """POST grant_type=refresh_token; the parsed answer (tokens, or {"error": ...})."""
        problem = ""
        for attempt in range(1, TOKEN_ENDPOINT_TRIES + 1):
            try:
                response = self._http.post(
                    self.token_url,
                    data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                    auth=(self._client_id, self._client_secret),
                    headers={"Accept": "application/json"},
                )
            except httpx.TransportError as failure:
                problem = f"connection failed ({type(failure).__name__})"
            else:
                if response.status_code < 500 and response.status_code != 429:
                    try:
                        answer = response.json()
                    except ValueError:
                        answer = {}
                    if response.status_code == 200 and isinstance(answer, dict) and answer.get("access_token"):
                        return answer
                    error = answer.get("error") if isinstance(answer, dict) else None
                    return {"error": str(error or f"HTTP {response.status_code}")}
                problem = f"HTTP {response.status_code}"
            if attempt < TOKEN_ENDPOINT_TRIES:
                self._sleep(random.uniform(0.5, 1.0) * attempt)
        raise QboTokenEndpointUnavailable(
            f"QuickBooks Online's token endpoint {self.token_url} did not answer ({problem}) after "
            f"{TOKEN_ENDPOINT_TRIES} tries"
        )
