"""Fault injection (kit/faults.py) with the Service Layer's error body (a reverse proxy's page for 502/504);
`drop_next_writes` loses the answer of a committed write (`drop_entities` names entity sets)."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from bridge_assets.sandbox.kit.erp_requests import FAULT_KEYS
from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules
from bridge_assets.sandbox.sap_business_one.errors import B1Error


def _error(status: int, value: str) -> Response:
    headers = {"Retry-After": "2"} if status == 429 else None
    return JSONResponse(B1Error(-1, value, status).body(), status_code=status, headers=headers)


RULES = FaultRules(
    keys=FAULT_KEYS,
    responses={429: lambda: _error(429, "Too many requests"), 500: lambda: _error(500, "Internal error"),
               502: lambda: Response("<html><body>502 Proxy Error</body></html>", status_code=502, media_type="text/html"),
               503: lambda: _error(503, "Service Unavailable"),
               504: lambda: Response("<html><body>504 Gateway Timeout</body></html>", status_code=504,
                                     media_type="text/html")},
)


def fault_injector(initial: dict | None = None) -> FaultInjector:
    return FaultInjector(RULES, initial)
