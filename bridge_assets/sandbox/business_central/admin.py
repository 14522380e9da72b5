"""The control panel under `/_emulator/...` (no auth, no faults, not journaled, plain JSON): what a person
does in Business Central's own pages, or what a test needs to see.

    GET  /_emulator/company                      {"id", "name"}: the company id the API paths carry
    POST /_emulator/posting-range {allowPostingFrom?, allowPostingTo?}   General Ledger Setup ("YYYY-MM-DD",
                                                 null for no bound)
    GET  /_emulator/records/{kind}               every record of an entity set as stored (internal fields too)
    POST /_emulator/clients {client_id, client_secret}   register an Entra app
    plus the kit's health, settings, reset, faults, journal
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bridge_assets.sandbox.business_central.documents import NO_DATE, Documents
from bridge_assets.sandbox.kit import wire
from bridge_assets.sandbox.kit.admin import AdminError, AdminPanel
from bridge_assets.sandbox.kit.emulator import Parts

COMPANY_ID = "5d5b3b6c-8a9e-4d64-9d0f-0c7f6b1e2a01"
JOURNAL_ID = "8f2d1c3e-6b7a-4e59-a1d2-3c4b5a697801"


def _json(payload: Any, status: int = 200) -> Response:
    return Response(wire.dumps(payload), status_code=status, media_type="application/json")


def seed(store, settings, documents: Documents) -> None:
    with store.transaction():
        if store.all("companies"):
            return
        documents.touch("companies", {"id": COMPANY_ID, "name": settings.company, "displayName": settings.company,
                                      "systemVersion": "25.0"})
        documents.touch("generalLedgerSetup", {"id": str(uuid.uuid4()), "allowPostingFrom": NO_DATE,
                                               "allowPostingTo": NO_DATE})
        documents.touch("customerPaymentJournals", {"id": JOURNAL_ID, "code": "CUSTPAYMT",
                                                    "displayName": "Customer payments", "balancingAccountNumber": "10100"})


class Admin:
    def __init__(self, parts: Parts, documents: Documents) -> None:
        self.store, self.settings, self.documents = parts.store, parts.settings, documents
        self.oauth = parts.auth
        self.panel = AdminPanel(self.store, _json, wire.loads, parts.faults, health=lambda: {"company": COMPANY_ID},
                                settings_view=self._settings, reset=self._reset, oauth=self.oauth)
        self.faults = parts.faults

    def routes(self) -> list[BaseRoute]:
        return self.panel.routes([
            ("/company", self.company, ["GET"]),
            ("/posting-range", self.posting_range, ["POST"]),
            ("/records/{kind}", self.records, ["GET"]),
        ])

    def _settings(self) -> dict[str, Any]:
        shown = self.settings.to_mapping()
        shown["clients"] = {client: "***" for client in shown["clients"]}
        return shown

    def _reset(self, body: dict[str, Any]) -> str:
        self.store.wipe()
        self.oauth.reset(clients=True)
        seed(self.store, self.settings, self.documents)
        self.faults.restore_initial()
        return "all"

    async def company(self, request: Request) -> Response:
        return _json({"id": COMPANY_ID, "name": self.settings.company})

    async def posting_range(self, request: Request) -> Response:
        body = await self.panel.body(request)
        unknown = set(body) - {"allowPostingFrom", "allowPostingTo"}
        if unknown:
            raise AdminError(f"unknown fields {sorted(unknown)}")
        with self.store.transaction():
            setup = self.documents.setup()
            for field, value in body.items():
                setup[field] = dt.date.fromisoformat(value).isoformat() if value else NO_DATE
            self.documents.touch("generalLedgerSetup", setup)
        return _json({"generalLedgerSetup": setup})

    async def records(self, request: Request) -> Response:
        return _json({"records": self.store.all(request.path_params["kind"])})
