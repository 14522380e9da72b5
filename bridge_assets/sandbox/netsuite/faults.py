"""Fault injection (kit/faults.py) with NetSuite's error body; `drop_next_writes` loses the answer of a
committed write (`drop_entities` names record types)."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from bridge_assets.sandbox.kit.erp_requests import FAULT_KEYS
from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules
from bridge_assets.sandbox.netsuite.errors import NsError


def _error(status: int, code: str, detail: str) -> Response:
    headers = {"Retry-After": "2"} if status == 429 else None
    return JSONResponse(NsError(status, code, detail).body(), status_code=status, headers=headers)


RULES = FaultRules(
    keys=FAULT_KEYS,
    responses={429: lambda: _error(429, "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded."),
               500: lambda: _error(500, "UNEXPECTED_ERROR", "An unexpected error occurred."),
               502: lambda: Response("Bad Gateway", status_code=502),
               503: lambda: _error(503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable."),
               504: lambda: Response("Gateway Timeout", status_code=504)},
)


def fault_injector(initial: dict | None = None) -> FaultInjector:
    return FaultInjector(RULES, initial)
