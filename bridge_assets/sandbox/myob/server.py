"""The MYOB Business API emulator as one app, its admin panel and its three ways to start (the kit's `EmulatorKind`).

Admin (no auth, not journaled): the kit's health, settings, reset, faults, journal, clients, plus
    POST /_emulator/tokens {client_id?}        a token pair consented for the company file, without the consent page
    POST /_emulator/expire                     every access token expires now
    POST /_emulator/lock {"date": "YYYY-MM-DD" | null}   the lock date (on or before it: refused)
    GET  /_emulator/documents/{kind}           customers | invoices | settlements | payments
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from bridge_assets.sandbox.kit import cloud_books
from bridge_assets.sandbox.kit.emulator import EmulatorApp
from bridge_assets.sandbox.kit.limits import DAY, RateLimits, Window
from bridge_assets.sandbox.kit.oauth import OAuthPolicy
from bridge_assets.sandbox.myob.api import Api, failure, rate_limited, respond
from bridge_assets.sandbox.myob.settings import EmulatorSettings

KINDS = ("customers", "invoices", "settlements", "payments")


def oauth_policy(settings: EmulatorSettings) -> OAuthPolicy:
    """MYOB's OAuth: 20-minute access tokens; refresh tokens rotated on every use (the client in the form)."""
    return OAuthPolicy(grants=("authorization_code", "refresh_token"),
                       access_token_lifetime_s=settings.access_token_lifetime_s,
                       refresh_token_lifetime_s=365 * 86400.0, authorization_code_lifetime_s=120,
                       rotation="always", grace_s=0.0, basic_client_auth=False, body_client_auth=True, form_only=True,
                       time_scale=settings.time_scale)


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    parts = cloud_books.assemble(state_path, settings, oauth_policy(settings), {
        403: rate_limited, 500: lambda: failure(500, "InternalServerError", "Internal Server Error"),
        504: lambda: failure(504, "GatewayTimeout", "The request timed out")},
        RateLimits(windows=(Window("per_second", settings.calls_per_second, 1, key="key"),
                            Window("per_day", settings.calls_per_day, DAY, key="key"))))
    books_api = Api(parts)
    admin = cloud_books.admin_routes(
        parts, respond, "MYOB", tenant=settings.company_file, kinds=KINDS, render=books_api.render,
        lock_answer="lock_date")
    return EmulatorApp(parts, [*admin, *books_api.routes()], outermost=without_trailing_slash)


def without_trailing_slash(app):
    """MYOB takes `/Sale/Invoice/Service/` and `/Sale/Invoice/Service` alike (its SDKs send the slash)."""
    async def strip(scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/"), "raw_path": path.rstrip("/").encode("utf-8")}
        await app(scope, receive, send)
    return strip


AdminClient = cloud_books.LockingAdminClient


class EmulatorHandle(cloud_books.EmulatorHandle):
    prefix = "MYOB"
    tenant_name, tenant_setting = "COMPANY_FILE", "company_file"
    credential_names = ("API_KEY", "API_SECRET")

    def locations(self) -> dict[str, str]:
        return {"API_URL": f"{self.base_url}/accountright", "TOKEN_URL": f"{self.base_url}/oauth2/v1/authorize"}


KIND = cloud_books.kind(
    "MYOB", "bridge_assets.sandbox.myob", "Local emulator of the MYOB Business API (one company file).",
    "SQLite file holding the company file", create_app, EmulatorSettings, AdminClient, EmulatorHandle)
SpawnedEmulator, run_emulator, spawn_emulator = KIND.spawned, KIND.run, KIND.spawn


def demo_sandbox(folder: Path) -> contextlib.AbstractContextManager[tuple[str, dict[str, str]]]:
    """For `bridge demo`: the emulator with its state in `folder`, and the environment for the adapter (the company
    file has a sales-tax code at each rate of the sample book, as a US user of MYOB would set up)."""
    from bridge_assets.sandbox.book import STATE_TAX     # the sample book's sales-tax rates, one code per state

    codes = {**EmulatorSettings().tax_codes, **{state: str(rate * 100) for state, (rate, _) in STATE_TAX.items()}}
    return cloud_books.demo_sandbox(KIND, folder, "myob", EmulatorSettings(time_scale=60, tax_codes=codes))
