"""QuickBooks Online's throttles: requests per minute per company, concurrent requests and batch
requests per minute per company and app (developer.intuit.com "limits and throttles").

Sliding windows over the wall clock, shortened by `time_scale` so a test can cross a "minute" in a
second. A refused request is answered 429 and does not count against the window. Kept in memory: a
restarted QuickBooks does not remember who was throttled either.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Hashable

from bridge_assets.sandbox.qbo.settings import EmulatorSettings


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


class Throttle:
    def __init__(self, settings: EmulatorSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        minute = settings.real_seconds(60)
        self.per_minute = SlidingWindow(settings.requests_per_minute, minute, clock)
        self.batch_per_minute = SlidingWindow(settings.batch_requests_per_minute, minute, clock)
        self.per_second = (SlidingWindow(settings.requests_per_second, settings.real_seconds(1), clock)
                           if settings.requests_per_second else None)
        self.in_flight: collections.Counter[Hashable] = collections.Counter()
        self._lock = threading.Lock()

    def admit(self, realm_id: str, client_id: str, *, batch: bool) -> bool:
        """Count one request if every window has room; False means answer 429."""
        app_key = (realm_id, client_id)
        with self._lock:
            if self.in_flight[app_key] >= self.settings.concurrent_requests:
                return False
            if not self.per_minute.has_room(realm_id):
                return False
            if self.per_second is not None and not self.per_second.has_room(app_key):
                return False
            if batch and not self.batch_per_minute.has_room(app_key):
                return False
            self.per_minute.record(realm_id)
            if self.per_second is not None:
                self.per_second.record(app_key)
            if batch:
                self.batch_per_minute.record(app_key)
            self.in_flight[app_key] += 1
            return True

    def release(self, realm_id: str, client_id: str) -> None:
        with self._lock:
            key = (realm_id, client_id)
            self.in_flight[key] -= 1
            if self.in_flight[key] <= 0:
                del self.in_flight[key]

    def reset(self) -> None:
        with self._lock:
            for window in (self.per_minute, self.batch_per_minute, self.per_second):
                if window is not None:
                    window.hits.clear()
