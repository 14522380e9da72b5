"""The Sage Accounting emulator as one app, its admin panel and its three ways to start (the kit's `EmulatorKind`).

Admin (no auth, not journaled): the kit's health, settings, reset, faults, journal, clients, plus
    POST /_emulator/tokens {client_id?}        a token pair for the business, without the consent page
    POST /_emulator/expire                     every access token expires now
    POST /_emulator/lock {"date": "YYYY-MM-DD" | null}   the year-end lockdown date (on or before it: locked)
    GET  /_emulator/documents/{kind}           contacts | sales_invoices | sales_credit_notes | contact_payments |
                                               contact_allocations, as the API renders them (attributes=all)
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from bridge_assets.sandbox.kit import cloud_books
from bridge_assets.sandbox.kit.emulator import EmulatorApp
from bridge_assets.sandbox.kit.limits import DAY, MINUTE, RateLimits, Window
from bridge_assets.sandbox.kit.oauth import OAuthPolicy
from bridge_assets.sandbox.sage.api import SINGULAR, Api, failure, respond, throttled
from bridge_assets.sandbox.sage.settings import EmulatorSettings

KINDS = tuple(SINGULAR)


def oauth_policy(settings: EmulatorSettings) -> OAuthPolicy:
    """Sage's OAuth: five-minute access tokens; 31-day refresh tokens rotated on every use, the old one dead."""
    return OAuthPolicy(grants=("authorization_code", "refresh_token"),
                       access_token_lifetime_s=settings.access_token_lifetime_s,
                       refresh_token_lifetime_s=settings.refresh_token_lifetime_s, authorization_code_lifetime_s=60,
                       rotation="always", grace_s=0.0, basic_client_auth=False, body_client_auth=True, form_only=True,
                       answer_extra=(("resource_owner_id", settings.resource_owner_id),),
                       time_scale=settings.time_scale)


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    parts = cloud_books.assemble(state_path, settings, oauth_policy(settings), {
        429: throttled, 500: lambda: failure(500, "InternalServerError", "Internal Server Error"),
        503: lambda: failure(503, "ServiceUnavailable", "Service Unavailable")},
        RateLimits(windows=(Window("per_minute", settings.requests_per_minute, MINUTE, key="business"),
                            Window("per_day", settings.requests_per_day, DAY, key="business"))))
    books_api = Api(parts)
    admin = cloud_books.admin_routes(
        parts, respond, "Sage Accounting", tenant=settings.business_id, kinds=KINDS,
        render=lambda request, tenant, kind, row: books_api.render(tenant, kind, row),
        lock_answer="year_end_lockdown_date")
    return EmulatorApp(parts, [*admin, *books_api.routes()])


AdminClient = cloud_books.LockingAdminClient


class EmulatorHandle(cloud_books.EmulatorHandle):
    prefix = "SAGE"
    tenant_name, tenant_setting = "BUSINESS_ID", "business_id"

    def locations(self) -> dict[str, str]:
        return {"API_URL": f"{self.base_url}/v3.1", "TOKEN_URL": f"{self.base_url}/token"}


KIND = cloud_books.kind(
    "Sage Accounting", "bridge_assets.sandbox.sage",
    "Local emulator of the Sage Business Cloud Accounting API v3.1 (one business).",
    "SQLite file holding the business", create_app, EmulatorSettings, AdminClient, EmulatorHandle)
SpawnedEmulator, run_emulator, spawn_emulator = KIND.spawned, KIND.run, KIND.spawn


def demo_sandbox(folder: Path) -> contextlib.AbstractContextManager[tuple[str, dict[str, str]]]:
    """For `bridge demo`: the emulator with its state in `folder`, and the environment for the adapter."""
    return cloud_books.demo_sandbox(KIND, folder, "sage", EmulatorSettings(time_scale=60))
