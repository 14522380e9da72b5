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

from starlette.requests import Request
from starlette.responses import Response

from bridge_assets.sandbox.business_central.documents import NO_DATE, Documents
from bridge_assets.sandbox.kit.admin import AdminError
from bridge_assets.sandbox.kit.emulator import Parts
from bridge_assets.sandbox.kit.erp_admin import RecordsAdmin
from bridge_assets.sandbox.kit.erp_admin import json_response as _json

COMPANY_ID = "5d5b3b6c-8a9e-4d64-9d0f-0c7f6b1e2a01"
JOURNAL_ID = "8f2d1c3e-6b7a-4e59-a1d2-3c4b5a697801"


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


class Admin(RecordsAdmin):
    secrets = "clients"

    def __init__(self, parts: Parts, documents: Documents) -> None:
        super().__init__(parts, lambda: {"company": COMPANY_ID}, oauth=parts.auth)
        self.documents = documents

    def own_routes(self) -> list[tuple]:
        return [("/company", self.company, ["GET"]), ("/posting-range", self.posting_range, ["POST"])]

    def seed(self) -> None:
        seed(self.store, self.settings, self.documents)

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
