"""Fault injection: the failures a client meets in production, on demand and reproducibly.

A fault plan (POST /_emulator/faults) may say, in the names an emulator accepts (`FaultRules.keys`):

    latency_ms, latency_jitter_ms   added to every matching request
    fail_next                       statuses for the next matching requests, e.g. [503, 500]
    fail_requests, fail_status      1-based ordinals of matching requests (counted from when the plan
                                    was set) answered `fail_status` instead ("a 503 on the 3rd request")
    error_rate, error_statuses      that fraction of matching requests fails; seeded random
    throttle_next                   the next N requests answered 429 (before the rate limits count them)
    drop_next_writes, drop_rate     a committed write loses its answer (`DroppedResponseGateway`)
    drop_mode, drop_entities        how ("reset" | "502" | "timeout"), and only for writes touching these
    expire_tokens_on_request        ordinals before which every issued token expires (the request itself
                                    then meets an expired token): a token expiring mid-run
    methods, paths                  filters: only these methods / only paths starting with one of these
    seed                            seed of this plan's random choices

An injected status is answered with the platform's own body and headers: each emulator gives them as
data (`FaultRules.responses`, status -> response), so a 429 carries QuickBooks' XML or ServiceTrade's
envelope with `Retry-After`, a 503 an IIS or gateway page. Which statuses may be injected is the keys
of that table.

Plans apply per scope: `ALL` ("*"), or a scope of the emulator's own (QuickBooks' companies), which
then replaces the `ALL` plan for that scope. Kept in memory: a restarted emulator starts with the
plan of its settings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge_assets.sandbox.kit.settings import refuse_unknown

ALL = "*"
DROP_MODES = ("reset", "502", "timeout")
DROP_SCOPE_KEY = "sandbox.fault"  # scope[...]["drop"] = mode: the handler asks for its answer to be lost


@dataclasses.dataclass
class FaultPlan:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    fail_next: list[int] = dataclasses.field(default_factory=list)
    fail_requests: list[int] = dataclasses.field(default_factory=list)
    fail_status: int = 503
    error_rate: float = 0.0
    error_statuses: list[int] = dataclasses.field(default_factory=lambda: [500, 503])
    throttle_next: int = 0
    drop_next_writes: int = 0
    drop_rate: float = 0.0
    drop_mode: str | None = None
    drop_entities: list[str] = dataclasses.field(default_factory=list)
    expire_tokens_on_request: list[int] = dataclasses.field(default_factory=list)
    methods: list[str] = dataclasses.field(default_factory=list)
    paths: list[str] = dataclasses.field(default_factory=list)
    seed: int | None = None
    # Bookkeeping, not settable: how many matching requests this plan has counted.
    requests_counted: int = 0

    def __post_init__(self) -> None:
        # JSON bodies may carry Decimals and strings; timings and rates are floats, statuses ints.
        for name in ("latency_ms", "latency_jitter_ms", "error_rate", "drop_rate"):
            setattr(self, name, float(getattr(self, name)))
        for name in ("fail_next", "fail_requests", "error_statuses", "expire_tokens_on_request"):
            setattr(self, name, [int(value) for value in getattr(self, name)])
        self.fail_status, self.throttle_next = int(self.fail_status), int(self.throttle_next)
        self.drop_next_writes = int(self.drop_next_writes)
        self.methods = [method.upper() for method in self.methods]

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method.upper() not in self.methods:
            return False
        return not self.paths or any(path.startswith(prefix) for prefix in self.paths)


@dataclasses.dataclass(frozen=True)
class FaultRules:
    """What one emulator's plans may say, and how its injected failures look on the wire."""

    keys: tuple[str, ...]                                  # the plan keys it accepts, in its own names
    responses: Mapping[int, Callable[[], Response]]        # injectable status -> the platform's answer
    renamed: Mapping[str, str] = dataclasses.field(default_factory=dict)   # its name -> FaultPlan's
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # FaultPlan names

    def plan(self, values: Mapping[str, Any]) -> FaultPlan:
        refuse_unknown(values, self.keys, "fault settings")
        fields = {self.renamed.get(key, key): (list(value) if isinstance(value, (list, tuple)) else value)
                  for key, value in values.items()}
        plan = FaultPlan(**{**self.defaults, **fields})
        injectable = tuple(sorted(self.responses))
        statuses = list(plan.fail_next)  # the statuses this plan can answer with
        if "error_statuses" in fields or plan.error_rate:
            statuses += plan.error_statuses
        if "fail_status" in fields or plan.fail_requests:
            statuses.append(plan.fail_status)
        for status in statuses:
            if status not in injectable:
                raise ValueError(f"injected statuses are {injectable}, not {status}")
        if not 0 <= plan.error_rate <= 1 or not 0 <= plan.drop_rate <= 1:
            raise ValueError("error_rate and drop_rate are fractions between 0 and 1")
        if plan.drop_mode is not None and plan.drop_mode not in DROP_MODES:
            raise ValueError(f"drop_mode must be one of {DROP_MODES}")
        return plan

    def show(self, plan: FaultPlan) -> dict[str, Any]:
        """The plan in the emulator's own names, with how many requests it has counted."""
        values = dataclasses.asdict(plan)
        shown = {key: values[self.renamed.get(key, key)] for key in self.keys}
        return {**shown, "requests_counted": plan.requests_counted}

    def response(self, status: int) -> Response:
        return self.responses[status]()


