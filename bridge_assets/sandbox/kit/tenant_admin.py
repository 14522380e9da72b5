"""What the small ledgers' emulators (Wave, QuickFile, Reckon One, BILL, KashFlow) share around their
`tenant_records.RecordStore`: the control panel's common part (`TenantAdmin`), its client (`TenantAdminClient`),
the app's wiring (`tenant_app`), the emulator's description (`tenant_kind`) and, for `bridge demo` / `ui`, the
tenant kept across starts (`kept_environment`, `kept_id`). Each emulator keeps what is its own: how a tenant
(a business, an account, a book, an organization) is created and listed, its API, its wire answers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import httpx
from starlette.responses import Response
from starlette.routing import BaseRoute

from bridge_assets.sandbox.kit import emulator, serving, wire
from bridge_assets.sandbox.kit.admin import AdminPanel
from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules
from bridge_assets.sandbox.kit.limits import RateLimiter, RateLimits

FAULT_KEYS = ("latency_ms", "latency_jitter_ms", "fail_requests", "fail_status", "fail_next", "error_rate",
              "error_statuses", "throttle_next", "methods", "paths", "seed")


def json_response(payload: Any, status: int = 200) -> Response:
    """The control panel's JSON: amounts as plain decimals, anything else not JSON as its text."""
    return Response(json.dumps(payload, default=lambda v: format(v, "f") if isinstance(v, Decimal) else str(v)),
                    status_code=status, media_type="application/json")


class TenantAdmin:
    """The `/_emulator/...` panel: faults, journal, settings, health (invoices held) and reset from the kit's
    `AdminPanel`; a subclass lists its own routes in `own_routes` (creating and listing its tenants)."""

    def __init__(self, parts: Parts, respond: Callable[[Any, int], Response] = json_response) -> None:
        self.parts, self.store, self.oauth, self.respond = parts, parts.store, parts.auth, respond
        self.panel = AdminPanel(self.store, respond, wire.loads, parts.faults, health=self._health,
                                settings_view=parts.settings.to_mapping, reset=self.reset, oauth=self.oauth)

    def own_routes(self) -> list[tuple[str, Callable, list[str]]]:
        raise NotImplementedError

    def routes(self) -> list[BaseRoute]:
        return self.panel.routes(self.own_routes())

    def _health(self) -> dict[str, Any]:
        return {"invoices": self.store.fetchone("SELECT COUNT(*) AS n FROM records WHERE kind = 'Invoice'")["n"]}

    def reset(self, body: dict[str, Any]) -> str:
        self.store.reset()
        if self.oauth is not None:
            self.oauth.reset(clients=True)
        self.parts.faults.restore_initial()
        if self.parts.throttle is not None:
            self.parts.throttle.reset()
        return "all"

    def tenant_ids(self, kind: str) -> list[str]:
        """The ids of every tenant record of `kind`, oldest first."""
        rows = self.store.fetchall("SELECT id FROM records WHERE kind = ? ORDER BY created_at, id", (kind,))
        return [row["id"] for row in rows]


def tenant_app(settings: Any, store: Any, fault_rules: FaultRules, admin: Callable[[Parts], TenantAdmin],
               api: Callable[[Parts], Any], *, auth: Any = None, limits: RateLimits | None = None) -> EmulatorApp:
    """The emulator as one ASGI app: its parts (faults from `settings.faults`, a throttle if it has `limits`),
    the control panel's routes, then the API's."""
    throttle = RateLimiter(limits, real_seconds=settings.real_seconds) if limits is not None else None
    parts = Parts(settings, store, FaultInjector(fault_rules, dict(settings.faults)), auth, throttle)
    return EmulatorApp(parts, [*admin(parts).routes(), *api(parts).routes()])


class TenantAdminClient(serving.AdminHttpClient):
    """The `/_emulator/...` endpoints every small ledger's emulator has, as methods; a subclass adds its
    tenants' and names the query parameter that picks a tenant's invoices (`tenant_param`)."""

    tenant_param: ClassVar[str]

    def _decode(self, response: httpx.Response) -> Any:
        return json.loads(response.content, parse_float=Decimal)

    def invoices(self, tenant: str) -> list[dict[str, Any]]:
        return self._call("GET", "/invoices", params={self.tenant_param: tenant})["invoices"]

    def set_faults(self, **plan: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", plan)["plan"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def journal(self, since: int = 0) -> list[dict[str, Any]]:
        return self._call("GET", "/journal", params={"since": since})["journal"]


def tenant_kind(name: str, description: str, state_help: str, *, create_app: Callable[..., Any], settings_type: type,
                admin_client: type[TenantAdminClient], handle: type) -> emulator.EmulatorKind:
    """The emulator described once (kit/emulator.py), with `--time-scale` overriding its setting; `python -m`
    runs the package of the module that defines `handle` (its `server.py`)."""
    return emulator.EmulatorKind(
        name=name, module=handle.__module__.rsplit(".", 1)[0], description=description, state_help=state_help,
        create_app=create_app,
        settings_type=settings_type, admin_client=admin_client, handle=handle,
        spawned=emulator.spawned_type(handle), options=(emulator.TIME_SCALE,), overrides=("time_scale",))


def kept_environment(kept: Path, key: str, tenants: Callable[[], list[str]],
                     create: Callable[[], Mapping[str, str]]) -> dict[str, str]:
    """The bridge's variables kept in `kept` (owner-only) while the tenant `env[key]` names still exists in
    `tenants()`; else a new tenant's (`create()`), kept in its place."""
    env = json.loads(kept.read_text()) if kept.exists() else {}
    if env.get(key) not in tenants():
        env = dict(create())
        kept.write_text(json.dumps(env))
        kept.chmod(0o600)
    return env


def kept_id(kept: Path, tenants: Callable[[], list[str]], create: Callable[[], str]) -> str:
    """The tenant id kept in the text file `kept` while it still exists in `tenants()`; else a new one's."""
    tenant = kept.read_text().strip() if kept.exists() else ""
    if not tenant or tenant not in tenants():
        tenant = create()
        kept.write_text(tenant + "\n")
    return tenant
