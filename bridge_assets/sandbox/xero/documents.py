"""Invoices and credit notes: what Xero accepts and how it keeps them (RULES.md has the table).

One `Kind` per document type (numbers, types, prefixes), one code path for both. A write is the
stored document merged with what was sent (omitted fields keep their values, `LineItems` replace the
lines), checked whole, then saved; any check that fails raises `Invalid` with Xero's sentence and
nothing of that document is saved.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bridge_assets.sandbox.kit.money import money
from bridge_assets.sandbox.xero import wire
from bridge_assets.sandbox.xero.errors import Invalid
from bridge_assets.sandbox.xero.names import Names, account, decimal
from bridge_assets.sandbox.xero.store import Store

LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
# Status -> the statuses a write may move it to (the same status: an edit).
MOVES = {None: {"DRAFT", "SUBMITTED", "AUTHORISED"},
         "DRAFT": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
         "SUBMITTED": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
         "AUTHORISED": {"AUTHORISED", "VOIDED"},
         "PAID": set(), "VOIDED": set(), "DELETED": set()}
POSTED = ("AUTHORISED", "PAID", "VOIDED")       # statuses that touch the ledger (lock dates apply)


@dataclasses.dataclass(frozen=True)
class Kind:
    entity: str             # Invoice | CreditNote
    id_field: str
    number_field: str
    types: tuple[str, ...]
    unique_type: str        # the type whose numbers are unique
    prefix: str             # of generated numbers
    label: str              # in sentences


INVOICE = Kind("Invoice", "InvoiceID", "InvoiceNumber", ("ACCREC", "ACCPAY"), "ACCREC", "INV-", "Invoice")
CREDIT_NOTE = Kind("CreditNote", "CreditNoteID", "CreditNoteNumber", ("ACCRECCREDIT", "ACCPAYCREDIT"),
                   "ACCRECCREDIT", "CN-", "Credit Note")
KINDS = {"Invoice": INVOICE, "CreditNote": CREDIT_NOTE}


def lock_problem(organisation: dict[str, Any], day: str) -> str | None:
    """Xero's sentence when `day` (ISO) is on or before a lock date of the organisation, else None."""
    for field, what in (("end_of_year_lock_date", "end of year lock date"), ("period_lock_date", "period lock date")):
        lock = organisation.get(field)
        if lock and day <= lock:
            shown = dt.date.fromisoformat(lock).strftime("%d-%b-%Y")
            return f"The document date cannot be before the {what}, currently set at {shown}"
    return None


def paid_or_credited(document: dict[str, Any]) -> bool:
    return Decimal(str(document.get("AmountPaid", 0))) > 0 or Decimal(str(document.get("AmountCredited", 0))) > 0


