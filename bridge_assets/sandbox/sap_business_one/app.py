"""The emulator as one ASGI application: `create_app(state_path, settings)`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from starlette.responses import Response

from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.kit.faults import DroppedResponseGateway
from bridge_assets.sandbox.sap_business_one.admin import Admin, seed
from bridge_assets.sandbox.sap_business_one.documents import Documents
from bridge_assets.sandbox.sap_business_one.faults import fault_injector
from bridge_assets.sandbox.sap_business_one.service import ServiceLayer
from bridge_assets.sandbox.sap_business_one.settings import EmulatorSettings
from bridge_assets.sandbox.sap_business_one.store import Store


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    parts = Parts(settings, store, fault_injector(dict(settings.faults)))
    documents = Documents(store, lambda: dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))   # UpdateDate/Time, UTC
    seed(store, settings, documents)
    gateway = lambda app: DroppedResponseGateway(app, bad_gateway=lambda: Response("Proxy Error", status_code=502),  # noqa: E731
                                                 timeout_s=lambda: 5.0)
    return EmulatorApp(parts, [*Admin(parts, documents).routes(), *ServiceLayer(parts, documents).routes()],
                       outermost=gateway)
