"""Fault injection for data requests (`/api/<Model>...`, not the token endpoint), reproducibly.

A plan (POST /_emulator/faults) holds:

    fail_next                  statuses for the next data requests, e.g. [503, 500]
    fail_on_requests           ordinals of data requests (1-based, counted from when the plan was
                               set) answered `fail_status` instead, e.g. [3] fails the third page
    fail_status                default 503
    error_rate, error_statuses that fraction of data requests fails with one of these statuses
    seed                       seed of the plan's random choices
    expire_tokens_on_request   ordinals before which every issued token expires (the request
                               itself then meets an expired token): a token expiring mid-run
    latency_ms                 added to every data request

Injected 503s look like IIS's HTML page, 502 like a gateway, 500 like the API's own error body.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from typing import Any, Mapping

PLAN_KEYS = ("fail_next", "fail_on_requests", "fail_status", "error_rate", "error_statuses", "seed",
             "expire_tokens_on_request", "latency_ms")
INJECTABLE = (500, 502, 503)


@dataclasses.dataclass
class FaultPlan:
    fail_next: list[int] = dataclasses.field(default_factory=list)
    fail_on_requests: list[int] = dataclasses.field(default_factory=list)
    fail_status: int = 503
    error_rate: float = 0.0
    error_statuses: list[int] = dataclasses.field(default_factory=lambda: [500, 503])
    seed: int = 0
    expire_tokens_on_request: list[int] = dataclasses.field(default_factory=list)
    latency_ms: float = 0.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "FaultPlan":
        unknown = sorted(set(values) - set(PLAN_KEYS))
        if unknown:
            raise ValueError(f"unknown fault settings {unknown}; known: {list(PLAN_KEYS)}")
        plan = cls(**{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in values.items()})
        for status in [*plan.fail_next, plan.fail_status, *plan.error_statuses]:
            if int(status) not in INJECTABLE:
                raise ValueError(f"can inject {INJECTABLE}, not {status}")
        if not 0 <= float(plan.error_rate) <= 1:
            raise ValueError("error_rate is a fraction between 0 and 1")
        return plan

    def to_mapping(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Decision:
    ordinal: int
    latency_s: float
    expire_tokens: bool
    status: int | None


class FaultInjector:
    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._initial = dict(initial or {})
        self.set_plan(self._initial)

    def set_plan(self, values: Mapping[str, Any]) -> FaultPlan:
        plan = FaultPlan.from_mapping(values)
        with self._lock:
            self._plan = plan
            self._rng = random.Random(plan.seed)
            self._ordinal = 0
        return plan

    def clear(self) -> None:
        self.set_plan({})

    def restore_initial(self) -> None:
        self.set_plan(self._initial)

    def plan(self) -> dict[str, Any]:
        with self._lock:
            return {**self._plan.to_mapping(), "requests_counted": self._ordinal}

    def decide(self) -> Decision:
        """What happens to the next data request."""
        with self._lock:
            plan = self._plan
            self._ordinal += 1
            ordinal = self._ordinal
            status = None
            if plan.fail_next:
                status = int(plan.fail_next.pop(0))
            elif ordinal in plan.fail_on_requests:
                status = int(plan.fail_status)
            elif plan.error_rate and self._rng.random() < plan.error_rate:
                status = int(self._rng.choice(plan.error_statuses))
            return Decision(ordinal, plan.latency_ms / 1000.0, ordinal in plan.expire_tokens_on_request, status)
