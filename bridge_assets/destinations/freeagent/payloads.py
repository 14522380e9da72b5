"""FreeAgent's fields for the canonical document, and back; its error bodies as sentences.

Money and quantities are decimal strings; tax is a percentage per line (kit/tax.py). A body is written in
the shape `document_body` reads it back, so a document already holding it is recognised without sending.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from bridge_assets.destinations.kit.cloud import Refused
from bridge_assets.destinations.kit.tax import percent_for
from bridge_assets.model.document import AccountingDocument, decimal_text

ITEMS = {"invoice": "invoice_items", "credit_memo": "credit_note_items"}


def refusal(status: int, answer: Any) -> Refused:
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if isinstance(errors, dict):
        errors = [errors.get("error") or {}]
    message = "; ".join(str(e.get("message")) for e in errors or [] if e.get("message")) or f"HTTP {status}"
    if status == 403 and "is locked" in message:
        return Refused(f"FreeAgent has locked its period ({message}: filed accounts or a tax return); it is held and "
                       f"posted once the period is unlocked", code="locked", held=True, http_status=status)
    return Refused(f"FreeAgent refused it: {message}", code=str(status), http_status=status)


def document_fields(document: AccountingDocument, contact_url: str) -> dict[str, Any]:
    terms = max(((document.due_date - document.txn_date).days if document.due_date else 0), 0)
    items = []
    for line in sorted(document.lines, key=lambda l: l.line_no):
        percent = percent_for(line.amount, line.tax_amount, places=3, platform="FreeAgent", line_no=line.line_no)
        items.append({"item_type": "-no unit-", "description": f"{line.item_code}: {line.description}".strip(": "),
                      "quantity": decimal_text(line.qty), "price": decimal_text(line.unit_price),
                      "sales_tax_rate": decimal_text(percent or 0)})
    return {"contact": contact_url, "dated_on": document.txn_date.isoformat(), "payment_terms_in_days": terms,
            "reference": document.doc_number, "comments": document.memo or "", ITEMS[document.doc_type]: items}


def document_body(doc_type: str, wire: dict[str, Any]) -> dict[str, Any]:
    items = [{"item_type": item.get("item_type") or "-no unit-", "description": item.get("description") or "",
              "quantity": decimal_text(Decimal(item["quantity"])), "price": decimal_text(Decimal(item["price"])),
              "sales_tax_rate": decimal_text(Decimal(item.get("sales_tax_rate") or 0))}
             for item in wire.get(ITEMS[doc_type]) or []]
    return {"contact": wire["contact"], "dated_on": wire["dated_on"],
            "payment_terms_in_days": int(wire.get("payment_terms_in_days") or 0), "reference": wire.get("reference"),
            "comments": wire.get("comments") or "", ITEMS[doc_type]: items}


def payment_body(wire: dict[str, Any]) -> dict[str, Any]:
    return {"bank_account": wire["bank_account"], "dated_on": wire["dated_on"],
            "gross_value": f"{Decimal(wire['gross_value']):.2f}", "paid_invoice": wire["paid_invoice"],
            "description": wire.get("description") or ""}


def contact_name(contact: dict[str, Any]) -> str:
    return contact.get("organisation_name") or f"{contact.get('first_name', '')} {contact.get('last_name', '')}".strip()


def payment_note(number: str) -> str:
    return f"Bridge payment {number}"


def payment_number(description: str) -> str | None:
    prefix = payment_note("")
    return description[len(prefix):] if description.startswith(prefix) else None


def changed_at(wire: dict[str, Any]) -> dt.datetime | None:
    text = wire.get("updated_at")
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc).replace(tzinfo=None)
