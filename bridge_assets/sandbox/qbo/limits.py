"""QuickBooks Online's throttles, as data for the kit's rate limiter (developer.intuit.com "limits and
throttles"): requests per minute per company, batch requests per minute per company and app,
concurrent requests per company and app, and (off unless set) requests per second per company and app.

A refused request is answered 429 (errors.throttle_exceeded) and does not count against the window.
"""

from __future__ import annotations

from collections.abc import Hashable

from bridge_assets.sandbox.kit.limits import MINUTE, RateLimiter, RateLimits, Window
from bridge_assets.sandbox.qbo.settings import EmulatorSettings


def quickbooks_limits(settings: EmulatorSettings) -> RateLimits:
    windows = [Window("per_minute", settings.requests_per_minute, MINUTE, key="company"),
               Window("batch_per_minute", settings.batch_requests_per_minute, MINUTE, key="app", only="batch")]
    if settings.requests_per_second:
        windows.append(Window("per_second", settings.requests_per_second, 1, key="app"))
    return RateLimits(tuple(windows), concurrent=settings.concurrent_requests, concurrent_key="app")


def throttle(settings: EmulatorSettings) -> RateLimiter:
    return RateLimiter(quickbooks_limits(settings), real_seconds=settings.real_seconds)


def caller(realm_id: str, client_id: str) -> dict[str, Hashable]:
    """Who a request counts against: the company, and the company with the app."""
    return {"company": realm_id, "app": (realm_id, client_id)}
