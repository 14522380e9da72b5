"""The Xero emulator as one ASGI application: `create_app(state_path, settings=...)`."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route

from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.kit.faults import DroppedResponseGateway, FaultInjector, FaultRules
from bridge_assets.sandbox.xero import errors, limits, oauth
from bridge_assets.sandbox.xero.admin import Admin
from bridge_assets.sandbox.xero.api import AccountingApi
from bridge_assets.sandbox.xero.settings import EmulatorSettings
from bridge_assets.sandbox.xero.store import Store
from bridge_assets.sandbox.xero.webhooks import WebhookSender

# Plans apply per organisation (tenantId) or to all; injected statuses answer as Xero and its gateway do.
FAULT_RULES = FaultRules(
    keys=("latency_ms", "latency_jitter_ms", "error_rate", "error_statuses", "fail_next", "fail_requests",
          "fail_status", "throttle_next", "drop_next_writes", "drop_rate", "drop_mode", "drop_entities", "methods",
          "paths", "seed"),
    responses={500: errors.internal_error, 502: errors.bad_gateway, 503: errors.service_unavailable,
               429: errors.injected_throttle},
)


def create_app(state_path: str | Path, *, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    if settings.create_default_organisation:
        store.ensure_organisation(settings.default_tenant_id, settings.organisation_name)
    provider = oauth.provider(store, settings)
    parts = Parts(settings, store, FaultInjector(FAULT_RULES, settings.faults), provider, limits.throttle(settings))
    webhooks = WebhookSender(settings, store) if settings.webhook_url else None
    api, admin = AccountingApi(parts, webhooks), Admin(parts)

    def on_consent(tenant_id: str) -> None:
        oauth.connect_consenting(store, settings, tenant_id)

    routes = [
        Route(oauth.TOKEN_PATH, provider.token_endpoint, methods=["POST"]),
        Route(oauth.REVOKE_PATH, provider.revoke_endpoint, methods=["POST"]),
        Route(oauth.AUTHORIZE_PATH, provider.consent_endpoint(scope=oauth.SCOPE, subject_param="tenantId",
                                                              default_subject=settings.default_tenant_id,
                                                              on_consent=on_consent), methods=["GET"]),
        *admin.routes(),
        *api.routes(),
    ]

    def gateway(app):
        return DroppedResponseGateway(app, bad_gateway=errors.bad_gateway,
                                      timeout_s=lambda: settings.real_seconds(settings.request_timeout_s))

    return EmulatorApp(parts, routes, outermost=gateway)
