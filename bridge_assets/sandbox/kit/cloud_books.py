"""What the small OAuth2 ledger emulators (FreshBooks, Zoho Books, Sage, FreeAgent, MYOB) share around their
own API: the parts (document store, faults, OAuth provider, throttle), the admin panel with its token, lock
and documents endpoints, the admin client, the handle and the `EmulatorKind` with its demo stand-up.

    parts = cloud_books.assemble(state_path, settings, oauth_policy(settings), {429: throttled, ...}, limits)
    books_api = Api(parts)
    admin = cloud_books.admin_routes(parts, respond, "Sage Accounting", tenant=settings.business_id,
                                     kinds=KINDS, render=..., lock_answer="year_end_lockdown_date")
    return EmulatorApp(parts, [*admin, *books_api.routes()])

Admin (no auth, not journaled), beyond the kit's health, settings, reset, faults, journal, clients:
    POST /_emulator/tokens {client_id?, tenant?}    a token pair for the book, without the consent page
    POST /_emulator/expire                           every access token expires now
    POST /_emulator/lock {"date": "YYYY-MM-DD" | null, tenant?}   the book's lock date (emulators that lock)
    GET  /_emulator/documents/{kind}[?tenant=]       the book's documents of one kind, as the API renders them
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bridge_assets.sandbox.kit import emulator, serving, wire
from bridge_assets.sandbox.kit.admin import AdminError, AdminPanel
from bridge_assets.sandbox.kit.documents import DocumentStore
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules
from bridge_assets.sandbox.kit.limits import RateLimiter, RateLimits
from bridge_assets.sandbox.kit.oauth import OAuthPolicy, OAuthProvider

FAULT_KEYS = ("latency_ms", "fail_next", "fail_requests", "fail_status", "error_rate", "error_statuses",
              "throttle_next", "expire_tokens_on_request", "methods", "paths", "seed", "drop_next_writes",
              "drop_entities")

Render = Callable[[Request, str, str, dict[str, Any]], Any]     # (request, tenant, kind, stored row) -> document


def assemble(state_path: str | Path, settings: Any, policy: OAuthPolicy,
             fault_responses: Mapping[int, Callable[[], Response]], limits: RateLimits) -> Parts:
    """The emulator's parts: its documents in `state_path`, its fault plan (the platform's error answers),
    its OAuth provider for `settings.clients`, and its throttle as the platform counts."""
    store = DocumentStore(state_path)
    faults = FaultInjector(FaultRules(keys=FAULT_KEYS, responses=dict(fault_responses)), settings.faults)
    oauth = OAuthProvider(store, policy, clients=settings.clients)
    throttle = RateLimiter(limits, real_seconds=settings.real_seconds)
    return Parts(settings, store, faults, oauth, throttle)


def admin_routes(parts: Parts, respond: Callable[[Any], Response], platform: str, *, tenant: str,
                 kinds: Any, render: Render, lock_answer: str | None = None, keep_deleted: bool = False,
                 also_reset: tuple[Callable[[], Any], ...] = ()) -> list[BaseRoute]:
    """The admin panel: the kit's common endpoints and tokens, expire, documents (and lock when the platform has
    a lock date, answered as `{lock_answer: date}`). `tenant` is the book the calls mean when they name none;
    `also_reset` what the emulator's API keeps besides the store (its caches) and forgets on reset."""
    store, oauth, faults, throttle = parts.store, parts.auth, parts.faults, parts.throttle

    def reset(body: dict[str, Any]) -> str:
        store.forget_everything()
        oauth.reset(clients=True)
        faults.restore_initial()
        throttle.reset()
        for forget in also_reset:
            forget()
        return "all"

    panel = AdminPanel(store, respond, wire.loads, faults, health=lambda: {"platform": platform},
                       settings_view=parts.settings.public_mapping, reset=reset, oauth=oauth)

    async def tokens(request: Request) -> Response:
        body = await panel.body(request)
        return respond(oauth.mint_tokens(str(body.get("tenant") or tenant),
                                         str(body.get("client_id") or oauth.default_client_id())))

    async def expire(request: Request) -> Response:
        return respond({"expired": oauth.expire()})

    async def lock(request: Request) -> Response:
        body = await panel.body(request)
        day = body.get("date")
        store.set_lock_date(str(body.get("tenant") or tenant), str(day) if day else None)
        return respond({lock_answer: day})

    async def documents(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in kinds:
            raise AdminError(f"kind is one of {kinds}", 404)
        book = request.query_params.get("tenant") or tenant
        return respond({"documents": [render(request, book, kind, row) for row in store.rows(book, kind)
                                      if keep_deleted or row["state"] != "deleted"]})

    own = [("/tokens", tokens, ["POST"]), ("/expire", expire, ["POST"]),
           *([("/lock", lock, ["POST"])] if lock_answer else []), ("/documents/{kind}", documents, ["GET"])]
    return panel.routes(own)


class AdminClient(serving.AdminHttpClient):
    """The admin calls every one of these emulators answers."""

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


class LockingAdminClient(AdminClient):
    """The admin client of an emulator whose books have a lock date."""

    def set_lock_date(self, day: str | None, tenant: str | None = None) -> None:
        self._call("POST", "/lock", {"date": day, **({"tenant": tenant} if tenant else {})})


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    """A running emulator of this family. A platform names its variables' `prefix`, its `tenant_setting` (the
    settings field of its book), what its client id and secret are called, and its `locations` (URLs)."""

    prefix: ClassVar[str] = ""
    tenant_setting: ClassVar[str] = ""
    credential_names: ClassVar[tuple[str, str]] = ("CLIENT_ID", "CLIENT_SECRET")
    tenant_name: ClassVar[str] = ""

    @property
    def client_id(self) -> str:
        return next(iter(self.settings.clients))

    def locations(self) -> dict[str, str]:
        """The platform's URL variables (without the prefix), e.g. {"API_URL": f"{self.base_url}/v2"}."""
        raise NotImplementedError

    def extra_variables(self) -> dict[str, str]:
        """Variables of the platform's own beyond the common ones (without the prefix)."""
        return {}

    def client_environment(self, refresh_token: str, token_store: Path | str,
                           tenant: str | None = None) -> dict[str, str]:
        """The <PREFIX>_* variables that point the bridge's adapter at this emulator."""
        client_id, client_secret = self.credential_names
        names = {**self.locations(), self.tenant_name: tenant or getattr(self.settings, self.tenant_setting),
                 client_id: self.client_id, client_secret: self.settings.clients[self.client_id],
                 "REFRESH_TOKEN": refresh_token, "TOKEN_STORE": str(token_store),
                 **self.extra_variables(), "TIME_SCALE": str(self.settings.time_scale)}
        return {f"{self.prefix}_{name}": value for name, value in names.items()}


def kind(name: str, module: str, description: str, state_help: str, create_app: Callable[..., Any],
         settings_type: type, admin_client: type[serving.AdminHttpClient], handle: type) -> emulator.EmulatorKind:
    """The `EmulatorKind` of one of these emulators (started with --time-scale)."""
    return emulator.EmulatorKind(
        name=name, module=module, description=description, state_help=state_help, create_app=create_app,
        settings_type=settings_type, admin_client=admin_client, handle=handle, spawned=emulator.spawned_type(handle),
        options=(emulator.TIME_SCALE,), overrides=("time_scale",))


@contextlib.contextmanager
def demo_sandbox(kind_: emulator.EmulatorKind, folder: Path, stem: str,
                 settings: Any) -> Iterator[tuple[str, dict[str, str]]]:
    """For `bridge demo`: the emulator with its state in `folder/<stem>.sqlite3`, connected as a user would
    (a token pair minted), and the environment for the adapter (tokens kept in `folder/<stem>_tokens.json`)."""
    with kind_.run(folder / f"{stem}.sqlite3", settings) as handle:
        tokens = handle.admin.mint_tokens()
        yield handle.base_url, handle.client_environment(tokens["refresh_token"], folder / f"{stem}_tokens.json")
