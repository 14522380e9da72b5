"""Fault injection for the ServiceTrade emulator: the failures a bridge meets, on demand and reproducibly.

A `FaultPlan` applies to API requests (everything under /api, the token endpoint included) that match
its filters; counting starts when the plan is set:

    latency_ms, latency_jitter_ms   added to every matching request
    fail_requests                   1-based ordinals of matching requests to answer with `fail_status`
                                    ("a 503 on the 3rd request")
    fail_status                     500 | 502 | 503 | 504 | 429 (default 503)
    fail_next                       statuses for the next matching requests, e.g. [500, 503]
    error_rate, error_statuses      that fraction of matching requests fails; seeded random
    methods, paths                  filters: only these methods / only paths starting with one of these
    seed                            seed of this plan's random choices

An injected failure happens before anything is done (nothing is written), like a gateway or a
restarting back end: a 500 answers the envelope, 502/503/504 answer a gateway's HTML, 429 answers the
envelope with `Retry-After: 1`.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from typing import Any

from starlette.responses import Response

from bridge_assets.sandbox.servicetrade import wire

INJECTABLE = (500, 502, 503, 504, 429)


@dataclasses.dataclass
class FaultPlan:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    fail_requests: list[int] = dataclasses.field(default_factory=list)
    fail_status: int = 503
    fail_next: list[int] = dataclasses.field(default_factory=list)
    error_rate: float = 0.0
    error_statuses: list[int] = dataclasses.field(default_factory=lambda: [500, 503])
    methods: list[str] = dataclasses.field(default_factory=list)
    paths: list[str] = dataclasses.field(default_factory=list)
    seed: int | None = None
    # Bookkeeping, not settable: how many matching requests this plan has seen.
    seen: int = 0

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> FaultPlan:
        known = {f.name for f in dataclasses.fields(cls)} - {"seen"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fault settings {unknown}; known: {sorted(known)}")
        plan = cls(**values)
        plan.latency_ms, plan.latency_jitter_ms = float(plan.latency_ms), float(plan.latency_jitter_ms)
        plan.error_rate = float(plan.error_rate)
        plan.fail_requests = [int(n) for n in plan.fail_requests]
        plan.fail_next = [int(s) for s in plan.fail_next]
        plan.error_statuses = [int(s) for s in plan.error_statuses]
        plan.fail_status = int(plan.fail_status)
        plan.methods = [m.upper() for m in plan.methods]
        for status in [plan.fail_status, *plan.fail_next, *plan.error_statuses]:
            if status not in INJECTABLE:
                raise ValueError(f"injected statuses are {INJECTABLE}, not {status}")
        return plan

    def to_mapping(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method.upper() not in self.methods:
            return False
        return not self.paths or any(path.startswith(prefix) for prefix in self.paths)


@dataclasses.dataclass(frozen=True)
class Decision:
    delay_s: float = 0.0
    status: int | None = None


class FaultInjector:
    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._initial = dict(initial or {})
        self._plan: FaultPlan | None = None
        self._random = random.Random()
        self.restore_initial()

    def restore_initial(self) -> None:
        if self._initial:
            self.set_plan(dict(self._initial))
        else:
            self.clear()

    def set_plan(self, values: dict[str, Any]) -> FaultPlan:
        plan = FaultPlan.from_mapping(values)
        with self._lock:
            self._plan = plan
            self._random = random.Random(plan.seed)
        return plan

    def clear(self) -> None:
        with self._lock:
            self._plan = None

    def plan(self) -> dict[str, Any] | None:
        with self._lock:
            return None if self._plan is None else self._plan.to_mapping()

    def decide(self, method: str, path: str) -> Decision:
        with self._lock:
            plan = self._plan
            if plan is None or not plan.matches(method, path):
                return Decision()
            plan.seen += 1
            delay = plan.latency_ms + (self._random.uniform(0, plan.latency_jitter_ms) if plan.latency_jitter_ms else 0)
            status = None
            if plan.fail_next:
                status = plan.fail_next.pop(0)
            elif plan.seen in plan.fail_requests:
                status = plan.fail_status
            elif plan.error_rate and self._random.random() < plan.error_rate:
                status = self._random.choice(plan.error_statuses)
            return Decision(max(0.0, delay) / 1000.0, status)


def injected_response(status: int) -> Response:
    if status == 500:
        return wire.ApiError(500, ["Internal server error"]).response()
    if status == 429:
        response = wire.ApiError(429, ["Too many requests"]).response()
        response.headers["Retry-After"] = "1"
        return response
    reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out"}[status]
    html = f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
    return Response(html, status_code=status, media_type="text/html")
