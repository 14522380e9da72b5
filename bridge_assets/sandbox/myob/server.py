"""The MYOB Business API emulator as one app, its admin panel and its three ways to start (the kit's `EmulatorKind`).

Admin (no auth, not journaled): the kit's health, settings, reset, faults, journal, clients, plus
    POST /_emulator/tokens {client_id?}        a token pair consented for the company file, without the consent page
    POST /_emulator/expire                     every access token expires now
    POST /_emulator/lock {"date": "YYYY-MM-DD" | null}   the lock date (on or before it: refused)
    GET  /_emulator/documents/{kind}           customers | invoices | settlements | payments
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Iterator

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.kit import emulator, serving, wire
from bridge_assets.sandbox.kit.admin import AdminError, AdminPanel
from bridge_assets.sandbox.kit.documents import DocumentStore
from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules
from bridge_assets.sandbox.kit.limits import DAY, RateLimiter, RateLimits, Window
from bridge_assets.sandbox.kit.oauth import OAuthPolicy, OAuthProvider
from bridge_assets.sandbox.myob.api import Api, failure, rate_limited, respond
from bridge_assets.sandbox.myob.settings import EmulatorSettings

FAULT_KEYS = ("latency_ms", "fail_next", "fail_requests", "fail_status", "error_rate", "error_statuses",
              "throttle_next", "expire_tokens_on_request", "methods", "paths", "seed", "drop_next_writes",
              "drop_entities")
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
    store = DocumentStore(state_path)
    faults = FaultInjector(FaultRules(keys=FAULT_KEYS, responses={
        403: rate_limited, 500: lambda: failure(500, "InternalServerError", "Internal Server Error"),
        504: lambda: failure(504, "GatewayTimeout", "The request timed out")}), settings.faults)
    oauth = OAuthProvider(store, oauth_policy(settings), clients=settings.clients)
    throttle = RateLimiter(RateLimits(windows=(Window("per_second", settings.calls_per_second, 1, key="key"),
                                               Window("per_day", settings.calls_per_day, DAY, key="key"))),
                           real_seconds=settings.real_seconds)
    parts = Parts(settings, store, faults, oauth, throttle)
    books_api = Api(parts)
    org = settings.company_file

    def reset(body: dict[str, Any]) -> str:
        store.forget_everything()
        oauth.reset(clients=True)
        faults.restore_initial()
        throttle.reset()
        return "all"

    panel = AdminPanel(store, respond, wire.loads, faults, health=lambda: {"platform": "MYOB"},
                       settings_view=settings.public_mapping, reset=reset, oauth=oauth)

    async def tokens(request: Request) -> Response:
        body = await panel.body(request)
        return respond(oauth.mint_tokens(str(body.get("tenant") or org), str(body.get("client_id") or oauth.default_client_id())))

    async def expire(request: Request) -> Response:
        return respond({"expired": oauth.expire()})

    async def lock(request: Request) -> Response:
        body = await panel.body(request)
        day = body.get("date")
        store.set_lock_date(str(body.get("tenant") or org), str(day) if day else None)
        return respond({"lock_date": day})

    async def documents(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in KINDS:
            raise AdminError(f"kind is one of {KINDS}", 404)
        tenant = request.query_params.get("tenant") or org
        return respond({"documents": [books_api.render(request, tenant, kind, row) for row in store.rows(tenant, kind)
                                      if row["state"] != "deleted"]})

    own = [("/tokens", tokens, ["POST"]), ("/expire", expire, ["POST"]), ("/lock", lock, ["POST"]),
           ("/documents/{kind}", documents, ["GET"])]
    return EmulatorApp(parts, [*panel.routes(own), *books_api.routes()], outermost=without_trailing_slash)


def without_trailing_slash(app):
    """MYOB takes `/Sale/Invoice/Service/` and `/Sale/Invoice/Service` alike (its SDKs send the slash)."""
    async def strip(scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/"), "raw_path": path.rstrip("/").encode("utf-8")}
        await app(scope, receive, send)
    return strip


class AdminClient(serving.AdminHttpClient):
    def mint_tokens(self, client_id: str | None = None, tenant: str | None = None) -> dict[str, Any]:
        """A token pair for the emulator's own tenant, or for another (`tenant`: a fresh, empty set of books)."""
        body = {**({"client_id": client_id} if client_id else {}), **({"tenant": tenant} if tenant else {})}
        return self._call("POST", "/tokens", body)

    def expire_tokens(self) -> None:
        self._call("POST", "/expire", {})

    def set_lock_date(self, day: str | None, tenant: str | None = None) -> None:
        self._call("POST", "/lock", {"date": day, **({"tenant": tenant} if tenant else {})})

    def documents(self, kind: str, tenant: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", f"/documents/{kind}", params={"tenant": tenant} if tenant else None)["documents"]

    def set_faults(self, **plan: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", plan)["plan"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def journal(self) -> list[dict[str, Any]]:
        return self._call("GET", "/journal")["journal"]

    def reset(self) -> None:
        self._call("POST", "/reset", {})


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    settings: EmulatorSettings
    admin: AdminClient

    @property
    def client_id(self) -> str:
        return next(iter(self.settings.clients))

    def client_environment(self, refresh_token: str, token_store: Path | str,
                           tenant: str | None = None) -> dict[str, str]:
        """The MYOB_* variables that point the bridge's adapter at this emulator."""
        return {"MYOB_API_URL": f"{self.base_url}/accountright", "MYOB_TOKEN_URL": f"{self.base_url}/oauth2/v1/authorize",
                "MYOB_COMPANY_FILE": tenant or self.settings.company_file, "MYOB_API_KEY": self.client_id,
                "MYOB_API_SECRET": self.settings.clients[self.client_id], "MYOB_REFRESH_TOKEN": refresh_token,
                "MYOB_TOKEN_STORE": str(token_store), "MYOB_TIME_SCALE": str(self.settings.time_scale)}


SpawnedEmulator = emulator.spawned_type(EmulatorHandle)

KIND = emulator.EmulatorKind(
    name="MYOB", module="bridge_assets.sandbox.myob",
    description="Local emulator of the MYOB Business API (one company file).",
    state_help="SQLite file holding the company file", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle, spawned=SpawnedEmulator,
    options=(emulator.TIME_SCALE,), overrides=("time_scale",))
run_emulator = KIND.run
spawn_emulator = KIND.spawn


@contextlib.contextmanager
def demo_sandbox(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """For `bridge demo`: the emulator with its state in `folder`, and the environment for the adapter (the company
    file has a sales-tax code at each rate of the sample book, as a US user of MYOB would set up)."""
    from bridge_assets.sandbox.book import STATE_TAX     # the sample book's sales-tax rates, one code per state

    codes = {**EmulatorSettings().tax_codes, **{state: str(rate * 100) for state, (rate, _) in STATE_TAX.items()}}
    with run_emulator(folder / "myob.sqlite3", EmulatorSettings(time_scale=60, tax_codes=codes)) as handle:
        tokens = handle.admin.mint_tokens()
        yield handle.base_url, handle.client_environment(tokens["refresh_token"], folder / "myob_tokens.json")
