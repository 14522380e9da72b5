"""The door every API call of a small emulator passes: injected faults, the access token, the rate limits
(as the platform counts them, held for the length of the call so concurrency counts too), and the journal.

    gate = Gate(parts, token_of=lambda request: ...the token in the platform's header...,
                denied=lambda why: ...the platform's 401 ("missing" | "invalid" | "expired")...,
                throttled=lambda: ...the platform's 429 (or MYOB's 403)...,
                caller=lambda grant, request: {"org": ...})     # the keys the RateLimits windows name
    return await gate.run(request, lambda grant, caller, body: ...the work (body: the raw bytes), a Response...)

`parts.auth` is the kit's OAuth provider (`access(token)`), `parts.throttle` a `RateLimiter`.

A fault plan with `drop_next_writes` (and `drop_entities`: path segments such as "invoices") holds back the
answer of a write that committed (`hold_answer`): journaled `dropped:timeout`, it is sent only once the
client has gone, so a crash test can kill a client at the worst moment: the write done, its answer unseen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.faults import ALL

Caller = Mapping[str, Hashable]


class Gate:
    def __init__(self, parts: Parts, *, token_of: Callable[[Request], str | None],
                 denied: Callable[[str], Response], throttled: Callable[[], Response],
                 caller: Callable[[Any, Request], Caller], book: Callable[[Caller], str | None] = lambda c: None) -> None:
        self.parts, self.token_of, self.denied, self.throttled, self.caller = parts, token_of, denied, throttled, caller
        self.book = book

    async def run(self, request: Request, work: Callable[[Any, Caller, bytes], Response]) -> Response:
        parts = self.parts
        decision = parts.faults.decide(method=request.method, path=request.url.path)
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.expire_tokens:
            parts.auth.expire()
        if decision.status:
            return self._journal(request, parts.faults.rules.response(decision.status), "injected", None)
        token = self.token_of(request)
        grant = parts.auth.access(token) if token else None
        if grant is None or grant.state != "valid":
            why = "missing" if not token else "expired" if grant is not None and grant.state == "expired" else "invalid"
            return self._journal(request, self.denied(why), "unauthorized", None)
        caller = self.caller(grant, request)
        if parts.faults.take_throttle() or not parts.throttle.admit(caller):
            return self._journal(request, self.throttled(), "throttled", caller)
        try:
            answer = work(grant, caller, await request.body())
        finally:
            parts.throttle.release(caller)
        if await hold_answer(parts, request, answer, lambda: self._journal(request, answer, "dropped:timeout", caller)):
            return answer
        return self._journal(request, answer, "processed" if answer.status_code < 400 else "refused", caller)

    def _journal(self, request: Request, answer: Response, outcome: str, caller: Caller | None) -> Response:
        """One journal row for this request (the tenant in its `book` column); returns the answer."""
        self.parts.store.journal_append(request.method, request.url.path, str(request.url.query), answer.status_code,
                                        outcome, book=self.book(caller) if caller is not None else None)
        return answer


async def hold_answer(parts: Parts, request: Request, answer: Response, journal: Callable[[], object],
                      longest_s: float = 120.0) -> bool:
    """When the fault plan asks, keep a committed write's answer until the client has gone (or `longest_s`)."""
    if request.method == "GET" or answer.status_code >= 400:
        return False
    if parts.faults.take_drop(ALL, tuple(request.url.path.split("/")), "timeout") is None:
        return False
    journal()
    deadline = asyncio.get_running_loop().time() + longest_s
    while asyncio.get_running_loop().time() < deadline and not await request.is_disconnected():
        await asyncio.sleep(0.05)
    return True
