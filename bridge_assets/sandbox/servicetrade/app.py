"""The emulator as one ASGI application: `create_app(state_path, settings)`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from starlette.applications import Starlette

from bridge_assets.sandbox.servicetrade.admin import Admin
from bridge_assets.sandbox.servicetrade.api import ServiceTradeApi
from bridge_assets.sandbox.servicetrade.auth import Auth
from bridge_assets.sandbox.kit.faults import FaultInjector
from bridge_assets.sandbox.servicetrade.faults import fault_injector
from bridge_assets.sandbox.servicetrade.settings import EmulatorSettings
from bridge_assets.sandbox.servicetrade.store import Store


@dataclasses.dataclass
class Emulator:
    """The parts of one running emulator, reachable as `app.state.emulator` (for tests and tools)."""

    settings: EmulatorSettings
    store: Store
    auth: Auth
    faults: FaultInjector


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> Starlette:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    auth = Auth(store, settings)
    faults = fault_injector(dict(settings.faults))
    emulator = Emulator(settings, store, auth, faults)
    admin = Admin(store, settings, auth, faults)
    api = ServiceTradeApi(store, settings, auth, faults)
    app = Starlette(routes=[*admin.routes(), *api.routes()])
    app.state.emulator = emulator
    return app
