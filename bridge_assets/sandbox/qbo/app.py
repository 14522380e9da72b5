"""The emulator as one ASGI application: `create_app(state_path, settings=...)`.

The dropped-response gateway must sit outside Starlette's own error middleware, because it needs the
server's raw `send` to abort the connection; `QboEmulatorApp` puts it there.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bridge_assets.sandbox.kit.faults import FaultInjector
from bridge_assets.sandbox.kit.limits import RateLimiter
from bridge_assets.sandbox.qbo import company, faults, limits
from bridge_assets.sandbox.qbo.admin import Admin
from bridge_assets.sandbox.qbo.api import CompanyApi
from bridge_assets.sandbox.qbo.oauth import AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH, OAuthServer
from bridge_assets.sandbox.qbo.settings import EmulatorSettings
from bridge_assets.sandbox.qbo.store import Store
from bridge_assets.sandbox.qbo.webhooks import WebhookSender


@dataclasses.dataclass
class Emulator:
    """The parts of one running emulator, reachable as `app.state.emulator` (for tests and tools)."""

    settings: EmulatorSettings
    store: Store
    oauth: OAuthServer
    throttle: RateLimiter
    faults: FaultInjector


class QboEmulatorApp(Starlette):
    def __init__(self, emulator: Emulator, routes: list) -> None:
        super().__init__(routes=routes)
        self.state.emulator = emulator
        self._gateway = faults.gateway(super().__call__, emulator.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._gateway(scope, receive, send)


def create_app(state_path: str | Path, *, settings: EmulatorSettings | None = None) -> QboEmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)

    def ensure_company(realm_id: str) -> None:
        company.ensure_company(store, settings, realm_id)

    oauth = OAuthServer(store, settings, ensure_company=ensure_company)
    emulator = Emulator(settings, store, oauth, limits.throttle(settings), faults.fault_injector(settings))
    if settings.create_default_company:
        ensure_company(settings.default_realm_id)

    webhooks = WebhookSender(settings, store) if settings.webhook_url else None
    api = CompanyApi(store, settings, oauth, emulator.throttle, emulator.faults, webhooks)
    admin = Admin(store, settings, oauth, emulator.throttle, emulator.faults)
    routes = [
        Route(TOKEN_PATH, oauth.token_endpoint, methods=["POST"]),
        Route(REVOKE_PATH, oauth.revoke_endpoint, methods=["POST"]),
        Route(AUTHORIZE_PATH, oauth.authorize_endpoint, methods=["GET"]),
        *admin.routes(),
        *api.routes(),
    ]
    return QboEmulatorApp(emulator, routes)
