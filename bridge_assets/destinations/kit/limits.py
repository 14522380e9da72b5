"""A platform's request limits as data, and the pacer that keeps a client evenly under them.

Every platform publishes its limits differently (QuickBooks Online: 500 a minute, 40 batch requests
a minute, 10 at a time; Xero: 60 a minute, 5,000 a day, 5 at a time). A `Limits` value holds them;
a limit left as None does not apply. The `Pacer` spaces requests evenly at the per-minute rates (one
slot every 60/limit seconds, plus a small margin) instead of bursting and then waiting on 429s: a
throttled request costs far more than the spacing. The daily budget is counted over the last 24
hours; when it is spent the pacer refuses at once instead of sleeping for hours inside a run.

`time_scale` > 1 makes a minute shorter, to match a sandbox emulator's fast clock; real platforms
run at 1.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Callable

DAY_S = 86_400.0
# The wall-clock slack a minute's worth of evenly spaced requests keeps against the server's window. At the
# platforms' own clocks the 2% margin is larger (Xero, 60 a minute: 1.2 s); it decides only when an
# emulator's minute lasts a second or two.
JITTER_S = 0.25


@dataclasses.dataclass(frozen=True)
class Limits:
    """One company's (or organisation's) limits on one platform; None means the platform sets none."""

    requests_per_minute: int | None = None
    requests_per_day: int | None = None
    concurrent_requests: int | None = None
    batch_requests_per_minute: int | None = None
    batch_max_items: int | None = None
    time_scale: float = 1.0
    # Each slot is this much longer than the limit strictly needs, so network jitter never lets two
    # requests meet inside the server's sliding window; and a minute's slots together are never less than
    # JITTER_S longer (wall clock: a loaded machine delays a request by that much whatever the platform's
    # clock, which against an emulator's fast minute 2% would not cover).
    margin: float = 0.02

    def __post_init__(self) -> None:
        for field in ("requests_per_minute", "requests_per_day", "concurrent_requests",
                      "batch_requests_per_minute", "batch_max_items"):
            value = getattr(self, field)
            if value is not None and value < 1:
                raise ValueError(f"{type(self).__name__}.{field} must be at least 1 (or None for no limit), "
                                 f"not {value}")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")

    @property
    def minute(self) -> float:
        """How long a limit's minute lasts on the wall clock."""
        return 60.0 / self.time_scale

    def seconds(self, emulated: float) -> float:
        """Platform seconds (a pause, a Retry-After) as wall-clock seconds."""
        return emulated / self.time_scale

    @property
    def request_interval(self) -> float:
        return self._slot(self.requests_per_minute)

    @property
    def batch_interval(self) -> float:
        return self._slot(self.batch_requests_per_minute)

    def _slot(self, per_minute: int | None) -> float:
        """One slot of `per_minute` a minute: the limit's spacing plus its margin (see `margin`)."""
        if per_minute is None:
            return 0.0
        spacing = self.minute / per_minute
        return spacing + max(spacing * self.margin, JITTER_S / per_minute)


class DailyLimitReached(Exception):
    """The platform's requests-per-day budget is spent; `free_in` seconds until a slot frees."""

    def __init__(self, limit: int, free_in: float) -> None:
        super().__init__(f"the daily limit of {limit} requests is spent; the next slot frees in "
                         f"{free_in / 60:.0f} minutes")
        self.limit = limit
        self.free_in = free_in


class Pacer:
    """Even spacing: each request reserves the next free slot, a batch also the next batch slot."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._next_request = 0.0
        self._next_batch = 0.0
        self._today: collections.deque[float] = collections.deque()

    def reserve(self, *, batch: bool = False, waited_until: float | None = None) -> float:
        """Claim a slot; returns how long to wait before sending in it (raises DailyLimitReached).

        `waited_until`: the caller has already waited out a hold until then (its own 429 pause), so the
        pacer counts from there rather than making it wait the same hold twice.
        """
        with self._lock:
            now = max(self._clock(), waited_until or 0.0)
            start = max(now, self._next_request, self._next_batch if batch else now)
            self._count_today(start)
            self._next_request = start + self.limits.request_interval
            if batch:
                self._next_batch = start + self.limits.batch_interval
            return start - now

    def hold(self, seconds: float) -> float:
        """Throttled: nobody sends for `seconds` (a 429 means the window is full for everyone); returns until when."""
        with self._lock:
            until = self._clock() + seconds
            self._next_request = max(self._next_request, until)
            self._next_batch = max(self._next_batch, until)
            return until

    def _count_today(self, start: float) -> None:
        per_day = self.limits.requests_per_day
        if per_day is None:
            return
        day = self.limits.seconds(DAY_S)
        while self._today and self._today[0] <= start - day:
            self._today.popleft()
        if len(self._today) >= per_day:
            raise DailyLimitReached(per_day, self._today[0] + day - start)
        self._today.append(start)
