"""Rate limits given as data: so many requests per window (a minute, a day, a second) and so many at once.

    limits = RateLimits(
        windows=(Window("per_minute", 500, 60, key="company"),
                 Window("batch_per_minute", 40, 60, key="app", only="batch")),
        concurrent=10, concurrent_key="app")
    limiter = RateLimiter(limits, real_seconds=settings.real_seconds)
    if not limiter.admit({"company": realm_id, "app": (realm_id, client_id)}, kinds={"batch"}):
        ...answer the platform's 429...
    try: ...the work... finally: limiter.release({"company": ..., "app": ...})

Windows slide over the wall clock, their lengths divided by the emulator's time scale
(`real_seconds`), so a test can cross a "minute" in a second and a "day" in a few. A refused request
is not counted. Kept in memory: a restarted platform does not remember who was throttled either.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping

MINUTE, DAY = 60.0, 86400.0


@dataclasses.dataclass(frozen=True)
class Window:
    name: str           # as the platform calls it ("per_minute", "per_day")
    limit: int          # requests allowed in any window
    seconds: float      # the window, in emulated seconds
    key: str = "all"    # which part of the caller the window counts on (a key of the `caller` mapping)
    only: str | None = None  # counts only requests of this kind ("batch"); None: every request


@dataclasses.dataclass(frozen=True)
class RateLimits:
    windows: tuple[Window, ...] = ()
    concurrent: int | None = None    # requests in flight at once; None: no limit
    concurrent_key: str = "all"


@dataclasses.dataclass(frozen=True)
class Refusal:
    window: str         # the window's name, or "concurrent"
    wait_s: float       # real seconds until that limit has room again (1 for concurrency: unknown)


class SlidingWindow:
    def __init__(self, limit: int, seconds: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self.hits: dict[Hashable, collections.deque[float]] = collections.defaultdict(collections.deque)

    def has_room(self, key: Hashable) -> bool:
        hits = self.hits[key]
        horizon = self.clock() - self.seconds
        while hits and hits[0] <= horizon:
            hits.popleft()
        return len(hits) < self.limit

    def record(self, key: Hashable) -> None:
        self.hits[key].append(self.clock())

    def wait_s(self, key: Hashable) -> float:
        """Real seconds until the oldest counted request leaves the window (0 when there is room)."""
        hits = self.hits[key]
        return max(0.0, hits[0] + self.seconds - self.clock()) if len(hits) >= self.limit else 0.0


class RateLimiter:
    def __init__(self, limits: RateLimits, *, real_seconds: Callable[[float], float] = lambda s: s,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.windows = [(window, SlidingWindow(window.limit, real_seconds(window.seconds), clock))
                        for window in limits.windows]
        self.in_flight: collections.Counter[Hashable] = collections.Counter()
        self._lock = threading.Lock()

    def admit(self, caller: Mapping[str, Hashable], kinds: Iterable[str] = ()) -> bool:
        """Count one request if every window has room and a slot is free; False means answer 429.

        `caller` maps each key the limits name ("company", "app", ...) to who is calling; "all" may be
        left out (one count for everybody).
        """
        return self.refusal(caller, kinds) is None

    def refusal(self, caller: Mapping[str, Hashable], kinds: Iterable[str] = ()) -> Refusal | None:
        """As `admit`, but a refused request says which limit refused it and when it has room again (a
        platform that names the limit in its 429, as Xero's `X-Rate-Limit-Problem`); None: admitted."""
        kinds = set(kinds)
        applying = [(window, counter, caller.get(window.key, "all")) for window, counter in self.windows
                    if window.only is None or window.only in kinds]
        slot = caller.get(self.limits.concurrent_key, "all")
        with self._lock:
            if self.limits.concurrent is not None and self.in_flight[slot] >= self.limits.concurrent:
                return Refusal("concurrent", 1.0)
            for window, counter, key in applying:
                if not counter.has_room(key):
                    return Refusal(window.name, counter.wait_s(key))
            for _, counter, key in applying:
                counter.record(key)
            self.in_flight[slot] += 1
            return None

    def release(self, caller: Mapping[str, Hashable]) -> None:
        """The admitted request is done: its concurrency slot is free again."""
        slot = caller.get(self.limits.concurrent_key, "all")
        with self._lock:
            self.in_flight[slot] -= 1
            if self.in_flight[slot] <= 0:
                del self.in_flight[slot]

    def reset(self) -> None:
        with self._lock:
            for _, counter in self.windows:
                counter.hits.clear()
