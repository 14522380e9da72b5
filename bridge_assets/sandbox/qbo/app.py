"""The emulator as one ASGI application: `create_app(state_path, settings=...)`.

The dropped-response gateway (faults.py) is the outermost layer, outside Starlette's own error
middleware, because it needs the server's raw `send` to abort the connection.
"""

from __future__ import annotations

import functools
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.qbo import company, faults, limits
from bridge_assets.sandbox.qbo.admin import Admin
from bridge_assets.sandbox.qbo.api import CompanyApi
from bridge_assets.sandbox.qbo.oauth import AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH, OAuthServer
from bridge_assets.sandbox.qbo.settings import EmulatorSettings
from bridge_assets.sandbox.qbo.store import Store
from bridge_assets.sandbox.qbo.webhooks import WebhookSender


DISCOVERY_PATHS = ("/.well-known/openid_sandbox_configuration/", "/.well-known/openid_configuration/")


async def discovery(request: Request) -> JSONResponse:
    """Intuit's OpenID discovery document (the one intuit-oauth's AuthClient reads when its `environment`
    is a URL), naming this emulator's endpoints, so an unmodified client finds them by configuration."""
    base = str(request.base_url).rstrip("/")
    return JSONResponse({"issuer": base, "authorization_endpoint": base + AUTHORIZE_PATH,
                         "token_endpoint": base + TOKEN_PATH, "revocation_endpoint": base + REVOKE_PATH,
                         "userinfo_endpoint": base + "/v1/openid_connect/userinfo", "jwks_uri": base + "/oauth2/v1/keys",
                         "response_types_supported": ["code"], "scopes_supported": ["openid", "com.intuit.quickbooks.accounting"]})


def create_app(state_path: str | Path, *, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)

    def ensure_company(realm_id: str) -> None:
        company.ensure_company(store, settings, realm_id)

    oauth = OAuthServer(store, settings, ensure_company=ensure_company)
    parts = Parts(settings, store, faults.fault_injector(settings), oauth, limits.throttle(settings))
    if settings.create_default_company:
        ensure_company(settings.default_realm_id)

    webhooks = WebhookSender(settings, store) if settings.webhook_url else None
    api, admin = CompanyApi(parts, webhooks), Admin(parts)
    routes = [
        Route(TOKEN_PATH, oauth.token_endpoint, methods=["POST"]),
        Route(REVOKE_PATH, oauth.revoke_endpoint, methods=["POST"]),
        Route(AUTHORIZE_PATH, oauth.authorize_endpoint, methods=["GET"]),
        *(Route(path, discovery, methods=["GET"]) for path in DISCOVERY_PATHS),
        *admin.routes(),
        *api.routes(),
    ]
    return EmulatorApp(parts, routes, outermost=functools.partial(faults.gateway, settings=settings))
