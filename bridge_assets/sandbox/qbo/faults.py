"""Fault injection: the failures a bridge meets in production, on demand and reproducibly.

A `FaultPlan` applies to one company (or, under the key "*", to every company without its own plan):

    latency_ms, latency_jitter_ms   added to every API request, inside its concurrency slot
    error_rate, error_statuses      that fraction of API requests answered 500 (SystemFault JSON) or
                                    503 (gateway HTML) before anything is done; seeded random
    fail_next                       list of statuses for the next requests, e.g. [503, 500]
    throttle_next                   the next N requests answered 429
    drop_next_writes, drop_rate     a committed write loses its answer (see below)
    drop_mode                       "reset" | "502" | "timeout" (default from settings.drop_mode)
    drop_entities                   only writes touching these entities are dropped (empty = any)
    seed                            seed of this plan's random choices

Dropped responses. The write is applied and committed (with its `requestid` record, so a retry with
the same requestid gets the original answer), and then the answer is lost:
- "reset": the TCP connection is aborted before a single byte of the response is sent. The client
  sees "server disconnected without sending a response" and cannot know whether the write happened,
  exactly like a connection cut between Intuit's servers and the client.
- "502": an HTML 502 Bad Gateway, as a proxy in front of QuickBooks answers when the backend timed out.
- "timeout": the connection is held open for `request_timeout_s` (Intuit: 120 s, scaled) and then
  aborted; a client with a shorter read timeout sees its own timeout.
This is done by `DroppedResponseGateway`, the outermost ASGI layer. Under uvicorn it aborts the
transport directly (reached through the server's `send` callable); under any other server it raises
`ResponseDropped`, which makes the server close or fail the connection instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge_assets.sandbox.qbo import errors, wire
from bridge_assets.sandbox.qbo.settings import DROP_MODES, EmulatorSettings

ALL_COMPANIES = "*"
SCOPE_KEY = "qbo.fault"


@dataclasses.dataclass
class FaultPlan:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: list[int] = dataclasses.field(default_factory=lambda: [500, 503])
    fail_next: list[int] = dataclasses.field(default_factory=list)
    throttle_next: int = 0
    drop_next_writes: int = 0
    drop_rate: float = 0.0
    drop_mode: str | None = None
    drop_entities: list[str] = dataclasses.field(default_factory=list)
    seed: int | None = None

    def __post_init__(self) -> None:
        # JSON bodies are parsed with Decimal; timings and rates are plain floats here.
        for name in ("latency_ms", "latency_jitter_ms", "error_rate", "drop_rate"):
            setattr(self, name, float(getattr(self, name)))
        self.error_statuses = [int(s) for s in self.error_statuses]
        self.fail_next = [int(s) for s in self.fail_next]
        self.throttle_next = int(self.throttle_next)
        self.drop_next_writes = int(self.drop_next_writes)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "FaultPlan":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fault settings {unknown}; known: {sorted(known)}")
        plan = cls(**values)
        if plan.drop_mode is not None and plan.drop_mode not in DROP_MODES:
            raise ValueError(f"drop_mode must be one of {DROP_MODES}")
        for status in [*plan.error_statuses, *plan.fail_next]:
            if status not in (500, 502, 503, 429):
                raise ValueError(f"injected statuses are 500, 502, 503 or 429, not {status}")
        return plan

    def to_mapping(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class FaultInjector:
    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._plans: dict[str, FaultPlan] = {}
        self._random: dict[str, random.Random] = {}
        if settings.faults:
            self.set_plan(ALL_COMPANIES, dict(settings.faults))

    def set_plan(self, realm_id: str | None, values: dict[str, Any]) -> FaultPlan:
        plan = FaultPlan.from_mapping(values)
        key = realm_id or ALL_COMPANIES
        with self._lock:
            self._plans[key] = plan
            self._random[key] = random.Random(plan.seed)
        return plan

    def clear(self, realm_id: str | None = None) -> None:
        with self._lock:
            if realm_id is None:
                self._plans.clear()
                self._random.clear()
            else:
                self._plans.pop(realm_id, None)
                self._random.pop(realm_id, None)

    def plans(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {key: plan.to_mapping() for key, plan in self._plans.items()}

    def _plan(self, realm_id: str) -> tuple[FaultPlan, random.Random] | None:
        key = realm_id if realm_id in self._plans else ALL_COMPANIES
        plan = self._plans.get(key)
        return None if plan is None else (plan, self._random[key])

    def take_throttle(self, realm_id: str) -> bool:
        with self._lock:
            found = self._plan(realm_id)
            if found is None or found[0].throttle_next <= 0:
                return False
            found[0].throttle_next -= 1
            return True

    def latency_seconds(self, realm_id: str) -> float:
        with self._lock:
            found = self._plan(realm_id)
            if found is None:
                return 0.0
            plan, rng = found
            jitter = rng.uniform(0, plan.latency_jitter_ms) if plan.latency_jitter_ms else 0.0
            return max(0.0, plan.latency_ms + jitter) / 1000.0

    def injected_status(self, realm_id: str) -> int | None:
        """A status to answer instead of doing the work (500, 502, 503 or 429), or None."""
        with self._lock:
            found = self._plan(realm_id)
            if found is None:
                return None
            plan, rng = found
            if plan.fail_next:
                return plan.fail_next.pop(0)
            if plan.error_rate and rng.random() < plan.error_rate:
                return rng.choice(plan.error_statuses)
            return None

    def take_drop(self, realm_id: str, entities: set[str]) -> str | None:
        """Whether this committed write loses its answer, and how."""
        with self._lock:
            found = self._plan(realm_id)
            if found is None:
                return None
            plan, rng = found
            if plan.drop_entities and not (set(plan.drop_entities) & entities):
                return None
            mode = plan.drop_mode or self.settings.drop_mode
            if plan.drop_next_writes > 0:
                plan.drop_next_writes -= 1
                return mode
            if plan.drop_rate and rng.random() < plan.drop_rate:
                return mode
            return None


def injected_response(status: int):
    if status == 500:
        return errors.system_failure().response()
    if status == 502:
        return errors.bad_gateway()
    if status == 429:
        return errors.throttle_exceeded()
    return errors.service_unavailable()


class ResponseDropped(RuntimeError):
    """Raised to the server when the connection cannot be aborted directly (not uvicorn)."""


class DroppedResponseGateway:
    """Outermost ASGI layer: stamps `intuit_tid` on every answer and carries out dropped responses.

    A handler asks for a drop by setting `scope["qbo.fault"]["drop"]` to a mode after its write has
    committed; the response it then returns is swallowed here and replaced by the chosen failure.
    """

    def __init__(self, app: ASGIApp, settings: EmulatorSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder: dict[str, Any] = {}
        scope[SCOPE_KEY] = holder
        intuit_tid = wire.new_intuit_tid()

        async def send_with_tid(message: Message) -> None:
            if holder.get("drop"):
                return  # the real answer is never sent
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("intuit_tid", intuit_tid)
            await send(message)

        await self.app(scope, receive, send_with_tid)
        mode = holder.get("drop")
        if not mode:
            return
        if mode == "502":
            response = errors.bad_gateway()
            response.headers["intuit_tid"] = intuit_tid
            await response(scope, receive, send)
            return
        if mode == "timeout":
            await asyncio.sleep(self.settings.real_seconds(self.settings.request_timeout_s))
        await _abort_connection(send)


async def _abort_connection(send: Send) -> None:
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ResponseDropped("response dropped after the write committed (fault injection)")
    transport.abort()
    # Let the server see the connection is gone before the app returns, so it does not try to
    # answer 500 for "ASGI callable returned without starting response".
    for _ in range(3):
        await asyncio.sleep(0)
