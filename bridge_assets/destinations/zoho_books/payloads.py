"""Zoho Books' fields for the canonical document, and back; its error codes as sentences.

A body is written in the shape `document_body` reads it back (numbers as text, lines in order), so a
document already holding it is recognised without sending (kit/cloud.py); `send` turns the numbers into
the JSON numbers Zoho takes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Sequence

from bridge_assets.destinations.kit.cloud import Refused
from bridge_assets.model.document import AccountingDocument, DocumentLine, decimal_text, money

TAX_LABEL = "Sales tax as billed"
LOCKED = 4096            # a write dated before the transaction lock date (the emulator's choice, unconfirmed)
NUMBERS = ("rate", "quantity", "adjustment", "amount", "amount_applied")

# code -> what a person does (zoho.com/books/api/v3/errors and the emulator's table of choices)
ERRORS = {
    1001: "the number is already used in Zoho Books by another document; rename or void that one, then run again",
    1002: "Zoho Books does not know a document it refers to",
    1007: "Zoho Books will not change it in its present status (void, or paid)",
    1010: "it has payments or credits applied in Zoho Books; remove those first",
    1012: "the invoice it applies to is a draft in Zoho Books; mark it sent",
    1013: "the amount is more than the invoice's (or credit's) balance in Zoho Books",
    3062: "a contact of that name already exists in Zoho Books",
    44: "Zoho Books' request limit is spent",
}


def refusal(status: int, answer: dict[str, Any]) -> Refused:
    code = int(answer.get("code") or status)
    message = answer.get("message") or f"HTTP {status}"
    if code == LOCKED:
        return Refused(f"Zoho Books' transaction lock holds it ({message}); it is posted once the lock date moves",
                       code=str(code), held=True, http_status=status)
    return Refused(f"{ERRORS.get(code, 'Zoho Books refused it')}: {message}", code=str(code), http_status=status)


def body(document: AccountingDocument, customer_id: str, lines: Sequence[tuple[DocumentLine, str]]) -> dict[str, Any]:
    number = "invoice_number" if document.doc_type == "invoice" else "creditnote_number"
    return {"customer_id": customer_id, number: document.doc_number, "date": document.txn_date.isoformat(),
            "reference_number": document.po_number or "", "notes": document.memo or "",
            "line_items": [{"item_id": item_id, "name": line.item_code, "description": line.description,
                            "rate": decimal_text(line.unit_price), "quantity": decimal_text(line.qty)}
                           for line, item_id in lines],
            "adjustment": f"{money(document.tax_total):.2f}", "adjustment_description": TAX_LABEL}


def document_body(doc_type: str, wire: dict[str, Any]) -> dict[str, Any]:
    number = "invoice_number" if doc_type == "invoice" else "creditnote_number"
    return {"customer_id": wire["customer_id"], number: wire.get(number), "date": wire["date"],
            "reference_number": wire.get("reference_number") or "", "notes": wire.get("notes") or "",
            "line_items": [{"item_id": line["item_id"], "name": line.get("name") or "",
                            "description": line.get("description") or "",
                            "rate": decimal_text(Decimal(str(line["rate"]))),
                            "quantity": decimal_text(Decimal(str(line["quantity"])))}
                           for line in sorted(wire.get("line_items") or [], key=lambda l: l.get("item_order", 0))],
            "adjustment": f"{money(Decimal(str(wire.get('adjustment') or 0))):.2f}",
            "adjustment_description": wire.get("adjustment_description") or ""}


def payment_body(wire: dict[str, Any]) -> dict[str, Any]:
    return {"customer_id": wire["customer_id"], "amount": f"{money(Decimal(str(wire['amount']))):.2f}",
            "date": wire["date"], "payment_mode": wire.get("payment_mode") or "",
            "reference_number": wire.get("reference_number") or "",
            "invoices": [{"invoice_id": a["invoice_id"], "amount_applied": f"{money(Decimal(str(a['amount_applied']))):.2f}"}
                         for a in wire.get("invoices") or []]}


def send(value: Any) -> Any:
    """`value` with the number fields as JSON numbers (Zoho's doubles; at most 4 places, exact in a double)."""
    if isinstance(value, dict):
        return {k: float(v) if k in NUMBERS and isinstance(v, str) else send(v) for k, v in value.items()}
    if isinstance(value, list):
        return [send(v) for v in value]
    return value


def modified_at(wire: dict[str, Any]) -> dt.datetime | None:
    text = wire.get("last_modified_time")
    if not text:
        return None
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
