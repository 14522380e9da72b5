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
        customer_ids: dict[str, int] = {}
        location_ids: dict[tuple[str, str], int] = {}
        for customer in plain["customers"]:
            number = customer["customer_number"]
            customer_ids[number] = records.create_customer(store, customer["customer_name"], external={
                "customer_number": number, "master_account": customer.get("master_account", ""),
                "state": customer.get("state", ""), "terms": customer.get("terms", "")})
            for site in customer.get("sites", ()):
                location_ids[(number, site["name"])] = records.create_location(
                    store, customer_ids[number], site["name"])

        job_by_ticket: dict[int, int] = {}
        placed: dict[int, tuple[int | None, int | None]] = {}   # book number -> (job, location)
        invoices, credits, lines = [], 0, 0
        for doc in plain["invoices"]:
            number = int(doc["number"])
            customer_number = doc["customer_number"]
            customer_id = customer_ids.get(customer_number)
            if customer_id is None:
                customer_id = customer_ids[customer_number] = records.create_customer(store, doc["customer_name"])
            is_credit = doc["doc_type"] == "credit_memo"
            applies_to = doc.get("applies_to")
            if is_credit and applies_to is not None and int(applies_to) in placed:
                job_id, location_id = placed[int(applies_to)]
            else:
                key = (customer_number, doc["site_name"])
                location_id = location_ids.get(key)
                if location_id is None and doc["site_name"]:
                    location_id = location_ids[key] = records.create_location(store, customer_id, doc["site_name"])
                ticket = doc.get("ticket_number")
                if ticket is not None and int(ticket) in job_by_ticket:
                    job_id = job_by_ticket[int(ticket)]
                else:
                    job_number = f"T{ticket}" if ticket is not None else f"B{number}"
                    job_id = records.create_job(store, customer_id, location_id, job_number)
                    if ticket is not None:
                        job_by_ticket[int(ticket)] = job_id
            placed[number] = (job_id, location_id)

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
            lines += len(items)
            credits += is_credit
            day = dt.date.fromisoformat(doc["invoice_date"])
            midnight = day_start(day, zone)
            due = doc.get("due_date")
            notes = f"Credit against invoice {applies_to}" if is_credit and applies_to else ""
            if doc.get("ticket_number") is not None:
                notes = (notes + "; " if notes else "") + f"Service ticket {doc['ticket_number']}"
            invoices.append(records.build_invoice(store, {
                "status": status, "customer": {"id": customer_id},
                "location": None if location_id is None else {"id": location_id},
                "job": None if job_id is None else {"id": job_id},
                "transaction_date": midnight, "created": midnight + CREATED_AT_HOUR * 3600,
                "invoice_number": str(number), "type": "invoice", "notes": notes,
                "po_number": doc.get("po_number") or "",
                "due_date": None if not due else day_start(dt.date.fromisoformat(due), zone),
                "items": items,
            }, fields))
        records.insert_invoices(store, invoices)
    return {"seed": plain.get("seed"), "periods": list(plain.get("periods", [])), "customers": len(customer_ids),
            "locations": len(location_ids), "jobs": len({j for j, _ in placed.values() if j}),
            "invoices": len(invoices) - credits, "credits": credits, "lines": lines, "status": status,
            "credit_style": credit_style}
