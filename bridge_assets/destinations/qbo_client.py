"""The HTTP side of the QuickBooks Online adapter: pacing, retries and auth, and nothing about documents.

Limits (developer.intuit.com "limits and throttles", API_FACTS.md): 500 requests a minute per
company, 40 batch requests a minute per company and app, 10 requests in flight. The `Pacer` spaces
requests evenly at those rates (one slot every 60/500 s, one batch slot every 60/40 s, plus a small
margin) instead of bursting and waiting for 429s: Intuit's 429 carries no Retry-After and asks for a
60-second pause, so a 429 costs far more than the spacing. A `time_scale` shortens the minute to
match the sandbox emulator's fast clock.

Retries: 429, 500, 502, 503, 504 and dropped connections are retried with exponential backoff and
full jitter, a bounded number of tries; writes always carry a `requestid`, so a retry of a write
whose answer was lost gets the original answer back instead of a second document. After the last
try `QboUnavailable` is raised and the adapter reports the outcome as unknown (RETRY).

Auth: a 401 triggers one token refresh and one more try; a second 401 is a configuration problem
(`QboAuthError`), not something to retry.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import threading
import time
from decimal import Decimal
from typing import Any, Callable

import httpx

from bridge_assets.destinations.qbo_tokens import (
    OAuthSession,
    QboAuthError,
    QboTokenEndpointUnavailable,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=60.0)
DEFAULT_MAX_TRIES = 5
USER_AGENT = "invoice-bridge/0.1 (+QuickBooks Online adapter)"


@dataclasses.dataclass(frozen=True)
class QboLimits:
    """Intuit's published limits per company; `time_scale` > 1 makes a minute shorter (sandbox only)."""

    requests_per_minute: int = 500
    batch_requests_per_minute: int = 40
    concurrent_requests: int = 10
    time_scale: float = 1.0
    # Each slot is this much longer than the limit strictly needs, so network jitter never lets two
    # requests meet inside the server's sliding window.
    margin: float = 0.02

    def __post_init__(self) -> None:
        if min(self.requests_per_minute, self.batch_requests_per_minute, self.concurrent_requests) < 1:
            raise ValueError("QuickBooks Online limits must be at least 1")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")

    @property
    def minute(self) -> float:
        """How long a limit's minute lasts on the wall clock."""
        return 60.0 / self.time_scale

    def seconds(self, emulated: float) -> float:
        return emulated / self.time_scale

    @property
    def request_interval(self) -> float:
        return self.minute / self.requests_per_minute * (1 + self.margin)

    @property
    def batch_interval(self) -> float:
        return self.minute / self.batch_requests_per_minute * (1 + self.margin)


