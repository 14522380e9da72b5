"""The emulator as one ASGI application: `create_app(state_path, settings)`."""

from __future__ import annotations

from pathlib import Path

from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.kit.faults import DroppedResponseGateway
from bridge_assets.sandbox.odoo.admin import Admin, _json
from bridge_assets.sandbox.odoo.faults import _page, fault_injector
from bridge_assets.sandbox.odoo.models import Database
from bridge_assets.sandbox.odoo.orm import Clock
from bridge_assets.sandbox.odoo.rpc import OdooRpc, seed_database
from bridge_assets.sandbox.odoo.settings import EmulatorSettings
from bridge_assets.sandbox.odoo.store import Store


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    seed_database(store, settings)
    clock = Clock()     # write_date on the wall clock: time_scale never moves record times
    parts = Parts(settings, store, fault_injector(dict(settings.faults)))
    database = Database(store, clock)
    gateway = lambda app: DroppedResponseGateway(app, bad_gateway=lambda: _page(502, "Bad Gateway"),  # noqa: E731
                                                 timeout_s=lambda: 5.0)
    return EmulatorApp(parts, [*Admin(parts, clock).routes(), *OdooRpc(parts, database).routes()], outermost=gateway)


__all__ = ["create_app", "_json"]
