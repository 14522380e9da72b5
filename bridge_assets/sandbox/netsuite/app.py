"""The emulator as one ASGI application: `create_app(state_path, settings)`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from starlette.responses import Response

from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.kit.faults import DroppedResponseGateway
from bridge_assets.sandbox.kit.limits import RateLimiter, RateLimits
from bridge_assets.sandbox.kit.oauth import OAuthPolicy, OAuthProvider
from bridge_assets.sandbox.netsuite.admin import Admin, seed
from bridge_assets.sandbox.netsuite.faults import fault_injector
from bridge_assets.sandbox.netsuite.records import Records
from bridge_assets.sandbox.netsuite.rest import RecordService
from bridge_assets.sandbox.netsuite.settings import EmulatorSettings
from bridge_assets.sandbox.netsuite.store import Store


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = Store(state_path)
    oauth = OAuthProvider(store, OAuthPolicy(grants=("authorization_code", "refresh_token"), rotation="never",
                                             rolling_refresh_expiry=False,
                                             access_token_lifetime_s=settings.access_token_lifetime_s,
                                             refresh_token_lifetime_s=settings.refresh_token_lifetime_s,
                                             time_scale=settings.time_scale), clients=settings.clients)
    throttle = RateLimiter(RateLimits(concurrent=settings.concurrent_requests, concurrent_key="account"),
                           real_seconds=settings.real_seconds)
    parts = Parts(settings, store, fault_injector(dict(settings.faults)), oauth, throttle)

    def stamp() -> str:          # record times on the wall clock (time_scale shrinks lifetimes only)
        return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    records = Records(store, stamp)
    seed(store, settings, records)
    gateway = lambda app: DroppedResponseGateway(app, bad_gateway=lambda: Response("Bad Gateway", status_code=502),  # noqa: E731
                                                 timeout_s=lambda: 5.0)
    return EmulatorApp(parts, [*Admin(parts, records).routes(), *RecordService(parts, oauth, records).routes()],
                       outermost=gateway)