@dataclasses.dataclass(frozen=True)
class Decision:
    """What happens to one request: wait, expire tokens first, or answer `status` instead of the work."""

    ordinal: int = 0
    latency_s: float = 0.0
    expire_tokens: bool = False
    status: int | None = None


class FaultInjector:
    def __init__(self, rules: FaultRules, initial: Mapping[str, Any] | None = None) -> None:
        self.rules = rules
        self._initial = dict(initial or {})
        self._lock = threading.Lock()
        self._plans: dict[str, tuple[FaultPlan, random.Random]] = {}
        self.restore_initial()

    def restore_initial(self) -> None:
        """Every scope's plan forgotten; the plan of the settings (if any) applies to all again."""
        self.clear()
        if self._initial:
            self.set_plan(dict(self._initial))

    def set_plan(self, values: Mapping[str, Any], scope: str | None = None) -> FaultPlan:
        plan = self.rules.plan(values)
        with self._lock:
            self._plans[scope or ALL] = (plan, random.Random(plan.seed))
        return plan

    def clear(self, scope: str | None = None) -> None:
        """Forget one scope's plan, or (None) every plan: no faults, counting starts again."""
        with self._lock:
            if scope is None:
                self._plans.clear()
            else:
                self._plans.pop(scope, None)
            self._plans.setdefault(ALL, (self.rules.plan({}), random.Random(self.rules.defaults.get("seed"))))

    def show(self, plan: FaultPlan) -> dict[str, Any]:
        return self.rules.show(plan)

    def plans(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {scope: self.rules.show(plan) for scope, (plan, _) in self._plans.items()}

    def _plan(self, scope: str) -> tuple[FaultPlan, random.Random]:
        return self._plans.get(scope) or self._plans[ALL]

    def decide(self, scope: str = ALL, method: str = "", path: str = "") -> Decision:
        """Count one request against the plan that applies and say what happens to it."""
        with self._lock:
            plan, rng = self._plan(scope)
            if not plan.matches(method, path):
                return Decision()
            plan.requests_counted += 1
            ordinal = plan.requests_counted
            jitter = rng.uniform(0, plan.latency_jitter_ms) if plan.latency_jitter_ms else 0.0
            status = None
            if plan.fail_next:
                status = plan.fail_next.pop(0)
            elif ordinal in plan.fail_requests:
                status = plan.fail_status
            elif plan.error_rate and rng.random() < plan.error_rate:
                status = rng.choice(plan.error_statuses)
            return Decision(ordinal, max(0.0, plan.latency_ms + jitter) / 1000.0,
                            ordinal in plan.expire_tokens_on_request, status)

    def take_throttle(self, scope: str = ALL) -> bool:
        """Whether this request is one of the `throttle_next` forced 429s."""
        with self._lock:
            plan, _ = self._plan(scope)
            if plan.throttle_next <= 0:
                return False
            plan.throttle_next -= 1
            return True

    def take_drop(self, scope: str, touched: Iterable[str], default_mode: str) -> str | None:
        """Whether this committed write loses its answer, and how (a `DROP_MODES` value)."""
        with self._lock:
            plan, rng = self._plan(scope)
            if plan.drop_entities and not (set(plan.drop_entities) & set(touched)):
                return None
            mode = plan.drop_mode or default_mode
            if plan.drop_next_writes > 0:
                plan.drop_next_writes -= 1
                return mode
            if plan.drop_rate and rng.random() < plan.drop_rate:
                return mode
            return None


# --- a response dropped after the write committed --------------------------------------------------

class ResponseDropped(RuntimeError):
    """Raised to the server when the connection cannot be aborted directly (not uvicorn)."""


class DroppedResponseGateway:
    """Outermost ASGI layer: carries out dropped responses, and stamps headers on every answer.

    A handler asks for a drop by setting `scope[DROP_SCOPE_KEY]["drop"]` to a mode after its write
    has committed (the write stays committed, with whatever makes a retry safe); the response it
    then returns is swallowed here and replaced by the chosen failure:
    - "reset": the TCP connection is aborted before a single byte of the response is sent; the
      client cannot know whether the write happened;
    - "502": `bad_gateway()`, as a proxy in front of the platform answers when the backend timed out;
    - "timeout": the connection is held open for `timeout_s()` and then aborted.
    Under uvicorn the transport is aborted directly (reached through the server's `send` callable;
    uvicorn must run with http="h11"); under any other server `ResponseDropped` is raised, which makes
    the server close or fail the connection instead. `stamp()` gives headers added to every answer
    (QuickBooks' `intuit_tid`), the same on a 502 played for a drop.
    """

    def __init__(self, app: ASGIApp, *, bad_gateway: Callable[[], Response], timeout_s: Callable[[], float],
                 stamp: Callable[[], dict[str, str]] = dict) -> None:
        self.app = app
        self.bad_gateway = bad_gateway
        self.timeout_s = timeout_s
        self.stamp = stamp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder: dict[str, Any] = {}
        scope[DROP_SCOPE_KEY] = holder
        stamped = self.stamp()

        async def send_stamped(message: Message) -> None:
            if holder.get("drop"):
                return  # the real answer is never sent
            if message["type"] == "http.response.start" and stamped:
                message["headers"] = [*message.get("headers", []),
                                      *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in stamped.items())]
            await send(message)

        await self.app(scope, receive, send_stamped)
        mode = holder.get("drop")
        if not mode:
            return
        if mode == "502":
            response = self.bad_gateway()
            response.headers.update(stamped)
            await response(scope, receive, send)
            return
        if mode == "timeout":
            await asyncio.sleep(self.timeout_s())
        await abort_connection(send)


def request_drop(scope: Scope, mode: str) -> None:
    """Ask `DroppedResponseGateway` to lose the answer of this (committed) request."""
    scope.setdefault(DROP_SCOPE_KEY, {})["drop"] = mode


async def abort_connection(send: Send) -> None:
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ResponseDropped("response dropped after the write committed (fault injection)")
    transport.abort()
    # Let the server see the connection is gone before the app returns, so it does not try to
    # answer 500 for "ASGI callable returned without starting response".
    for _ in range(3):
        await asyncio.sleep(0)
