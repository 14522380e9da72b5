"""Fault injection for the ServiceTrade emulator: the failures a bridge meets, on demand and reproducibly.

A fault plan (kit/faults.py) applies to API requests (everything under /api, the token endpoint included) that match
its filters; counting starts when the plan is set:

    latency_ms, latency_jitter_ms   added to every matching request
    fail_requests                   1-based ordinals of matching requests to answer with `fail_status`
                                    ("a 503 on the 3rd request")
    fail_status                     500 | 502 | 503 | 504 | 429 (default 503)
    fail_next                       statuses for the next matching requests, e.g. [500, 503]
    error_rate, error_statuses      that fraction of matching requests fails; seeded random
    methods, paths                  filters: only these methods / only paths starting with one of these
    seed                            seed of this plan's random choices

An injected failure happens before anything is done (nothing is written), like a gateway or a
restarting back end: a 500 answers the envelope, 502/503/504 answer a gateway's HTML, 429 answers the
envelope with `Retry-After: 1`.
"""

from __future__ import annotations

from starlette.responses import Response

from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules
from bridge_assets.sandbox.servicetrade import wire


def _throttled() -> Response:
    response = wire.ApiError(429, ["Too many requests"]).response()
    response.headers["Retry-After"] = "1"
    return response


def _gateway(status: int, reason: str) -> Response:
    html = f"<html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1></body></html>"
    return Response(html, status_code=status, media_type="text/html")


RULES = FaultRules(
    keys=("latency_ms", "latency_jitter_ms", "fail_requests", "fail_status", "fail_next", "error_rate",
          "error_statuses", "methods", "paths", "seed"),
    responses={500: lambda: wire.ApiError(500, ["Internal server error"]).response(), 429: _throttled,
               502: lambda: _gateway(502, "Bad Gateway"), 503: lambda: _gateway(503, "Service Unavailable"),
               504: lambda: _gateway(504, "Gateway Time-out")},
)


def fault_injector(initial: dict | None = None) -> FaultInjector:
    return FaultInjector(RULES, initial)
