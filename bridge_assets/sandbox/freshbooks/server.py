"""The FreshBooks emulator as one app, its admin panel and its three ways to start (the kit's `EmulatorKind`).

    with run_emulator(tmp_path / "freshbooks.sqlite3") as freshbooks:
        tokens = freshbooks.admin.mint_tokens()          # as if the user had just connected the app
        environment = freshbooks.client_environment(tokens["refresh_token"], token_store)

Admin (no auth, not journaled): the kit's health, settings, reset, faults, journal, clients, plus
    POST /_emulator/tokens {client_id?}      a token pair for the account, without the consent page
    POST /_emulator/expire                   every access token expires now
    GET  /_emulator/documents/{kind}         every client | invoice | credit_note | payment, deleted too,
                                             as the API renders it (with lines)
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from bridge_assets.sandbox.freshbooks import api
from bridge_assets.sandbox.freshbooks.api import Api, respond
from bridge_assets.sandbox.freshbooks.settings import EmulatorSettings
from bridge_assets.sandbox.kit import cloud_books
from bridge_assets.sandbox.kit.emulator import EmulatorApp
from bridge_assets.sandbox.kit.limits import MINUTE, RateLimits, Window
from bridge_assets.sandbox.kit.oauth import OAuthPolicy

KINDS = ("client", "invoice", "credit_note", "payment")


def oauth_policy(settings: EmulatorSettings) -> OAuthPolicy:
    """FreshBooks' OAuth: 12-hour access tokens; refresh tokens that never expire but work once."""
    return OAuthPolicy(grants=("authorization_code", "refresh_token"),
                       access_token_lifetime_s=settings.access_token_lifetime_s,
                       refresh_token_lifetime_s=100 * 365 * 86400.0, authorization_code_lifetime_s=300,
                       rotation="always", grace_s=0.0, basic_client_auth=False, body_client_auth=True,
                       created_at_field="created_at", time_scale=settings.time_scale)


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    parts = cloud_books.assemble(state_path, settings, oauth_policy(settings),
                                 {429: api.throttled, 500: api.server_error, 503: api.unavailable},
                                 RateLimits(windows=(Window("per_minute", settings.requests_per_minute, MINUTE,
                                                            key="account"),)))
    books_api = Api(parts)
    admin = cloud_books.admin_routes(
        parts, respond, "FreshBooks", tenant=settings.account_id, kinds=KINDS, keep_deleted=True,
        render=lambda request, tenant, kind, row: books_api.books.render(tenant, kind, row, lines=True))
    return EmulatorApp(parts, [*admin, *books_api.routes()])


AdminClient = cloud_books.AdminClient


class EmulatorHandle(cloud_books.EmulatorHandle):
    prefix = "FRESHBOOKS"
    tenant_name, tenant_setting = "ACCOUNT_ID", "account_id"

    def locations(self) -> dict[str, str]:
        return {"API_URL": self.base_url}


KIND = cloud_books.kind(
    "FreshBooks", "bridge_assets.sandbox.freshbooks", "Local emulator of the FreshBooks accounting API (one account).",
    "SQLite file holding the account", create_app, EmulatorSettings, AdminClient, EmulatorHandle)
SpawnedEmulator, run_emulator, spawn_emulator = KIND.spawned, KIND.run, KIND.spawn


def demo_sandbox(folder: Path) -> contextlib.AbstractContextManager[tuple[str, dict[str, str]]]:
    """For `bridge demo`: the emulator with its state in `folder`, and the environment for the adapter."""
    return cloud_books.demo_sandbox(KIND, folder, "freshbooks", EmulatorSettings(time_scale=60))
