"""What the bridge sends Xero for a document, how it compares with what Xero holds, and how Xero's
answers read as the bridge's neutral `BooksDocument`.

Tax as billed: every line carries `TaxType` (the taxable or the exempt code) and `TaxAmount` = the
source's tax for that line, with `LineAmountTypes` Exclusive, so Xero keeps the source's totals and
never recomputes them (spec `LineItem.TaxAmount`: "can be overriden").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal
from typing import Any, Mapping

from bridge_assets.destinations.base import BooksDocument
from bridge_assets.model.document import AccountingDocument, money

MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


@dataclasses.dataclass(frozen=True)
class Kind:
    entity: str             # Invoice | CreditNote | BatchPayment
    collection: str
    id_field: str
    number_field: str       # InvoiceNumber | CreditNoteNumber | Reference
    label: str


INVOICE = Kind("Invoice", "Invoices", "InvoiceID", "InvoiceNumber", "Invoice")
CREDIT_NOTE = Kind("CreditNote", "CreditNotes", "CreditNoteID", "CreditNoteNumber", "Credit note")
PAYMENT = Kind("BatchPayment", "BatchPayments", "BatchPaymentID", "Reference", "Payment")
KINDS = {"invoice": INVOICE, "credit_memo": CREDIT_NOTE, "payment": PAYMENT}
DOC_TYPES = {kind.entity: doc_type for doc_type, kind in KINDS.items()}


@dataclasses.dataclass(frozen=True)
class TaxCodes:
    taxable: str = "OUTPUT"
    exempt: str = "NONE"
    sales_account: str = "200"
    bank_account: str = "090"


def decimal(value: Any) -> Decimal:
    return money(Decimal(str(value if value not in (None, "") else 0)))


def xero_date(value: Any) -> dt.date | None:
    """A date as Xero answers it (`/Date(ms+0000)/`) or as the ledger keeps it (ISO)."""
    if not value:
        return None
    match = MS_DATE.match(str(value))
    if match:
        return dt.datetime.fromtimestamp(int(match.group(1)) / 1000, tz=dt.timezone.utc).date()
    return dt.date.fromisoformat(str(value)[:10])


def xero_moment(value: Any) -> dt.datetime | None:
    match = MS_DATE.match(str(value or ""))
    if not match:
        return None
    return dt.datetime.fromtimestamp(int(match.group(1)) / 1000, tz=dt.timezone.utc).replace(tzinfo=None)


def label(document: AccountingDocument) -> str:
    kind = {"invoice": "Invoice", "credit_memo": "Credit memo", "payment": "Payment"}[document.doc_type]
    return f"{kind} {document.doc_number} ({document.customer_name})"


def sales_body(document: AccountingDocument, contact_id: str, item_codes: Mapping[str, str],
               codes: TaxCodes) -> dict[str, Any]:
    """An invoice (ACCREC) or credit note (ACCRECCREDIT), approved, with the source's tax per line."""
    kind = KINDS[document.doc_type]
    lines = []
    for line in sorted(document.lines, key=lambda l: l.line_no):
        out = {"Description": line.description or line.item_code, "Quantity": Decimal(line.qty),
               "UnitAmount": Decimal(line.unit_price), "LineAmount": money(line.amount),
               "AccountCode": codes.sales_account, "TaxType": codes.taxable if line.taxable else codes.exempt,
               "TaxAmount": money(line.tax_amount)}
        if line.item_code in item_codes:
            out["ItemCode"] = item_codes[line.item_code]
        lines.append(out)
    body = {"Type": "ACCREC" if kind is INVOICE else "ACCRECCREDIT", kind.number_field: document.doc_number,
            "Contact": {"ContactID": contact_id}, "Date": document.txn_date.isoformat(),
            "LineAmountTypes": "Exclusive", "Status": "AUTHORISED", "Reference": document.po_number or "",
            "LineItems": lines}
    if kind is INVOICE:
        body["DueDate"] = (document.due_date or document.txn_date).isoformat()
    return body


def differences(sent: Mapping[str, Any], held: Mapping[str, Any]) -> list[str]:
    """The fields of what the bridge sends that differ in what Xero holds ([] = already as sent)."""
    found = []
    for key in ("InvoiceNumber", "CreditNoteNumber", "Reference", "Type"):
        if key in sent and str(sent[key] or "") != str(held.get(key) or ""):
            found.append(key)
    for key in ("Date", "DueDate"):
        if key in sent and xero_date(sent[key]) != xero_date(held.get(key)):
            found.append(key)
    if "Contact" in sent and (sent["Contact"] or {}).get("ContactID") != (held.get("Contact") or {}).get("ContactID"):
        found.append("Contact")
    if "LineItems" in sent and _lines(sent["LineItems"]) != _lines(held.get("LineItems") or []):
        found.append("LineItems")
    return found


def _lines(lines: list[Mapping[str, Any]]) -> list[tuple]:
    return [(str(l.get("Description") or ""), decimal(l.get("LineAmount")), decimal(l.get("TaxAmount")),
             str(l.get("TaxType") or ""), str(l.get("ItemCode") or "")) for l in lines]


def summary(held: Mapping[str, Any]) -> str:
    contact = (held.get("Contact") or {}).get("Name")
    return (f"contact {contact}, dated {xero_date(held.get('Date'))}, total {held.get('Total', held.get('TotalAmount'))}, "
            f"status {held.get('Status')}")


def restore_body(before: Mapping[str, Any]) -> dict[str, Any]:
    """What puts a document back as an update event saved it (the fields the bridge sets)."""
    body: dict[str, Any] = {}
    for key in ("Reference", "LineAmountTypes"):
        if key in before:
            body[key] = before[key]
    for key in ("Date", "DueDate"):
        if before.get(key):
            body[key] = xero_date(before[key]).isoformat()
    if (before.get("Contact") or {}).get("ContactID"):
        body["Contact"] = {"ContactID": before["Contact"]["ContactID"]}
    body["LineItems"] = [{k: line[k] for k in ("Description", "Quantity", "UnitAmount", "LineAmount", "AccountCode",
                                               "TaxType", "TaxAmount", "ItemCode") if line.get(k) is not None}
                         for line in before.get("LineItems") or []]
    return body


def status_of(held: Mapping[str, Any]) -> str:
    return {"VOIDED": "voided", "DELETED": "deleted"}.get(str(held.get("Status")), "active")


def books_document(kind: Kind, held: Mapping[str, Any]) -> BooksDocument:
    total = held.get("TotalAmount") if kind is PAYMENT else held.get("Total")
    balance = None if kind is PAYMENT else held.get("AmountDue" if kind is INVOICE else "RemainingCredit")
    customer = (held.get("Contact") or {}).get("Name")
    if kind is PAYMENT and not customer:
        customer = held.get("_contact")
    return BooksDocument(
        doc_type=DOC_TYPES[kind.entity], doc_number=str(held.get(kind.number_field) or "") or None,
        dest_id=str(held[kind.id_field]), txn_date=xero_date(held.get("Date")), customer=customer,
        total=decimal(total) if total is not None else None, balance=decimal(balance) if balance is not None else None,
        status=status_of(held), version=str(held.get("UpdatedDateUTC") or ""),
        changed_at=xero_moment(held.get("UpdatedDateUTC")), raw=dict(held))
