"""The start and the end of one API request in the ERP emulators (Business Central, NetSuite, SAP Business One,
Oracle Fusion Receivables), around the platform's own handling:

    refused = injected_fault(parts, request)            the fault plan's answer (journaled "injected"), or None
    body = await json_body(request)                     the JSON body; an empty one is `empty`
    ...the platform's handling, in a store transaction...
    journal_answer(parts, request, status, entities, **columns)

`journal_answer` lets the fault plan drop the answer of a committed write (`drop_entities` naming one of
`entities`) and journals the request "dropped:<mode>", "processed" or "refused". `FAULT_KEYS`: what their fault
plans take (Odoo's too).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.faults import request_drop

# What the ERP emulators' fault plans take (kit/faults.py): failures, latency, and dropped answers of writes.
FAULT_KEYS = ("latency_ms", "latency_jitter_ms", "fail_requests", "fail_status", "fail_next", "error_rate",
              "error_statuses", "drop_next_writes", "drop_rate", "drop_mode", "drop_entities", "methods", "paths", "seed")


def injected_fault(parts: Parts, request: Request) -> Response | None:
    decision = parts.faults.decide(method=request.method, path=request.url.path)
    if decision.status is None:
        return None
    parts.store.journal_append(request.method, request.url.path, request.url.query, decision.status, "injected")
    return parts.faults.rules.response(decision.status)


async def json_body(request: Request, empty: Any = None) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else empty


def journal_answer(parts: Parts, request: Request, status: int, entities: Sequence[str], *, wrote: bool | None = None,
                   **columns: Any) -> None:
    """`wrote`: whether the request committed a write (default: not a GET and not refused)."""
    wrote = request.method != "GET" and status < 400 if wrote is None else wrote
    mode = parts.faults.take_drop("*", list(entities), "reset") if wrote else None
    if mode:
        request_drop(request.scope, mode)
    parts.store.journal_append(request.method, request.url.path, request.url.query, status,
                               f"dropped:{mode}" if mode else "processed" if status < 400 else "refused", **columns)
