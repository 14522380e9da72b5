"""Fault injection (kit/faults.py): what stands in front of the pod answers these; `drop_next_writes` loses the
answer of a committed write (`drop_entities` names a resource, e.g. "receivablesInvoices")."""

from __future__ import annotations

from starlette.responses import Response

from bridge_assets.sandbox.kit.erp_requests import FAULT_KEYS
from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules


def _page(status: int, text: str) -> Response:
    headers = {"Retry-After": "2"} if status == 429 else None
    return Response(f"<html><body><h1>{status} {text}</h1></body></html>", status_code=status, media_type="text/html",
                    headers=headers)


RULES = FaultRules(
    keys=FAULT_KEYS,
    responses={429: lambda: _page(429, "Too Many Requests"), 500: lambda: _page(500, "Internal Server Error"),
               502: lambda: _page(502, "Bad Gateway"), 503: lambda: _page(503, "Service Unavailable"),
               504: lambda: _page(504, "Gateway Timeout")},
)


def fault_injector(initial: dict | None = None) -> FaultInjector:
    return FaultInjector(RULES, initial)
