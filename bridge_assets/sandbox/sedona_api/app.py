"""The emulator as one ASGI application: `create_app(state_path, settings)`."""

from __future__ import annotations

from pathlib import Path

from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.sedona_api.admin import Admin
from bridge_assets.sandbox.sedona_api.api import TenantApi
from bridge_assets.sandbox.sedona_api.auth import Authenticator
from bridge_assets.sandbox.sedona_api.faults import fault_injector
from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings
from bridge_assets.sandbox.sedona_api.store import Store


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    parts = Parts(settings, store, fault_injector(settings), Authenticator(store, settings))
    return EmulatorApp(parts, [*Admin(parts).routes(), *TenantApi(parts).routes()])
