"""Fill the emulator from the sample book (`sandbox/book.py`): the same customers and documents the
Sedona side of the sandbox shows, as a ServiceTrade account would hold them.

    seed_from_book(book, store)      book: a `Book` or its `Book.to_dict()`

What becomes what (decided here; ServiceTrade's own behaviour is not public):
- each book customer -> a ServiceTrade customer (its Sedona number kept as `external` data), each site
  -> a location of that customer;
- each invoice -> an invoice in `pending_accounting` (the status the bridge collects), numbered with
  the book's number, dated at local midnight of its date in the account's zone, created at 17:00 that
  day; service-ticket invoices share a job per ticket, other invoices get a job of their own;
- each credit -> an invoice of type `invoice` with NEGATIVE quantities (`credit_style=
  "negative_quantity"`, the default) or negative prices (`"negative_price"`), on the job and location
  of the invoice it credits, its notes naming that invoice. ServiceTrade has no credit-memo entity in
  the facts and no link field, so the bridge reads a credit from the sign of its total.
Line tax from the book becomes the invoice's `taxAmount` (and each item's, when the emulator shows line
tax). Ids are deterministic: the same book seeded into an empty emulator gets the same ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bridge_assets.sandbox.servicetrade import records
from bridge_assets.sandbox.servicetrade.statuses import STATUSES
from bridge_assets.sandbox.servicetrade.store import Store
from bridge_assets.sandbox.servicetrade.fields import FIELDS, WireFields, day_start

CREDIT_STYLES = ("negative_quantity", "negative_price")
CREATED_AT_HOUR = 17


def seed_from_book(book: Any, store: Store, *, fields: WireFields = FIELDS,
                   status: str = "pending_accounting", credit_style: str = "negative_quantity",
                   replace: bool = True) -> dict[str, Any]:
    """Write the book's customers, sites and documents as ServiceTrade records; returns counts."""
    if credit_style not in CREDIT_STYLES:
        raise ValueError(f"credit_style must be one of {CREDIT_STYLES}")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    plain: Mapping[str, Any] = book if isinstance(book, Mapping) else book.to_dict()
    zone = fields.zone
    with store.transaction():
        if replace:
            store.reset(data=True, auth=False, journal=False)
        places = _Places(store)
        for customer in plain["customers"]:
            places.add_customer(customer)
        invoices, credits, lines = [], 0, 0
        for doc in plain["invoices"]:
            is_credit = doc["doc_type"] == "credit_memo"
            customer_id, location_id, job_id = places.place(doc, is_credit)
            items = _items(doc, is_credit, credit_style)
            lines += len(items)
            credits += is_credit
            midnight = day_start(dt.date.fromisoformat(doc["invoice_date"]), zone)
            due = doc.get("due_date")
            invoices.append(records.build_invoice(store, {
                "status": status, "customer": {"id": customer_id},
                "location": None if location_id is None else {"id": location_id},
                "job": None if job_id is None else {"id": job_id},
                "transaction_date": midnight, "created": midnight + CREATED_AT_HOUR * 3600,
                "invoice_number": str(int(doc["number"])), "type": "invoice", "notes": _notes(doc, is_credit),
                "po_number": doc.get("po_number") or "",
                "due_date": None if not due else day_start(dt.date.fromisoformat(due), zone),
                "items": items,
            }, fields))
        records.insert_invoices(store, invoices)
    return {"seed": plain.get("seed"), "periods": list(plain.get("periods", [])),
            "customers": len(places.customer_ids), "locations": len(places.location_ids),
            "jobs": len({j for j, _ in places.placed.values() if j}),
            "invoices": len(invoices) - credits, "credits": credits, "lines": lines, "status": status,
            "credit_style": credit_style}


class _Places:
    """The customers, locations and jobs made so far, so documents of one site or ticket share them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.customer_ids: dict[str, int] = {}
        self.location_ids: dict[tuple[str, str], int] = {}
        self.job_by_ticket: dict[int, int] = {}
        self.placed: dict[int, tuple[int | None, int | None]] = {}   # book number -> (job, location)

    def add_customer(self, customer: Mapping[str, Any]) -> None:
        number = customer["customer_number"]
        self.customer_ids[number] = records.create_customer(self.store, customer["customer_name"], external={
            "customer_number": number, "master_account": customer.get("master_account", ""),
            "state": customer.get("state", ""), "terms": customer.get("terms", "")})
        for site in customer.get("sites", ()):
            self.location_ids[(number, site["name"])] = records.create_location(
                self.store, self.customer_ids[number], site["name"])

    def place(self, doc: Mapping[str, Any], is_credit: bool) -> tuple[int, int | None, int | None]:
        """(customer, location, job) of one document; a credit goes where the invoice it credits went."""
        number = int(doc["number"])
        customer_number = doc["customer_number"]
        customer_id = self.customer_ids.get(customer_number)
        if customer_id is None:
            customer_id = self.customer_ids[customer_number] = records.create_customer(self.store, doc["customer_name"])
        applies_to = doc.get("applies_to")
        if is_credit and applies_to is not None and int(applies_to) in self.placed:
            job_id, location_id = self.placed[int(applies_to)]
        else:
            location_id = self._location(customer_id, customer_number, doc["site_name"])
            job_id = self._job(customer_id, location_id, doc.get("ticket_number"), number)
        self.placed[number] = (job_id, location_id)
        return customer_id, location_id, job_id

    def _location(self, customer_id: int, customer_number: str, site_name: str) -> int | None:
        key = (customer_number, site_name)
        location_id = self.location_ids.get(key)
        if location_id is None and site_name:
            location_id = self.location_ids[key] = records.create_location(self.store, customer_id, site_name)
        return location_id

    def _job(self, customer_id: int, location_id: int | None, ticket: Any, number: int) -> int:
        """Service-ticket invoices share a job per ticket; any other invoice gets a job of its own."""
        if ticket is not None and int(ticket) in self.job_by_ticket:
            return self.job_by_ticket[int(ticket)]
        job_number = f"T{ticket}" if ticket is not None else f"B{number}"
        job_id = records.create_job(self.store, customer_id, location_id, job_number)
        if ticket is not None:
            self.job_by_ticket[int(ticket)] = job_id
        return job_id


def _items(doc: Mapping[str, Any], is_credit: bool, credit_style: str) -> list[dict[str, Any]]:
    """The document's lines as ServiceTrade items; a credit's quantities (or prices) and tax negative."""
    items = []
    for line in doc["lines"]:
        quantity, price, tax = Decimal(line["quantity"]), Decimal(line["rate"]), Decimal(line["tax_amount"])
        if is_credit:
            tax = -tax
            if credit_style == "negative_quantity":
                quantity = -quantity
            else:
                price = -price
        items.append({"code": line["item_code"], "description": line["description"], "quantity": quantity,
                      "price": price, "taxable": bool(line["taxable"]), "tax_amount": tax})
    return items


def _notes(doc: Mapping[str, Any], is_credit: bool) -> str:
    applies_to = doc.get("applies_to")
    notes = f"Credit against invoice {applies_to}" if is_credit and applies_to else ""
    if doc.get("ticket_number") is not None:
        notes = (notes + "; " if notes else "") + f"Service ticket {doc['ticket_number']}"
    return notes
