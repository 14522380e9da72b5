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
import dataclasses
from pathlib import Path
from typing import Any, Iterator

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.freshbooks import api
from bridge_assets.sandbox.freshbooks.api import Api, respond
from bridge_assets.sandbox.freshbooks.settings import EmulatorSettings
from bridge_assets.sandbox.kit import emulator, serving, wire
from bridge_assets.sandbox.kit.admin import AdminError, AdminPanel
from bridge_assets.sandbox.kit.documents import DocumentStore
from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules
from bridge_assets.sandbox.kit.limits import MINUTE, RateLimiter, RateLimits, Window
from bridge_assets.sandbox.kit.oauth import OAuthPolicy, OAuthProvider

FAULT_KEYS = ("latency_ms", "fail_next", "fail_requests", "fail_status", "error_rate", "error_statuses",
              "throttle_next", "expire_tokens_on_request", "methods", "paths", "seed", "drop_next_writes",
              "drop_entities")
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
    store = DocumentStore(state_path)
    faults = FaultInjector(FaultRules(keys=FAULT_KEYS, responses={429: api.throttled, 500: api.server_error,
                                                                  503: api.unavailable}), settings.faults)
    oauth = OAuthProvider(store, oauth_policy(settings), clients=settings.clients)
    throttle = RateLimiter(RateLimits(windows=(Window("per_minute", settings.requests_per_minute, MINUTE,
                                                      key="account"),)), real_seconds=settings.real_seconds)
    parts = Parts(settings, store, faults, oauth, throttle)
    books_api = Api(parts)

    def reset(body: dict[str, Any]) -> str:
        store.forget_everything()
        oauth.reset(clients=True)
        faults.restore_initial()
        throttle.reset()
        return "all"

    panel = AdminPanel(store, respond, wire.loads, faults, health=lambda: {"platform": "FreshBooks"},
                       settings_view=settings.public_mapping, reset=reset, oauth=oauth)

    async def tokens(request: Request) -> Response:
        body = await panel.body(request)
        tenant = str(body.get("tenant") or settings.account_id)
        return respond(oauth.mint_tokens(tenant, str(body.get("client_id") or oauth.default_client_id())))

    async def expire(request: Request) -> Response:
        return respond({"expired": oauth.expire()})

    async def documents(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in KINDS:
            raise AdminError(f"kind is one of {KINDS}", 404)
        tenant = request.query_params.get("tenant") or settings.account_id
        return respond({"documents": [books_api.books.render(tenant, kind, row, lines=True)
                                      for row in store.rows(tenant, kind)]})

    own = [("/tokens", tokens, ["POST"]), ("/expire", expire, ["POST"]), ("/documents/{kind}", documents, ["GET"])]
    return EmulatorApp(parts, [*panel.routes(own), *books_api.routes()])


class AdminClient(serving.AdminHttpClient):
    def mint_tokens(self, client_id: str | None = None, tenant: str | None = None) -> dict[str, Any]:
        """A token pair for the emulator's own tenant, or for another (`tenant`: a fresh, empty set of books)."""
        body = {**({"client_id": client_id} if client_id else {}), **({"tenant": tenant} if tenant else {})}
        return self._call("POST", "/tokens", body)

    def expire_tokens(self) -> None:
        self._call("POST", "/expire", {})

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
        """The FRESHBOOKS_* variables that point the bridge's adapter at this emulator."""
        return {"FRESHBOOKS_API_URL": self.base_url, "FRESHBOOKS_ACCOUNT_ID": tenant or self.settings.account_id,
                "FRESHBOOKS_CLIENT_ID": self.client_id, "FRESHBOOKS_CLIENT_SECRET": self.settings.clients[self.client_id],
                "FRESHBOOKS_REFRESH_TOKEN": refresh_token, "FRESHBOOKS_TOKEN_STORE": str(token_store),
                "FRESHBOOKS_TIME_SCALE": str(self.settings.time_scale)}


SpawnedEmulator = emulator.spawned_type(EmulatorHandle)

KIND = emulator.EmulatorKind(
    name="FreshBooks", module="bridge_assets.sandbox.freshbooks",
    description="Local emulator of the FreshBooks accounting API (one account).",
    state_help="SQLite file holding the account", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle, spawned=SpawnedEmulator,
    options=(emulator.TIME_SCALE,), overrides=("time_scale",))
run_emulator = KIND.run
spawn_emulator = KIND.spawn


@contextlib.contextmanager
def demo_sandbox(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """For `bridge demo`: the emulator with its state in `folder`, and the environment for the adapter."""
    with run_emulator(folder / "freshbooks.sqlite3", EmulatorSettings(time_scale=60)) as handle:
        tokens = handle.admin.mint_tokens()
        yield handle.base_url, handle.client_environment(tokens["refresh_token"], folder / "freshbooks_tokens.json")
