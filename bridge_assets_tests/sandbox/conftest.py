"""The QuickBooks Online emulator on loopback, and a fresh company for every test.

One emulator serves the whole session (starting one costs a few tenths of a second); each test gets
its own company (realm), which isolates books, requestids, throttles and fault plans. Tests that need
other settings (small limits, a faster clock) start their own with `run_emulator`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterator

import httpx
import pytest

from bridge_assets.sandbox.qbo import EmulatorHandle, EmulatorSettings, run_emulator

# A minute lasts a second: windows and token lifetimes pass quickly, the rules stay the same.
SESSION_SETTINGS = EmulatorSettings(time_scale=60)


@pytest.fixture(scope="session")
def qbo(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("qbo") / "books.sqlite3", SESSION_SETTINGS) as handle:
        yield handle


class QboCompany:
    """One emulated company seen through the API with a valid token, as the adapter sees it."""

    def __init__(self, handle: EmulatorHandle, realm_id: str) -> None:
        self.handle = handle
        self.realm_id = realm_id
        self.tokens = handle.admin.mint_tokens(realm_id)
        self.http = httpx.Client(
            base_url=handle.company_url(realm_id),
            headers={"Authorization": f"Bearer {self.tokens['access_token']}", "Accept": "application/json"},
            timeout=10,
        )

    def close(self) -> None:
        self.http.close()

    # raw calls
    def post(self, path: str, body: Any, **params: Any) -> httpx.Response:
        return self.http.post(path, json=body, params=params or None)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params or None)

    def query(self, text: str) -> httpx.Response:
        return self.http.get("/query", params={"query": text})

    # helpers that expect success
    def create(self, entity: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        response = self.post(f"/{entity.lower()}", body, **params)
        assert response.status_code == 200, response.text
        return response.json()[entity]

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        response = self.get(f"/{entity.lower()}/{entity_id}")
        assert response.status_code == 200, response.text
        return response.json()[entity]

    def rows(self, text: str) -> dict[str, Any]:
        response = self.query(text)
        assert response.status_code == 200, response.text
        return response.json()["QueryResponse"]

    def customer(self, name: str = "Acme Alarm Co", **extra: Any) -> dict[str, Any]:
        return self.create("Customer", {"DisplayName": name, **extra})

    def item(self, name: str = "Monitoring", **extra: Any) -> dict[str, Any]:
        return self.create("Item", {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": "1"}, **extra})

    def invoice(self, customer: dict[str, Any], *, lines: list[dict[str, Any]] | None = None,
                doc_number: str | None = None, txn_date: str = "2026-09-01", **extra: Any) -> dict[str, Any]:
        body = invoice_body(customer, lines=lines, doc_number=doc_number, txn_date=txn_date, **extra)
        return self.create("Invoice", body)


def sales_line(amount: Any, qty: Any = None, unit_price: Any = None, *, item_id: str = "1",
               taxable: bool = False, description: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": {"value": item_id}, "TaxCodeRef": {"value": "TAX" if taxable else "NON"}}
    if qty is not None:
        detail["Qty"] = qty
    if unit_price is not None:
        detail["UnitPrice"] = unit_price
    line = {"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}
    if description:
        line["Description"] = description
    return line


def invoice_body(customer: dict[str, Any], *, lines: list[dict[str, Any]] | None = None,
                 doc_number: str | None = None, txn_date: str = "2026-09-01", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer["Id"]},
        "TxnDate": txn_date,
        "Line": lines if lines is not None else [sales_line(29.95, 1, 29.95)],
        **extra,
    }
    if doc_number is not None:
        body["DocNumber"] = doc_number
    return body


def fault_of(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    """The first Error of a QuickBooks Fault answer, after checking its shape."""
    assert response.status_code == status, response.text
    fault = response.json()["Fault"]
    assert fault["type"] in ("ValidationFault", "SystemFault")
    error = fault["Error"][0]
    assert isinstance(error["code"], str) and error["Message"] and error["Detail"]
    return error


def money(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.fixture
def books(qbo: EmulatorHandle) -> Iterator[QboCompany]:
    company = QboCompany(qbo, qbo.admin.create_company())
    yield company
    company.close()
