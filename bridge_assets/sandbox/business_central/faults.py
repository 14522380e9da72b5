"""Fault injection (kit/faults.py): Business Central's own error body for a 429 or 5xx (with Retry-After
on 429), answered before anything is done; `drop_next_writes` loses the answer of a committed write."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from bridge_assets.sandbox.kit.erp_requests import FAULT_KEYS
from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules


def _error(status: int, code: str, message: str) -> Response:
    headers = {"Retry-After": "5"} if status == 429 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


RULES = FaultRules(
    keys=FAULT_KEYS,
    responses={429: lambda: _error(429, "Application_TooManyRequests", "Too many requests."),
               500: lambda: _error(500, "Unknown", "Something went wrong."),
               502: lambda: Response("Bad Gateway", status_code=502),
               503: lambda: _error(503, "Application_ServiceUnavailable", "The service is temporarily unavailable."),
               504: lambda: _error(504, "Application_GatewayTimeout", "The operation timed out.")},
)


def fault_injector(initial: dict | None = None) -> FaultInjector:
    return FaultInjector(RULES, initial)
