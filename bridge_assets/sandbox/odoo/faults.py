"""Fault injection for the Odoo emulator (kit/faults.py): what stands in front of Odoo answers these,
before anything reaches the database; `drop_next_writes` loses the answer of a committed write call."""

from __future__ import annotations

from starlette.responses import Response

from bridge_assets.sandbox.kit.erp_requests import FAULT_KEYS
from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules


def _page(status: int, reason: str) -> Response:
    html = f"<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1></center>" \
           f"<hr><center>nginx</center></body></html>"
    response = Response(html, status_code=status, media_type="text/html")
    if status == 429:
        response.headers["Retry-After"] = "1"
    return response


RULES = FaultRules(
    keys=FAULT_KEYS,
    responses={429: lambda: _page(429, "Too Many Requests"), 500: lambda: _page(500, "Internal Server Error"),
               502: lambda: _page(502, "Bad Gateway"),
               503: lambda: _page(503, "Service Temporarily Unavailable"), 504: lambda: _page(504, "Gateway Time-out")},
)


def fault_injector(initial: dict | None = None) -> FaultInjector:
    return FaultInjector(RULES, initial)
