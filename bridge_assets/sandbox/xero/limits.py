"""Xero's limits as data for the kit's rate limiter (developer.xero.com/faq/limits): per organisation and
app 60 calls a minute, 5,000 a day and 5 at once; per app 10,000 a minute across organisations. A
refused call is answered 429 with `Retry-After` and `X-Rate-Limit-Problem` naming the limit."""

from __future__ import annotations

from collections.abc import Hashable

from bridge_assets.sandbox.kit.limits import DAY, MINUTE, RateLimiter, RateLimits, Window
from bridge_assets.sandbox.xero.settings import EmulatorSettings

# kit window name -> Xero's word in X-Rate-Limit-Problem
PROBLEM = {"minute": "minute", "day": "day", "appminute": "appminute", "concurrent": "concurrent"}


def throttle(settings: EmulatorSettings) -> RateLimiter:
    windows = (Window("minute", settings.requests_per_minute, MINUTE, key="tenant"),
               Window("day", settings.requests_per_day, DAY, key="tenant"),
               Window("appminute", settings.app_requests_per_minute, MINUTE, key="app"))
    return RateLimiter(RateLimits(windows, concurrent=settings.concurrent_requests, concurrent_key="tenant"),
                       real_seconds=settings.real_seconds)


def caller(tenant_id: str, client_id: str) -> dict[str, Hashable]:
    return {"tenant": (tenant_id, client_id), "app": client_id}
