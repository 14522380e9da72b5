"""The QuickBooks Desktop emulator: a company file (SQLite) that answers qbXML, and a Web Connector that
polls the bridge's QBWC service (`service_url`) every `poll_s` seconds. Rules: `rules.py` (one table).

Admin panel (`/_emulator/`, besides the kit's health/settings/reset/journal):

    POST   /_emulator/closing-date   {"date": "YYYY-MM-DD" | null}   the company's closing date
    POST   /_emulator/drop           {"when": "handed_out" | "applied", "at": [n, ...]}: the Web Connector
                                     session dies at the n-th message set handed out from now on
    DELETE /_emulator/drop
    POST   /_emulator/poll           the Web Connector runs now (instead of at its next poll)
    GET    /_emulator/company        live documents and totals per customer, sessions run
    GET    /_emulator/transactions?type=Invoice   every transaction of a type, as the company holds it

    with run_emulator(tmp_path / "qbd.sqlite3", EmulatorSettings(service_url=url, ...)) as qbd:
        qbd.admin.set_closing_date("2026-09-30")
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bridge_assets.sandbox.kit import emulator, serving
from bridge_assets.sandbox.kit.admin import AdminPanel
from bridge_assets.sandbox.kit.emulator import EmulatorApp, Parts
from bridge_assets.sandbox.kit.faults import FaultInjector, FaultRules
from bridge_assets.sandbox.kit.settings import SettingsBase
from bridge_assets.sandbox.qbd.connector import WebConnector
from bridge_assets.sandbox.qbd.store import CompanyStore, dollars


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    service_url: str = ""               # the bridge's QBWC service (empty: the Web Connector does not run)
    user_name: str = "bridge-qbwc"      # what the bookkeeper typed into the Web Connector
    password: str = ""
    company_file: str = r"C:\Users\Public\Documents\Intuit\QuickBooks\Sample Alarm Co.QBW"
    poll_s: float = 0.05                # RunEveryNMinutes, shrunk (the real minimum is a minute)
    noop_s: float = 0.05                # QBWC waits 5 s after NoOp; shrunk


def _json(payload: Any, status: int = 200) -> Response:
    return JSONResponse(payload, status)


def create_app(state_path: str | Path, settings: EmulatorSettings | None = None) -> EmulatorApp:
    settings = settings or EmulatorSettings()
    store = CompanyStore(state_path)
    connector = WebConnector(store, settings)
    store.on_close.append(connector.stop)
    parts = Parts(settings, store, FaultInjector(FaultRules(keys=(), responses={})), auth=connector)

    def reset(body: dict[str, Any]) -> str:
        with store.transaction():
            for table in ("names", "txns", "applications", "preferences", "journal"):
                store.execute(f"DELETE FROM {table}")
        return "all"

    panel = AdminPanel(store, _json, json.loads, parts.faults,
                       health=lambda: {"sessions": connector.sessions, "sessions_dropped": connector.dropped},
                       settings_view=lambda: {**settings.to_mapping(), "password": "***" if settings.password else ""},
                       reset=reset)

    async def closing_date(request: Request) -> Response:
        day = (await panel.body(request)).get("date")
        store.set_preference("closing_date", str(day) if day else None)
        return _json({"closing_date": store.preference("closing_date")})

    async def drop(request: Request) -> Response:
        body = await panel.body(request)
        connector.set_drop(str(body.get("when")), list(body.get("at") or [1]))
        return _json({"drop": body})

    async def clear_drop(request: Request) -> Response:
        connector.clear_drop()
        return _json({"drop": None})

    async def poll(request: Request) -> Response:
        connector.poll_now()
        return _json({"polled": True})

    async def company(request: Request) -> Response:
        counts = {r["txn_type"]: r["n"] for r in store.fetchall(
            "SELECT txn_type, count(*) AS n FROM txns GROUP BY txn_type")}
        names = store.fetchone("SELECT count(*) AS n FROM names")["n"]
        return _json({"per_customer": store.totals_per_customer(), "transactions": counts, "names": names,
                      "sessions": connector.sessions})

    async def transactions(request: Request) -> Response:
        rows = store.txns(request.query_params.get("type") or "Invoice")
        return _json({"transactions": [{
            "txn_id": r["txn_id"], "ref_number": r["ref_number"], "txn_date": r["txn_date"],
            "customer": store.name_by_id(r["customer_id"])["name"], "total": dollars(r["total_cents"]),
            "voided": bool(r["voided"]), "edit_sequence": r["edit_sequence"],
            "applied": [{"invoice": a["invoice_id"], "amount": dollars(a["amount_cents"]),
                         "credit": a["credit_id"], "credit_amount": dollars(a["credit_cents"])}
                        for a in store.applied_of(r["txn_id"])]} for r in rows]})

    routes = panel.routes([("/closing-date", closing_date, ["POST"]), ("/drop", drop, ["POST"]),
                           ("/drop", clear_drop, ["DELETE"]), ("/poll", poll, ["POST"]),
                           ("/company", company, ["GET"]), ("/transactions", transactions, ["GET"])])
    app = EmulatorApp(parts, routes)
    connector.start()
    return app


class AdminClient(serving.AdminHttpClient):
    def set_closing_date(self, day: Any) -> None:
        self._call("POST", "/closing-date", {"date": str(day) if day else None})

    def drop_session(self, when: str, at: list[int]) -> None:
        self._call("POST", "/drop", {"when": when, "at": at})

    def clear_drop(self) -> None:
        self._call("DELETE", "/drop")

    def poll(self) -> None:
        self._call("POST", "/poll", {})

    def company(self) -> dict[str, Any]:
        return self._call("GET", "/company")

    def transactions(self, txn_type: str = "Invoice") -> list[dict[str, Any]]:
        return self._call("GET", "/transactions", params={"type": txn_type})["transactions"]

    def journal(self) -> list[dict[str, Any]]:
        return self._call("GET", "/journal")["journal"]


@dataclasses.dataclass
class EmulatorHandle(emulator.EmulatorHandle):
    settings: EmulatorSettings
    admin: AdminClient


SpawnedEmulator = emulator.spawned_type(EmulatorHandle)

KIND = emulator.EmulatorKind(
    name="QuickBooks Desktop", module="bridge_assets.sandbox.qbd",
    description="Local emulator of a QuickBooks Desktop company and the Web Connector that polls the bridge.",
    state_help="SQLite file holding the company file", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle, spawned=SpawnedEmulator,
)
run_emulator = KIND.run
spawn_emulator = KIND.spawn
