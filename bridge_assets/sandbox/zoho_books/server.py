"""The Zoho Books emulator as one app, its admin panel and its three ways to start (the kit's `EmulatorKind`).

Admin (no auth, not journaled): the kit's health, settings, reset, faults, journal, clients, plus
    POST /_emulator/tokens {client_id?}        a token pair for the organization, without the consent page
    POST /_emulator/expire                     every access token expires now
    POST /_emulator/lock {"date": "YYYY-MM-DD" | null}   the transaction lock date (dated before it: locked)
    GET  /_emulator/documents/{kind}           contact | item | invoice | creditnote | payment, as the API renders them
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from bridge_assets.sandbox.kit import cloud_books
from bridge_assets.sandbox.kit.emulator import EmulatorApp
from bridge_assets.sandbox.kit.limits import DAY, MINUTE, RateLimits, Window
from bridge_assets.sandbox.kit.oauth import OAuthPolicy
from bridge_assets.sandbox.zoho_books.api import Api, failure, respond, throttled
from bridge_assets.sandbox.zoho_books.settings import EmulatorSettings

KINDS = ("contact", "item", "invoice", "creditnote", "payment")


def oauth_policy(settings: EmulatorSettings) -> OAuthPolicy:
    """Zoho's OAuth: one-hour access tokens; a refresh token that neither rotates nor expires."""
    return OAuthPolicy(grants=("authorization_code", "refresh_token"),
                       access_token_lifetime_s=settings.access_token_lifetime_s,
                       refresh_token_lifetime_s=100 * 365 * 86400.0, rotation="never", rolling_refresh_expiry=False,
                       basic_client_auth=False, body_client_auth=True, form_only=True,
                       refresh_answer_has_refresh=False, time_scale=settings.time_scale)


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    parts = cloud_books.assemble(state_path, settings, oauth_policy(settings), {
        429: throttled, 500: lambda: failure(1000, "Internal error", 500),
        503: lambda: failure(1000, "Service temporarily unavailable", 503)},
        RateLimits(windows=(Window("per_minute", settings.requests_per_minute, MINUTE, key="org"),
                            Window("per_day", settings.requests_per_day, DAY, key="org")),
                   concurrent=settings.concurrent, concurrent_key="org"))
    books_api = Api(parts)
    admin = cloud_books.admin_routes(
        parts, respond, "Zoho Books", tenant=settings.organization_id, kinds=KINDS,
        render=lambda request, tenant, kind, row: books_api.render(tenant, kind, row),
        lock_answer="transaction_lock_date", also_reset=(books_api.reset,))
    return EmulatorApp(parts, [*admin, *books_api.routes()])


AdminClient = cloud_books.LockingAdminClient


class EmulatorHandle(cloud_books.EmulatorHandle):
    prefix = "ZOHO_BOOKS"
    tenant_name, tenant_setting = "ORGANIZATION_ID", "organization_id"

    def locations(self) -> dict[str, str]:
        return {"API_URL": f"{self.base_url}/books/v3", "ACCOUNTS_URL": self.base_url}

    def extra_variables(self) -> dict[str, str]:
        return {"UNIQUE_FIELD": self.settings.unique_field}


KIND = cloud_books.kind(
    "Zoho Books", "bridge_assets.sandbox.zoho_books", "Local emulator of the Zoho Books API v3 (one organization).",
    "SQLite file holding the organization", create_app, EmulatorSettings, AdminClient, EmulatorHandle)
SpawnedEmulator, run_emulator, spawn_emulator = KIND.spawned, KIND.run, KIND.spawn


def demo_sandbox(folder: Path) -> contextlib.AbstractContextManager[tuple[str, dict[str, str]]]:
    """For `bridge demo`: the emulator with its state in `folder`, and the environment for the adapter."""
    return cloud_books.demo_sandbox(KIND, folder, "zoho_books", EmulatorSettings(time_scale=60))