class Documents:
    def __init__(self, store: Store, tenant_id: str, organisation: dict[str, Any], tax_rates: dict[str, Decimal],
                 names: Names, touched: set[str], unitdp: int = 2) -> None:
        self.store, self.tenant_id, self.organisation = store, tenant_id, organisation
        self.tax_rates, self.names, self.touched, self.unitdp = tax_rates, names, touched, unitdp

    def find(self, kind: Kind, ref: str) -> dict[str, Any] | None:
        """A document by its id or (as Xero's GET /Invoices/{InvoiceNumber} allows) its number."""
        found = self.store.get(self.tenant_id, kind.entity, ref)
        if found is None:
            numbered = self.store.by_number(self.tenant_id, kind.entity, ref)
            found = next((d for d in numbered if d["Status"] != "DELETED"), numbered[-1] if numbered else None)
        return found

    def save(self, kind: Kind, sent: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        doc = dict(existing or {kind.id_field: str(uuid.uuid4()), "Status": None, "AmountPaid": Decimal(0),
                                "AmountCredited": Decimal(0), "Payments": [], "CurrencyCode": "USD",
                                "HasAttachments": False, "IsDiscounted": False})
        old_status, old_date = doc.get("Status"), doc.get("Date")
        new_status = str(sent.get("Status") or old_status or "DRAFT").upper()
        if new_status not in MOVES[old_status]:
            raise Invalid(self._move_problem(kind, old_status, new_status))
        if old_status == "AUTHORISED" and paid_or_credited(doc):
            raise Invalid("This document cannot be edited as it has a payment or credit note allocated to it.")
        if new_status in ("VOIDED", "DELETED"):
            return self._end(kind, doc, new_status, old_date)
        self._header(kind, doc, sent, existing)
        doc["Status"] = new_status
        lines = sent.get("LineItems")
        if lines is not None or existing is None:
            doc["LineItems"] = [self._line(raw, doc, new_status) for raw in (lines or [])]
        if not doc["LineItems"] and new_status != "DRAFT":
            raise Invalid(f"{kind.label} must have at least one line item.")     # (wording unconfirmed)
        self._totals(kind, doc)
        touches_books = new_status in POSTED or old_status in POSTED
        for day in {doc["Date"], old_date} - {None}:
            problem = lock_problem(self.organisation, day) if touches_books else None
            if problem:
                raise Invalid(problem)
        self._number(kind, doc, existing)
        self.store.put(self.tenant_id, kind.entity, doc[kind.id_field], doc.get(kind.number_field), doc)
        self.touched.add(kind.entity)
        return doc

    @staticmethod
    def _move_problem(kind: Kind, old: str | None, new: str) -> str:
        if old is None:
            return f"A new {kind.label.lower()} cannot be created with status {new}."
        if old in ("VOIDED", "DELETED", "PAID"):
            return f"{kind.label} not of valid status for modification"
        return f"{kind.label} status cannot be changed from {old} to {new}."   # (wording unconfirmed)

    def _end(self, kind: Kind, doc: dict[str, Any], status: str, day: str | None) -> dict[str, Any]:
        if status == "VOIDED" and doc["Status"] != "AUTHORISED":
            raise Invalid(f"Only an approved {kind.label.lower()} can be voided; delete a draft instead.")
        if paid_or_credited(doc):
            raise Invalid(f"{kind.label} cannot be {status.lower()} while payments or credit notes are allocated "
                          f"to it; remove them first.")            # (wording unconfirmed)
        problem = lock_problem(self.organisation, day) if (day and status == "VOIDED") else None
        if problem:
            raise Invalid(problem)
        doc["Status"] = status
        doc["AmountDue"] = Decimal(0)
        if kind is CREDIT_NOTE:
            doc["RemainingCredit"] = Decimal(0)
        self.store.put(self.tenant_id, kind.entity, doc[kind.id_field], doc.get(kind.number_field), doc)
        self.touched.add(kind.entity)
        return doc

    def _header(self, kind: Kind, doc: dict[str, Any], sent: dict[str, Any], existing) -> None:
        kind_type = str(sent.get("Type") or doc.get("Type") or "")
        if kind_type not in kind.types:
            raise Invalid(f"{kind.label} Type must be one of {', '.join(kind.types)}.")
        if existing is not None and kind_type != existing["Type"]:
            raise Invalid(f"The type of a {kind.label.lower()} cannot be changed.")
        doc["Type"] = kind_type
        if "Contact" in sent or existing is None:
            contact = self.names.contact(sent.get("Contact"), create=True)
            doc["Contact"] = {"ContactID": contact["ContactID"], "Name": contact["Name"]}
        for field in ("Date", "DueDate"):
            if sent.get(field):
                try:
                    doc[field] = wire.parse_date(sent[field]).isoformat()
                except ValueError as problem:
                    raise Invalid(f"{field}: {problem}") from None
        doc.setdefault("Date", dt.date.today().isoformat())
        if sent.get("LineAmountTypes") is not None:
            doc["LineAmountTypes"] = str(sent["LineAmountTypes"])
        doc.setdefault("LineAmountTypes", "Exclusive")
        if doc["LineAmountTypes"] not in LINE_AMOUNT_TYPES:
            raise Invalid(f"LineAmountTypes must be one of {', '.join(LINE_AMOUNT_TYPES)}.")
        for field in ("Reference", kind.number_field):
            if sent.get(field) is not None:
                doc[field] = str(sent[field])
        if len(doc.get(kind.number_field) or "") > 255:
            raise Invalid(f"{kind.number_field} must be at most 255 characters.")

    def _line(self, raw: dict[str, Any], doc: dict[str, Any], status: str) -> dict[str, Any]:
        raw = raw or {}
        item = None
        if raw.get("ItemCode"):
            item = self.names.item_by_code(str(raw["ItemCode"]))
            if item is None:
                raise Invalid(f"Item code '{raw['ItemCode']}' is not valid")
        sales = (item or {}).get("SalesDetails") or {}
        description = raw.get("Description") or (item or {}).get("Description") or (item or {}).get("Name")
        if not description:
            raise Invalid("Description cannot be empty")
        quantity = decimal(raw.get("Quantity", 1), "Quantity")
        unit = decimal(raw.get("UnitAmount", sales.get("UnitPrice", 0)), "UnitAmount")
        unit = unit.quantize(Decimal(1).scaleb(-self.unitdp), rounding=ROUND_HALF_UP)
        amount = money(quantity * unit)
        if raw.get("DiscountRate"):
            amount = money(amount * (1 - decimal(raw["DiscountRate"], "DiscountRate") / 100))
        if raw.get("LineAmount") is not None and money(decimal(raw["LineAmount"], "LineAmount")) != amount:
            raise Invalid(f"The line amount {raw['LineAmount']} is not the quantity times the unit amount "
                          f"({amount}).")                           # (wording unconfirmed)
        code = raw.get("AccountCode") or sales.get("AccountCode")
        if code and account(self.tenant_id, {"Code": code}) is None:
            raise Invalid(f"Account code '{code}' is not a valid code for this document.")
        if not code and status in POSTED:
            raise Invalid("Account code must be specified for each line of an approved document.")  # (unconfirmed)
        tax_type = str(raw.get("TaxType") or sales.get("TaxType") or "NONE")
        if doc["LineAmountTypes"] == "NoTax":
            tax_type = "NONE"
        if tax_type not in self.tax_rates:
            raise Invalid(f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of "
                          f"transaction.")
        rate = self.tax_rates[tax_type]
        if doc["LineAmountTypes"] == "NoTax":
            tax = Decimal(0)
        elif raw.get("TaxAmount") is not None:                      # "can be overriden" (spec LineItem.TaxAmount)
            tax = money(decimal(raw["TaxAmount"], "TaxAmount"))
        elif doc["LineAmountTypes"] == "Inclusive":
            tax = money(amount - amount / (1 + rate))
        else:
            tax = money(amount * rate)
        line = {"LineItemID": str(raw.get("LineItemID") or uuid.uuid4()), "Description": str(description),
                "Quantity": quantity, "UnitAmount": unit, "TaxType": tax_type, "TaxAmount": tax, "LineAmount": amount}
        if item is not None:
            line["ItemCode"] = item["Code"]
        if code:
            line["AccountCode"] = str(code)
        return line

    def _totals(self, kind: Kind, doc: dict[str, Any]) -> None:
        lines_total = sum((l["LineAmount"] for l in doc["LineItems"]), Decimal(0))
        tax = sum((l["TaxAmount"] for l in doc["LineItems"]), Decimal(0))
        inclusive = doc["LineAmountTypes"] == "Inclusive"
        doc["SubTotal"] = money(lines_total - tax if inclusive else lines_total)
        doc["TotalTax"] = money(tax)
        doc["Total"] = money(doc["SubTotal"] + doc["TotalTax"])
        settled = Decimal(str(doc.get("AmountPaid", 0))) + Decimal(str(doc.get("AmountCredited", 0)))
        if kind is INVOICE:
            doc["AmountDue"] = money(doc["Total"] - settled)
        else:
            doc.setdefault("Allocations", [])
            doc["RemainingCredit"] = money(doc["Total"] - settled)

    def _number(self, kind: Kind, doc: dict[str, Any], existing) -> None:
        if doc["Type"] != kind.unique_type:
            return
        number = doc.get(kind.number_field)
        if not number:
            doc[kind.number_field] = f"{kind.prefix}{self.store.next_number(self.tenant_id, kind.entity):04d}"
            return
        for other in self.store.by_number(self.tenant_id, kind.entity, number):
            if other[kind.id_field] != doc[kind.id_field] and other["Type"] == kind.unique_type:
                raise Invalid(f"{'Invoice' if kind is INVOICE else 'Credit Note'} # must be unique.")
