"""What the ERP emulators (Odoo, Business Central, NetSuite, SAP Business One, Oracle Fusion Receivables) share
around their `/_emulator/...` control panel: both sides of it, and their `EmulatorKind`.

Server side, `RecordsAdmin`: the kit's `AdminPanel` on a `records.RecordState` store, answering plain JSON, with

    GET  /_emulator/records/{kind}     every record of a kind as stored (internal fields too)
    POST /_emulator/reset              wipe the store (and the OAuth provider's tokens and clients, if any),
                                       seed it again (`seed`), restore the fault plan the emulator started with
    GET  /_emulator/settings           the settings, with the secrets under `secrets` masked

Client side, `RecordsAdminClient`: those calls plus the kit's faults and journal as methods.

`erp_kind(...)`: the `EmulatorKind` every one of them is started by (time_scale on the command line, h11).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bridge_assets.sandbox.kit import emulator, serving, wire
from bridge_assets.sandbox.kit.admin import AdminPanel, OwnRoute
from bridge_assets.sandbox.kit.emulator import Parts


def json_response(payload: Any, status: int = 200) -> Response:
    """An admin answer: the kit's wire JSON (Decimal money as numbers)."""
    return Response(wire.dumps(payload), status_code=status, media_type="application/json")


class RecordsAdmin:
    """An ERP emulator's control panel: subclasses add their own routes (`own_routes`) and `seed`.

    `secrets` names the settings entry whose values are masked in GET /settings; `secret_field` the field of
    each value that is masked (None: the whole value). `oauth`: reset its tokens and clients too, and mount
    POST /clients.
    """

    secrets = "users"
    secret_field: str | None = None

    def __init__(self, parts: Parts, health: Callable[[], dict[str, Any]], *, oauth: Any = None) -> None:
        self.store, self.settings, self.faults, self.oauth = parts.store, parts.settings, parts.faults, oauth
        self.panel = AdminPanel(self.store, json_response, wire.loads, parts.faults, health=health,
                                settings_view=self._settings, reset=self._reset, oauth=oauth)

    def own_routes(self) -> Sequence[OwnRoute]:
        return ()

    def seed(self) -> None:
        """Put back what a new environment starts with (after a reset); none by default."""

    def routes(self) -> list[BaseRoute]:
        return self.panel.routes([*self.own_routes(), ("/records/{kind}", self.dump, ["GET"])])

    def _settings(self) -> dict[str, Any]:
        shown = self.settings.to_mapping()
        field = self.secret_field
        shown[self.secrets] = {key: "***" if field is None else {**value, field: "***"}
                               for key, value in shown[self.secrets].items()}
        return shown

    def _reset(self, body: dict[str, Any]) -> str:
        self.store.wipe()
        if self.oauth is not None:
            self.oauth.reset(clients=True)
        self.seed()
        self.faults.restore_initial()
        return "all"

    async def dump(self, request: Request) -> Response:
        return json_response({"records": self.store.all(request.path_params["kind"])})


class RecordsAdminClient(serving.AdminHttpClient):
    """The `/_emulator/...` calls every ERP emulator answers, as methods; subclasses add their own."""

    def records(self, kind: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/records/{kind}")["records"]

    def reset(self) -> None:
        self._call("POST", "/reset")

    def set_faults(self, **plan: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", plan)["plan"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def journal(self, since: int = 0) -> list[dict[str, Any]]:
        return self._call("GET", "/journal", params={"since": since})["journal"]


def erp_kind(name: str, module: str, description: str, state_help: str, *, create_app: Callable[..., Any],
             settings_type: type, admin_client: type, handle: type) -> emulator.EmulatorKind:
    """The `EmulatorKind` of an ERP emulator: `--time-scale` on its command line, uvicorn on h11."""
    return emulator.EmulatorKind(
        name=name, module=module, description=description, state_help=state_help, create_app=create_app,
        settings_type=settings_type, admin_client=admin_client, handle=handle, spawned=emulator.spawned_type(handle),
        options=(emulator.TIME_SCALE,), overrides=("time_scale",), uvicorn_options={"http": "h11"},
    )
