"""The emulator as one ASGI application: `create_app(state_path, settings)`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from starlette.responses import Response

from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.kit.faults import DroppedResponseGateway
from bridge_assets.sandbox.oracle_fusion_receivables.admin import Admin
from bridge_assets.sandbox.oracle_fusion_receivables.faults import fault_injector
from bridge_assets.sandbox.oracle_fusion_receivables.receivables import Receivables
from bridge_assets.sandbox.oracle_fusion_receivables.rest import ReceivablesApi
from bridge_assets.sandbox.oracle_fusion_receivables.settings import EmulatorSettings
from bridge_assets.sandbox.oracle_fusion_receivables.store import Store


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    parts = Parts(settings, store, fault_injector(dict(settings.faults)))

    def stamp() -> str:        # LastUpdateDate on the wall clock, UTC
        return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"

    gateway = lambda app: DroppedResponseGateway(app, bad_gateway=lambda: Response("Bad Gateway", status_code=502),  # noqa: E731
                                                 timeout_s=lambda: 5.0)
    return EmulatorApp(parts, [*Admin(parts).routes(), *ReceivablesApi(parts, Receivables(store, settings, stamp)).routes()],
                       outermost=gateway)
