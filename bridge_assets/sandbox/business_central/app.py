"""The emulator as one ASGI application: `create_app(state_path, settings)`."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from bridge_assets.sandbox.business_central.admin import Admin, seed
from bridge_assets.sandbox.business_central.api import BusinessCentralApi
from bridge_assets.sandbox.business_central.documents import Documents
from bridge_assets.sandbox.business_central.faults import fault_injector
from bridge_assets.sandbox.business_central.payments import Payments
from bridge_assets.sandbox.business_central.settings import EmulatorSettings
from bridge_assets.sandbox.business_central.store import Store
from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.kit.faults import DroppedResponseGateway
from bridge_assets.sandbox.kit.limits import RateLimiter, RateLimits, Window
from bridge_assets.sandbox.kit.oauth import OAuthPolicy, OAuthProvider
from starlette.responses import Response


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)

    def stamp() -> str:        # the wall clock (time_scale shrinks limits and lifetimes, never the record times)
        return dt.datetime.fromtimestamp(time.time(), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    oauth = OAuthProvider(store, OAuthPolicy(grants=("client_credentials",), basic_client_auth=False,
                                             access_token_lifetime_s=settings.access_token_lifetime_s,
                                             time_scale=settings.time_scale), clients=settings.clients)
    throttle = RateLimiter(RateLimits(windows=(Window("per_5_minutes", settings.requests_per_5_minutes, 300,
                                                      key="client"),),
                                      concurrent=settings.concurrent_requests, concurrent_key="client"),
                           real_seconds=settings.real_seconds)
    parts = Parts(settings, store, fault_injector(dict(settings.faults)), oauth, throttle)
    documents = Documents(store, stamp)
    seed(store, settings, documents)
    payments = Payments(documents, settings.payment_amount_sign, stamp)
    gateway = lambda app: DroppedResponseGateway(app, bad_gateway=lambda: Response("Bad Gateway", status_code=502),  # noqa: E731
                                                 timeout_s=lambda: 5.0)
    routes = [*Admin(parts, documents).routes(), *BusinessCentralApi(parts, oauth, documents, payments).routes()]
    return EmulatorApp(parts, routes, outermost=gateway)
