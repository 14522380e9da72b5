"""Customers, products, the income account and the sales tax an invoice names in Wave: found, or created.

Read once per adapter (paged), kept by the bridge's key: a customer by `displayId` (the source's customer
number; by name when an older customer has none), a product by name (= the item code). A customer or
product created and then lost to a crash is found by the next read, never created twice.
"""

from __future__ import annotations

from typing import Any, Sequence

from bridge_assets.destinations.wave import documents
from bridge_assets.destinations.wave.client import WaveClient, WaveRefused
from bridge_assets.destinations.wave.payloads import product_name
from bridge_assets.model.document import AccountingDocument


class References:
    def __init__(self, client: WaveClient, business_id: str, income_account: str, sales_tax: str) -> None:
        self.client, self.business_id = client, business_id
        self.income_account_name, self.sales_tax_name = income_account, sales_tax
        self.customers: dict[str, str] | None = None     # displayId or "name:<casefold>" -> id
        self.products: dict[str, str] = {}              # name casefold -> id
        self.income_account: str | None = None
        self.sales_tax: str | None = None

    def load(self) -> None:
        if self.customers is not None:
            return
        customers: dict[str, str] = {}
        page, pages = 1, 1
        while page <= pages:
            data = self.client.call(documents.REFERENCES, {"businessId": self.business_id, "page": page},
                                    "the business's customers and products")
            business = self._business(data)
            for edge in business["customers"]["edges"]:
                node = edge["node"]
                customers.setdefault(f"name:{node['name'].casefold()}", node["id"])
                if node.get("displayId"):
                    customers[node["displayId"]] = node["id"]
            for edge in business["products"]["edges"]:
                self.products[edge["node"]["name"].casefold()] = edge["node"]["id"]
            self.income_account = next((e["node"]["id"] for e in business["accounts"]["edges"]
                                        if e["node"]["name"].casefold() == self.income_account_name.casefold()), None)
            self.sales_tax = next((e["node"]["id"] for e in business["salesTaxes"]["edges"]
                                   if e["node"]["name"].casefold() == self.sales_tax_name.casefold()), None)
            pages = max(business["customers"]["pageInfo"]["totalPages"], business["products"]["pageInfo"]["totalPages"])
            page += 1
        self.customers = customers

    def _business(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("business") is None:
            raise WaveRefused("the business", [{"message": f"business {self.business_id} is not reachable with this "
                                                           f"token; check WAVE_BUSINESS_ID", "extensions": {}}])
        return data["business"]

    def problems(self, documents_: Sequence[AccountingDocument]) -> dict[str, str]:
        """{doc_key: what to set up in Wave} for what cannot be created by the bridge."""
        self.load()
        found = {}
        for document in documents_:
            if self.income_account is None and any(product_name(l).casefold() not in self.products
                                                   for l in document.lines):
                found[document.doc_key] = (
                    f"Invoice {document.doc_number}: Wave needs an income account for its new products, and the "
                    f"business has no income account named {self.income_account_name!r} (WAVE_INCOME_ACCOUNT); "
                    f"create it in Wave (Accounting > Chart of Accounts) or name an existing one.")
            elif document.tax_total and self.sales_tax is None:
                found[document.doc_key] = (
                    f"Invoice {document.doc_number} carries sales tax, and the business has no sales tax named "
                    f"{self.sales_tax_name!r} (WAVE_SALES_TAX); create it in Wave (Settings > Sales Taxes) or "
                    f"name an existing one.")
        return found

    def customer(self, document: AccountingDocument) -> str:
        self.load()
        assert self.customers is not None
        known = self.customers.get(document.customer_key) or self.customers.get(
            f"name:{document.customer_name.strip().casefold()}")
        if known:
            return known
        data = self.client.call(documents.CUSTOMER_CREATE, {"input": {
            "businessId": self.business_id, "name": document.customer_name.strip(),
            "displayId": document.customer_key}}, f"customerCreate for {document.customer_name}")
        node = _succeeded(data["customerCreate"], f"customer {document.customer_name}")["customer"]
        self.customers[document.customer_key] = node["id"]
        self.customers[f"name:{node['name'].casefold()}"] = node["id"]
        return node["id"]

    def product_ids(self, document: AccountingDocument) -> dict[str, str]:
        self.load()
        ids = {}
        for line in document.lines:
            name = product_name(line)
            if name.casefold() not in self.products:
                data = self.client.call(documents.PRODUCT_CREATE, {"input": {
                    "businessId": self.business_id, "name": name, "unitPrice": format(line.unit_price, "f"),
                    "description": line.description, "incomeAccountId": self.income_account}},
                    f"productCreate for {name}")
                self.products[name.casefold()] = _succeeded(data["productCreate"], f"product {name}")["product"]["id"]
            ids[name] = self.products[name.casefold()]
        return ids


class InputRefused(Exception):
    """A mutation answered `didSucceed: false`: its input errors, worded."""

    def __init__(self, what: str, errors: list[dict]) -> None:
        self.codes = [e.get("code") for e in errors]
        super().__init__(f"Wave refused {what}: " + "; ".join(
            f"{e.get('message')} ({'.'.join(e.get('path') or [])})" for e in errors))


def _succeeded(answer: dict[str, Any], what: str) -> dict[str, Any]:
    if not answer.get("didSucceed"):
        raise InputRefused(what, answer.get("inputErrors") or [{"message": "no reason given"}])
    return answer
