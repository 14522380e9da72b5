"""A QuickBooks Online company on the emulator, seen two ways: through the bridge's own client (the
mirror and the adapter use it) and through a bookkeeper's separate connection, who edits, voids and
deletes things in QuickBooks the way a person in the QuickBooks UI does (plain API calls)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bridge_assets.destinations.qbo.adapter import QboDestination, QboLimits
from bridge_assets.destinations.qbo.payloads import dumps
from bridge_assets.sandbox.qbo import EmulatorHandle, EmulatorSettings

CLIENT_ID = "bridge-mirror-test"
CLIENT_SECRET = "mirror-test-secret-never-logged"
TIME_SCALE = 60
EMULATOR_SETTINGS = EmulatorSettings(time_scale=TIME_SCALE, clients={CLIENT_ID: CLIENT_SECRET})


class Books:
    def __init__(self, handle: EmulatorHandle, folder: Path) -> None:
        self.handle = handle
        self.realm_id = handle.admin.create_company()
        self.grant = handle.admin.mint_tokens(self.realm_id, client_id=CLIENT_ID)
        self.store_path = folder / "secrets" / "qbo_tokens.json"
        self._destinations: list[QboDestination] = []

    def api(self) -> httpx.Client:
        """A bookkeeper's own connection, fresh each time, with a fresh token: one kept idle across a long bridge
        run could be closed by the server just as it is reused, and at the 60x time scale an hour's token lives
        one minute, which a slow machine outlasts."""
        token = self.handle.admin.mint_tokens(self.realm_id, client_id=CLIENT_ID)["access_token"]
        return httpx.Client(base_url=self.handle.company_url(self.realm_id), timeout=10,
                            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})

    def env(self) -> dict[str, str]:
        """The bridge's QBO_* settings for this company."""
        return {"QBO_BASE_URL": self.handle.base_url, "QBO_TOKEN_URL": self.handle.token_url,
                "QBO_REALM_ID": self.realm_id, "QBO_CLIENT_ID": CLIENT_ID, "QBO_CLIENT_SECRET": CLIENT_SECRET,
                "QBO_TIME_SCALE": str(TIME_SCALE), "QBO_REFRESH_TOKEN": self.grant["refresh_token"],
                "QBO_TOKEN_STORE": str(self.store_path)}

    def destination(self) -> QboDestination:
        destination = QboDestination(
            base_url=self.handle.base_url, realm_id=self.realm_id, token_url=self.handle.token_url,
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_store=self.store_path,
            refresh_token=self.grant["refresh_token"], limits=QboLimits(time_scale=TIME_SCALE), timeout=10.0)
        self._destinations.append(destination)
        return destination

    # --- what a bookkeeper does in QuickBooks ----------------------------------------------------

    def _post(self, path: str, body: Any, **params: Any) -> dict[str, Any]:
        with self.api() as api:
            response = api.post(path, content=dumps(body), params=params or None,
                                headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.text
        return json.loads(response.content, parse_float=Decimal)

    def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._post(f"/{entity.lower()}", body)[entity]

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        with self.api() as api:
            response = api.get(f"/{entity.lower()}/{entity_id}")
        assert response.status_code == 200, response.text
        return json.loads(response.content, parse_float=Decimal)[entity]

    def customer(self, name: str) -> dict[str, Any]:
        return self.create("Customer", {"DisplayName": name})

    def invoice(self, customer: dict[str, Any], number: str, amount: str, date: str = "2026-09-01") -> dict[str, Any]:
        return self.create("Invoice", {
            "DocNumber": number, "TxnDate": date, "CustomerRef": {"value": customer["Id"]},
            "Line": [{"Amount": Decimal(amount), "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": Decimal(amount)}}]})

    def change_line(self, entity: str, entity_id: str, qty: str, unit_price: str) -> dict[str, Any]:
        """Edit the first line's quantity and price, as a person would in the invoice form."""
        current = self.read(entity, entity_id)
        lines = [line for line in current["Line"] if line.get("DetailType") == "SalesItemLineDetail"]
        first = lines[0]
        first["SalesItemLineDetail"].update(Qty=Decimal(qty), UnitPrice=Decimal(unit_price))
        first["Amount"] = (Decimal(qty) * Decimal(unit_price)).quantize(Decimal("0.01"))
        return self._post(f"/{entity.lower()}", {"Id": current["Id"], "SyncToken": current["SyncToken"],
                                                 "sparse": True, "Line": lines})[entity]

    def void_invoice(self, invoice_id: str) -> dict[str, Any]:
        current = self.read("Invoice", invoice_id)
        return self._post("/invoice", {"Id": invoice_id, "SyncToken": current["SyncToken"]}, operation="void")["Invoice"]

    def delete(self, entity: str, entity_id: str) -> None:
        current = self.read(entity, entity_id)
        self._post(f"/{entity.lower()}", {"Id": entity_id, "SyncToken": current["SyncToken"]}, operation="delete")

    def journal(self) -> list[dict[str, Any]]:
        return self.handle.admin.journal(self.realm_id)

    def close(self) -> None:
        for destination in self._destinations:
            destination.close()
