"""The FreeAgent emulator as one app, its admin panel and its three ways to start (the kit's `EmulatorKind`).

Admin (no auth, not journaled): the kit's health, settings, reset, faults, journal, clients, plus
    POST /_emulator/tokens {client_id?}        a token pair for the company, without the consent page
    POST /_emulator/expire                     every access token expires now
    POST /_emulator/lock {"date": "YYYY-MM-DD" | null}   the locked period (filed accounts): on or before it
    GET  /_emulator/documents/{kind}           contacts | invoices | credit_notes | bank_transaction_explanations
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from bridge_assets.sandbox.freeagent.api import PLURALS, Api, failure, respond, throttled
from bridge_assets.sandbox.freeagent.settings import EmulatorSettings
from bridge_assets.sandbox.kit import cloud_books
from bridge_assets.sandbox.kit.emulator import EmulatorApp
from bridge_assets.sandbox.kit.limits import MINUTE, RateLimits, Window
from bridge_assets.sandbox.kit.oauth import OAuthPolicy

KINDS = PLURALS


def oauth_policy(settings: EmulatorSettings) -> OAuthPolicy:
    """FreeAgent's OAuth: HTTP Basic; one-hour access tokens; each refresh answers a new refresh token."""
    return OAuthPolicy(grants=("authorization_code", "refresh_token"),
                       access_token_lifetime_s=settings.access_token_lifetime_s,
                       refresh_token_lifetime_s=settings.refresh_token_lifetime_s, authorization_code_lifetime_s=900,
                       rotation="always", grace_s=0.0, basic_client_auth=True, form_only=True,
                       refresh_expiry_field="refresh_token_expires_in", time_scale=settings.time_scale)


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    parts = cloud_books.assemble(state_path, settings, oauth_policy(settings), {
        429: throttled, 500: lambda: failure(500, "Internal Server Error"),
        503: lambda: failure(503, "Service Unavailable")},
        RateLimits(windows=(Window("per_minute", settings.requests_per_minute, MINUTE, key="user"),
                            Window("per_hour", settings.requests_per_hour, 3600, key="user"))))
    books_api = Api(parts)
    admin = cloud_books.admin_routes(
        parts, respond, "FreeAgent", tenant=settings.company, kinds=KINDS,
        render=lambda request, tenant, kind, row: books_api.render(request, tenant, kind, row["id"]),
        lock_answer="locked_through", also_reset=(books_api.reset,))
    return EmulatorApp(parts, [*admin, *books_api.routes()])


AdminClient = cloud_books.LockingAdminClient


class EmulatorHandle(cloud_books.EmulatorHandle):
    prefix = "FREEAGENT"
    tenant_name, tenant_setting = "COMPANY", "company"

    def locations(self) -> dict[str, str]:
        return {"API_URL": f"{self.base_url}/v2"}


KIND = cloud_books.kind(
    "FreeAgent", "bridge_assets.sandbox.freeagent", "Local emulator of the FreeAgent API v2 (one company).",
    "SQLite file holding the company", create_app, EmulatorSettings, AdminClient, EmulatorHandle)
SpawnedEmulator, run_emulator, spawn_emulator = KIND.spawned, KIND.run, KIND.spawn


def demo_sandbox(folder: Path) -> contextlib.AbstractContextManager[tuple[str, dict[str, str]]]:
    """For `bridge demo`: the emulator with its state in `folder`, and the environment for the adapter."""
    return cloud_books.demo_sandbox(KIND, folder, "freeagent", EmulatorSettings(time_scale=60))
