"""The emulator as one ASGI application: `create_app(state_path, settings)`."""

from __future__ import annotations

from pathlib import Path

from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.servicetrade.admin import Admin
from bridge_assets.sandbox.servicetrade.api import ServiceTradeApi
from bridge_assets.sandbox.servicetrade.auth import Auth
from bridge_assets.sandbox.servicetrade.faults import fault_injector
from bridge_assets.sandbox.servicetrade.settings import EmulatorSettings
from bridge_assets.sandbox.servicetrade.store import Store
from bridge_assets.sandbox.servicetrade.webhooks import WebhookSender


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    parts = Parts(settings, store, fault_injector(dict(settings.faults)), Auth(store, settings))
    webhooks = WebhookSender(settings) if settings.webhook_url else None
    return EmulatorApp(parts, [*Admin(parts, webhooks).routes(), *ServiceTradeApi(parts, webhooks).routes()])
