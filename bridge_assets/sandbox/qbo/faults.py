"""QuickBooks Online's faults, as data for the kit's fault injector (kit/faults.py has the plan keys).

A plan applies to one company (its realmId) or, under "*", to every company without its own:
latency_ms, latency_jitter_ms, error_rate, error_statuses, fail_next, throttle_next,
drop_next_writes, drop_rate, drop_mode, drop_entities, seed.

Injected statuses answer as QuickBooks and the gateways in front of it do: 500 a SystemFault JSON,
502 and 503 a gateway's HTML, 429 the throttle XML. A dropped response ("reset", "502", "timeout";
default `settings.drop_mode`) loses the answer of a write that committed together with its
`requestid` record, so a retry with the same requestid gets the original answer.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from bridge_assets.sandbox.kit.faults import DroppedResponseGateway, FaultInjector, FaultRules
from bridge_assets.sandbox.qbo import errors, wire
from bridge_assets.sandbox.qbo.settings import EmulatorSettings

RULES = FaultRules(
    keys=("latency_ms", "latency_jitter_ms", "error_rate", "error_statuses", "fail_next", "throttle_next",
          "drop_next_writes", "drop_rate", "drop_mode", "drop_entities", "seed"),
    responses={500: lambda: errors.system_failure().response(), 502: errors.bad_gateway,
               503: errors.service_unavailable, 429: errors.throttle_exceeded},
)


def fault_injector(settings: EmulatorSettings) -> FaultInjector:
    return FaultInjector(RULES, settings.faults)


def gateway(app: ASGIApp, settings: EmulatorSettings) -> DroppedResponseGateway:
    """Stamps `intuit_tid` on every answer and carries out dropped responses."""
    return DroppedResponseGateway(app, bad_gateway=errors.bad_gateway,
                                  timeout_s=lambda: settings.real_seconds(settings.request_timeout_s),
                                  stamp=lambda: {"intuit_tid": wire.new_intuit_tid()})