class Pacer:
    """Even spacing: each request reserves the next free slot, batches also the next batch slot."""

    def __init__(self, limits: QboLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._next_request = 0.0
        self._next_batch = 0.0

    def reserve(self, *, batch: bool) -> float:
        """Claim a slot; returns how long to wait before sending in it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_request, self._next_batch if batch else now)
            self._next_request = start + self.limits.request_interval
            if batch:
                self._next_batch = start + self.limits.batch_interval
            return start - now

    def hold(self, seconds: float) -> None:
        """Throttled: nobody sends for `seconds` (a 429 means the company's window is full)."""
        with self._lock:
            until = self._clock() + seconds
            self._next_request = max(self._next_request, until)
            self._next_batch = max(self._next_batch, until)


class QboUnavailable(Exception):
    """No usable answer after every try (throttled, 5xx, or the connection dropped): outcome unknown."""

    def __init__(self, problem: str, tries: int, http_status: int | None = None) -> None:
        super().__init__(f"QuickBooks Online did not answer ({problem}) after {tries} tries")
        self.problem = problem
        self.tries = tries
        self.http_status = http_status


@dataclasses.dataclass(frozen=True)
class QboFault:
    code: str
    message: str
    detail: str
    element: str | None = None

    def text(self) -> str:
        detail = self.detail or self.message
        return detail if not self.element or self.element in detail else f"{detail} (field {self.element})"


@dataclasses.dataclass(frozen=True)
class QboAnswer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return self.status == 200 and not faults_of(self.body)

    @property
    def faults(self) -> list[QboFault]:
        found = faults_of(self.body)
        if not found and self.status != 200:
            return [QboFault(str(self.status), f"HTTP {self.status}", f"QuickBooks answered HTTP {self.status}")]
        return found


def faults_of(body: Any) -> list[QboFault]:
    """The errors of a `Fault` (or the lowercase 401 `fault`) body; [] when there are none."""
    if not isinstance(body, dict):
        return []
    fault = body.get("Fault") or body.get("fault")
    if not isinstance(fault, dict):
        return []
    errors = fault.get("Error") or fault.get("error") or []
    out = []
    for error in errors if isinstance(errors, list) else [errors]:
        if isinstance(error, dict):
            out.append(QboFault(
                code=str(error.get("code", "")),
                message=str(error.get("Message") or error.get("message") or ""),
                detail=str(error.get("Detail") or error.get("detail") or ""),
                element=error.get("element"),
            ))
    return out


def loads(raw: bytes) -> Any:
    """JSON with every number as Decimal-or-int: money read back must compare exactly."""
    return json.loads(raw, parse_float=Decimal)


@dataclasses.dataclass
class ClientStats:
    requests: int = 0
    batch_requests: int = 0
    throttled: int = 0
    server_errors: int = 0
    dropped: int = 0
    refreshes_after_401: int = 0


class QboClient:
    """One company's API (`company_url` = .../v3/company/{realmId}), paced, retried and authorised."""

    def __init__(self, company_url: str, session: OAuthSession, *, limits: QboLimits = QboLimits(),
                 minor_version: int = 75, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 max_tries: int = DEFAULT_MAX_TRIES, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        self.company_url = company_url.rstrip("/")
        self.session = session
        self.limits = limits
        self.minor_version = minor_version
        self.max_tries = max_tries
        self.pacer = Pacer(limits)
        self.stats = ClientStats()
        self._slots = threading.BoundedSemaphore(limits.concurrent_requests)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = httpx.Client(timeout=timeout, transport=transport,
                                  headers={"Accept": "application/json", "User-Agent": USER_AGENT})

    def __repr__(self) -> str:
        return f"QboClient({self.company_url!r})"

    def close(self) -> None:
        self._http.close()

    # --- calls ------------------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, str] | None = None) -> QboAnswer:
        return self.send("GET", path, params=params)

    def post(self, path: str, body: bytes, params: dict[str, str] | None = None, *, batch: bool = False) -> QboAnswer:
        return self.send("POST", path, params=params, content=body, content_type="application/json", batch=batch)

    def query(self, text: str) -> QboAnswer:
        # POST with a text body: no URL-length ceiling on long IN (...) lists.
        return self.send("POST", "/query", content=text.encode("utf-8"), content_type="application/text")

    def send(self, method: str, path: str, *, params: dict[str, str] | None = None, content: bytes | None = None,
             content_type: str | None = None, batch: bool = False) -> QboAnswer:
        url = self.company_url + path
        query = {**(params or {}), "minorversion": str(self.minor_version)}
        refreshed = False
        tries = 0
        while True:
            token = self._access_token(refresh_after=None)
            wait = self.pacer.reserve(batch=batch)
            if wait > 0:
                self._sleep(wait)
            headers = {"Authorization": f"Bearer {token}"}
            if content_type:
                headers["Content-Type"] = content_type
            problem, status = "", None
            with self._slots:
                self.stats.requests += 1
                self.stats.batch_requests += batch
                try:
                    response = self._http.request(method, url, params=query, content=content, headers=headers)
                except httpx.TransportError as failure:
                    response = None
                    problem = _transport_problem(failure)
                    self.stats.dropped += 1
            if response is not None:
                status = response.status_code
                if status == 401:
                    if refreshed:
                        raise QboAuthError(
                            "QuickBooks Online refused the bridge's access token even after refreshing it (HTTP 401 "
                            f"on {method} {path}); the connection may have been revoked or made for another company. "
                            "Reconnect the bridge to this QuickBooks company (QBO_REALM_ID / QBO_BASE_URL) and set "
                            "QBO_REFRESH_TOKEN to the new refresh token."
                        )
                    refreshed = True
                    self.stats.refreshes_after_401 += 1
                    self._access_token(refresh_after=token)
                    continue
                if status not in RETRY_STATUSES:
                    return QboAnswer(status, _body(response))
                problem = _status_problem(status)
                if status == 429:
                    self.stats.throttled += 1
                else:
                    self.stats.server_errors += 1
            tries += 1
            if tries >= self.max_tries:
                raise QboUnavailable(problem, tries, status)
            delay = self._backoff(tries, throttled=status == 429)
            log.warning("QuickBooks Online: %s on %s %s; try %d of %d in %.2f s",
                        problem, method, path, tries + 1, self.max_tries, delay)
            if status == 429:
                self.pacer.hold(delay)
            self._sleep(delay)

    def _access_token(self, refresh_after: str | None) -> str:
        try:
            if refresh_after is None:
                return self.session.access_token()
            return self.session.refresh(rejected_access_token=refresh_after)
        except QboTokenEndpointUnavailable as failure:
            raise QboUnavailable("the token endpoint did not answer", 1) from failure

    def _backoff(self, tries: int, *, throttled: bool) -> float:
        """Exponential with full jitter; a throttle waits longer (Intuit: wait 60 s), capped at a minute."""
        if throttled:
            ceiling = min(60.0, 10.0 * 2 ** (tries - 1))
            return self.limits.seconds(self._rng.uniform(ceiling / 2, ceiling))
        ceiling = min(30.0, 1.0 * 2 ** (tries - 1))
        return self.limits.seconds(self._rng.uniform(0.1, ceiling))


def _body(response: httpx.Response) -> Any:
    try:
        return loads(response.content)
    except ValueError:
        return None   # HTML from a gateway, XML from the throttle: no JSON to give


def _status_problem(status: int) -> str:
    return {
        429: "HTTP 429 throttled",
        500: "HTTP 500 system failure",
        502: "HTTP 502 bad gateway",
        503: "HTTP 503 service unavailable",
        504: "HTTP 504 gateway timeout",
    }.get(status, f"HTTP {status}")


def _transport_problem(failure: httpx.TransportError) -> str:
    if isinstance(failure, httpx.TimeoutException):
        return f"no answer in time ({type(failure).__name__})"
    return f"connection dropped ({type(failure).__name__})"
