"""The emulator as one ASGI application: `create_app(state_path, settings)`."""

from __future__ import annotations

from pathlib import Path

from bridge_assets.sandbox.kit.emulator import EmulatorApp
from bridge_assets.sandbox.kit.faults import FaultRules
from bridge_assets.sandbox.kit.limits import DAY, MINUTE, RateLimits, Window
from bridge_assets.sandbox.kit.oauth import OAuthPolicy, OAuthProvider
from bridge_assets.sandbox.kit.tenant_admin import FAULT_KEYS, tenant_app
from bridge_assets.sandbox.wave import resolvers, schema
from bridge_assets.sandbox.wave.admin import Admin
from bridge_assets.sandbox.wave.api import WaveApi, error, graphql_answer
from bridge_assets.sandbox.wave.settings import EmulatorSettings
from bridge_assets.sandbox.wave.store import Store


def _gateway(status: int):
    return lambda: graphql_answer(status, [error("Service unavailable, try again.", "INTERNAL")])


FAULT_RULES = FaultRules(
    keys=FAULT_KEYS,
    responses={500: _gateway(500), 502: _gateway(502), 503: _gateway(503), 504: _gateway(504),
               429: lambda: graphql_answer(429, [error("Too many requests; slow down.", "RATE_LIMITED")],
                                           headers={"Retry-After": "1"})},
)


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    policy = OAuthPolicy(grants=("authorization_code", "refresh_token"), rotation="always",
                         access_token_lifetime_s=settings.access_token_lifetime_s,
                         refresh_token_lifetime_s=settings.refresh_token_lifetime_s, form_client_auth=True,
                         time_scale=settings.time_scale)
    oauth = OAuthProvider(store, policy, clients=settings.clients)
    limits = RateLimits(windows=(Window("per_minute", settings.requests_per_minute, MINUTE, key="token"),
                                 Window("per_day", settings.requests_per_day, DAY, key="app")))
    graphql_schema = resolvers.bind(schema.build())
    return tenant_app(settings, store, FAULT_RULES, Admin, lambda parts: WaveApi(parts, graphql_schema), auth=oauth,
                      limits=limits)
