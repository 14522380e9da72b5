"""The emulator as one ASGI application: `create_app(state_path, settings)`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from starlette.applications import Starlette

from bridge_assets.sandbox.sedona_api.admin import Admin
from bridge_assets.sandbox.sedona_api.api import TenantApi
from bridge_assets.sandbox.sedona_api.auth import Authenticator
from bridge_assets.sandbox.kit.faults import FaultInjector
from bridge_assets.sandbox.sedona_api.faults import fault_injector
from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings
from bridge_assets.sandbox.sedona_api.store import Store


@dataclasses.dataclass
class Emulator:
    """The parts of one running emulator, reachable as `app.state.emulator` (for tests and tools)."""

    settings: EmulatorSettings
    store: Store
    auth: Authenticator
    faults: FaultInjector


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> Starlette:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    emulator = Emulator(settings, store, Authenticator(store, settings), fault_injector(settings))
    admin = Admin(store, settings, emulator.faults)
    api = TenantApi(store, settings, emulator.auth, emulator.faults)
    app = Starlette(routes=[*admin.routes(), *api.routes()])
    app.state.emulator = emulator
    return app
