"""One paced, retrying HTTP client for every platform the bridge talks to (destinations and sources).

A platform is described as data (`Platform`): its name for messages, its `Limits`, how it is retried
(`Retry`: tries and the exponential backoff with jitter, a longer one for throttling), and three
hooks for what differs: which answers are worth another try, how its error body reads, and which
exception tells the caller it gave up. `PacedClient.send` then:

- waits for its pacing slot (and a concurrency slot) before every try;
- asks the caller's `Auth` for headers before every try; on a 401 asks it once to renew (refresh a
  token, sign in again) and sends again without counting a try; a second 401 is returned to the
  caller, whose error names the setting to fix;
- retries 429, 5xx (or what the platform's hook says) and dropped connections, after a pause drawn
  from the backoff and never shorter than the answer's `Retry-After` (seconds or an HTTP date), up
  to the backoff's cap; a 429 also holds every other request of this client for the pause;
- gives up after `tries` with the platform's exception, whose message names the platform, the call,
  what went wrong and what to do;
- logs the method, the path and the problem only: never headers, bodies, query strings or tokens.

Explicit timeouts always (`DEFAULT_TIMEOUT` unless the platform needs others).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email.utils
import logging
import random
import threading
import time
from typing import Any, Callable, Mapping, Protocol

import httpx

from bridge_assets.destinations.kit.limits import DailyLimitReached, Limits, Pacer

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=60.0)


@dataclasses.dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: retry n pauses in [low, ceiling], ceiling = first_s * 2**(n-1).

    `floor_share` 0 (the default) is full jitter, a pause anywhere from 0 to the ceiling, which spreads
    clients apart best; a platform that needs a pause to grow for sure sets a share of the ceiling
    (0.5: between half and all of it) or an absolute `floor_s`. Seconds are the platform's own.
    """

    first_s: float = 0.5
    max_s: float = 30.0
    floor_share: float = 0.0
    floor_s: float = 0.0

    def __post_init__(self) -> None:
        if not (0 < self.first_s <= self.max_s and 0 <= self.floor_share <= 1 and self.floor_s >= 0):
            raise ValueError(f"a backoff needs 0 < first_s <= max_s and 0 <= floor_share <= 1, not {self}")

    def ceiling(self, retry: int) -> float:
        return min(self.max_s, self.first_s * 2 ** (retry - 1))

    def pause(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        """The pause before retry `retry` (1 = the first retry); a Retry-After lengthens it, up to max_s."""
        ceiling = self.ceiling(retry)
        pause = rng.uniform(min(ceiling, max(self.floor_s, self.floor_share * ceiling)), ceiling)
        if retry_after is not None:
            pause = max(pause, min(retry_after, self.max_s))
        return pause


@dataclasses.dataclass(frozen=True)
class Retry:
    tries: int = 5                        # the first try included
    backoff: Backoff = Backoff()
    throttle_backoff: Backoff | None = None   # on 429; None: the same as `backoff`
    # A 429 holds every request of the client for the pause (its window is full for everyone). A client
    # that sends one request at a time can turn it off: its own pause is then the whole hold.
    throttle_holds_all: bool = True

    def __post_init__(self) -> None:
        if self.tries < 1:
            raise ValueError("a platform needs at least 1 try")

    def backoff_for(self, status: int | None) -> Backoff:
        return self.throttle_backoff if status == 429 and self.throttle_backoff is not None else self.backoff


@dataclasses.dataclass(frozen=True)
class GaveUp:
    """What the last try of a call ended in, for the platform's `give_up` hook to word."""

    platform: str
    what: str                             # "GET /invoice", "token request"
    problem: str                          # "HTTP 503 Service Unavailable", "connection dropped (ConnectError)"
    tries: int
    status: int | None = None
    response: httpx.Response | None = None
    failure: httpx.TransportError | None = None


class PlatformUnavailable(Exception):
    """No usable answer after every try: the platform is down, throttling us, or unreachable."""

    def __init__(self, gave_up: GaveUp) -> None:
        super().__init__(
            f"{gave_up.platform} did not answer {gave_up.what} usefully ({gave_up.problem}) after {gave_up.tries} "
            f"tries; it is down, throttling the bridge or unreachable: check its status page and the network, "
            f"then run again")
        self.gave_up = gave_up


class DailyLimitSpent(PlatformUnavailable):
    """The platform's daily request budget is spent; runs resume when it frees."""

    def __init__(self, platform: str, what: str, limit: DailyLimitReached) -> None:
        gave_up = GaveUp(platform, what, str(limit), 0)
        Exception.__init__(self, f"{platform}: {what} not sent: {limit} (the platform allows {limit.limit} a day); "
                                 f"run again after that, or ask {platform} for a higher limit")
        self.gave_up = gave_up


def status_problem(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()


def transport_problem(failure: httpx.TransportError) -> str:
    if isinstance(failure, httpx.TimeoutException):
        return f"no answer in time ({type(failure).__name__})"
    return f"connection dropped ({type(failure).__name__})"


def default_retryable(response: httpx.Response) -> bool:
    return response.status_code in RETRY_STATUSES


@dataclasses.dataclass(frozen=True)
class Platform:
    """Everything the client needs to know about one platform, as data and three small hooks."""

    name: str
    limits: Limits = Limits()
    retry: Retry = Retry()
    retryable: Callable[[httpx.Response], bool] = default_retryable
    describe: Callable[[httpx.Response], str] = status_problem
    give_up: Callable[[GaveUp], Exception] = PlatformUnavailable


class Auth(Protocol):
    """How a platform's credentials ride on a request."""

    def headers(self) -> Mapping[str, str]:
        """The headers for the next try (fetching or refreshing a token when needed)."""

    def renew(self, rejected: Mapping[str, str]) -> bool:
        """After a 401 to `rejected` headers: get new credentials; False when there is nothing to renew."""


def retry_after_seconds(response: httpx.Response | None, now: Callable[[], float] = time.time) -> float | None:
    """`Retry-After` as seconds: a number of seconds, or an HTTP date; None when absent or unreadable."""
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return max(0.0, moment.timestamp() - now())


@dataclasses.dataclass
class ClientStats:
    requests: int = 0
    batch_requests: int = 0
    throttled: int = 0
    server_errors: int = 0
    dropped: int = 0
    renewals: int = 0


class PacedClient:
    """One platform's HTTP: paced, retried, authorised by the caller's `Auth`. Close it when done."""

    def __init__(self, platform: Platform, *, base_url: str = "", headers: Mapping[str, str] | None = None,
                 timeout: httpx.Timeout | float = DEFAULT_TIMEOUT, transport: httpx.BaseTransport | None = None,
                 follow_redirects: bool = False, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.platform = platform
        self.pacer = Pacer(platform.limits, clock)
        self.stats = ClientStats()
        concurrent = platform.limits.concurrent_requests
        self._slots = threading.BoundedSemaphore(concurrent) if concurrent else None
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._wall_clock = wall_clock
        self.http = httpx.Client(base_url=base_url, headers=dict(headers or {}), timeout=timeout,
                                 transport=transport, follow_redirects=follow_redirects)

    def __repr__(self) -> str:
        return f"PacedClient({self.platform.name!r})"

    def close(self) -> None:
        self.http.close()

    @property
    def cookies(self) -> httpx.Cookies:
        return self.http.cookies

    def send(self, method: str, url: str, *, params: Mapping[str, Any] | None = None, content: bytes | None = None,
             data: Mapping[str, Any] | None = None, json: Any = None, headers: Mapping[str, str] | None = None,
             auth: Auth | None = None, batch: bool = False, tries: int | None = None,
             what: str | None = None) -> httpx.Response:
        """The answer to one call: any answer that is not worth retrying, or the platform's give-up error."""
        what = what or f"{method} {url.split('?', 1)[0]}"
        limit = tries or self.platform.retry.tries
        renewed = False
        tried = 0
        held_until: float | None = None
        while True:
            sent = {**(auth.headers() if auth is not None else {}), **(headers or {})}
            response, failure = self._exchange(method, url, what, batch, held_until, params=params, content=content,
                                               data=data, json=json, headers=sent)
            if response is not None and response.status_code == 401 and auth is not None and not renewed:
                renewed = True
                if auth.renew(sent):
                    self.stats.renewals += 1
                    log.info("%s: %s was refused (401); credentials renewed, sending once more",
                             self.platform.name, what)
                    continue
                return response
            if response is not None and not self.platform.retryable(response):
                return response
            tried += 1
            status = response.status_code if response is not None else None
            problem = self.platform.describe(response) if response is not None else transport_problem(failure)
            if tried >= limit:
                raise self.platform.give_up(GaveUp(self.platform.name, what, problem, tried, status, response,
                                                   failure))
            held_until = self._pause(tried, what, problem, response, limit)

    def wait_before_retry(self, retry: int, what: str, problem: str, response: httpx.Response | None = None,
                          *, tries: int | None = None) -> None:
        """Pause before retry `retry` of `what` (1 = the first retry); a 429 holds the whole client."""
        self._pause(retry, what, problem, response, tries or self.platform.retry.tries)

    def _pause(self, retry: int, what: str, problem: str, response: httpx.Response | None, tries: int) -> float | None:
        """Sleep the backoff; after a 429 returns until when the whole client is held (else None)."""
        status = response.status_code if response is not None else None
        backoff = self.platform.retry.backoff_for(status)
        # Retry-After is read in the platform's own seconds, like the backoff (a fast-clock emulator's too).
        retry_after = retry_after_seconds(response, self._wall_clock)
        pause = self.platform.limits.seconds(backoff.pause(retry, self._rng, retry_after))
        log.warning("%s: %s on %s; retry %d of %d in %.2f s", self.platform.name, problem, what, retry,
                    tries - 1, pause)
        held_until = None
        if status == 429:
            self.stats.throttled += 1
            if self.platform.retry.throttle_holds_all:
                held_until = self.pacer.hold(pause)
        self._sleep(pause)
        return held_until

    def _exchange(self, method: str, url: str, what: str, batch: bool, held_until: float | None,
                  **request: Any) -> tuple[httpx.Response | None, httpx.TransportError | None]:
        try:
            wait = self.pacer.reserve(batch=batch, waited_until=held_until)
        except DailyLimitReached as spent:
            raise DailyLimitSpent(self.platform.name, what, spent) from None
        if wait > 0:
            self._sleep(wait)
        with self._slots if self._slots is not None else contextlib.nullcontext():
            self.stats.requests += 1
            self.stats.batch_requests += batch
            try:
                response = self.http.request(method, url, **request)
            except httpx.TransportError as failure:
                self.stats.dropped += 1
                return None, failure
        if response.status_code >= 500:
            self.stats.server_errors += 1
        return response, None
