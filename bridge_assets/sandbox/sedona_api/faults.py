"""SedonaAPI's faults, as data for the kit's fault injector, for data requests (`/api/<Model>...`, not
the token endpoint). A plan (POST /_emulator/faults) holds:

    fail_next                  statuses for the next data requests, e.g. [503, 500]
    fail_on_requests           ordinals of data requests (1-based, counted from when the plan was
                               set) answered `fail_status` instead, e.g. [3] fails the third page
    fail_status                default 503
    error_rate, error_statuses that fraction of data requests fails with one of these statuses
    seed                       seed of the plan's random choices (default 0)
    expire_tokens_on_request   ordinals before which every issued token expires (the request
                               itself then meets an expired token): a token expiring mid-run
    latency_ms                 added to every data request

Injected 503s look like IIS's HTML page, 502 like a gateway, 500 like the API's own error body.
"""

from __future__ import annotations

from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules
from bridge_assets.sandbox.sedona_api import wire
from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings

KEYS = ("fail_next", "fail_on_requests", "fail_status", "error_rate", "error_statuses", "seed",
        "expire_tokens_on_request", "latency_ms")


def fault_injector(settings: EmulatorSettings) -> FaultInjector:
    rules = FaultRules(
        keys=KEYS, renamed={"fail_on_requests": "fail_requests"}, defaults={"seed": 0},
        responses={503: wire.service_unavailable, 502: wire.bad_gateway,
                   500: lambda: wire.error_response(settings, 500, "An error has occurred.")})
    return FaultInjector(rules, settings.faults)
