"""Sage Accounting's fields for the canonical document, and back; its error bodies as sentences.

A body is written in the shape `document_body` reads it back (numbers as text, lines in order), so a
document already holding it is recognised without sending (kit/cloud.py). Sage takes the tax amount per
line, so the source's tax is carried exactly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from bridge_assets.destinations.kit.cloud import Refused
from bridge_assets.model.document import AccountingDocument, decimal_text, money

LINES = {"invoice": "invoice_lines", "credit_memo": "credit_note_lines"}
ALLOCATION_NAMESPACE = uuid.UUID("5a6e0b1c-2d3f-4a5b-8c6d-7e8f9a0b1c2d")


def idempotency_id(request_id: str, purpose: str = "") -> str:
    """Sage's idempotency id: 32 hexadecimal characters (a GUID without hyphens), the same for the same request."""
    if not purpose:
        return request_id.replace("-", "")
    return uuid.uuid5(ALLOCATION_NAMESPACE, f"{request_id}|{purpose}").hex


def refusal(status: int, answer: Any) -> Refused:
    first = answer[0] if isinstance(answer, list) and answer else (answer if isinstance(answer, dict) else {})
    message, source = first.get("$message") or f"HTTP {status}", first.get("$source") or ""
    code = first.get("$dataCode") or str(status)
    if source == "date" and "lockdown" in message.lower():
        return Refused(f"Sage's lockdown date holds it ({message}); it is posted once the lockdown date moves",
                       code=code, held=True, http_status=status)
    where = f" ({source})" if source else ""
    return Refused(f"Sage Accounting refused it{where}: {message}", code=code, http_status=status)


def body(document: AccountingDocument, contact_id: str, ledger_account: str, tax_rate: str) -> dict[str, Any]:
    lines = [{"description": f"{line.item_code}: {line.description}".strip(": "), "ledger_account_id": ledger_account,
              "quantity": decimal_text(line.qty), "unit_price": decimal_text(line.unit_price),
              "tax_rate_id": tax_rate if money(line.tax_amount) else "US_NO_TAX",
              "tax_amount": f"{money(line.tax_amount):.2f}"}
             for line in sorted(document.lines, key=lambda l: l.line_no)]
    return {"contact_id": contact_id, "date": document.txn_date.isoformat(), "reference": document.doc_number,
            "notes": document.memo or "", LINES[document.doc_type]: lines}


def document_body(doc_type: str, wire: dict[str, Any]) -> dict[str, Any]:
    lines = [{"description": line["description"], "ledger_account_id": line["ledger_account"]["id"],
              "quantity": decimal_text(Decimal(str(line["quantity"]))),
              "unit_price": decimal_text(Decimal(str(line["unit_price"]))), "tax_rate_id": line["tax_rate"]["id"],
              "tax_amount": f"{money(Decimal(str(line['tax_amount']))):.2f}"}
             for line in wire.get(LINES[doc_type]) or []]
    return {"contact_id": wire["contact"]["id"], "date": wire["date"], "reference": wire.get("reference") or "",
            "notes": wire.get("notes") or "", LINES[doc_type]: lines}


def payment_body(wire: dict[str, Any]) -> dict[str, Any]:
    return {"contact_id": wire["contact"]["id"], "date": wire["date"], "reference": wire.get("reference") or "",
            "total_amount": f"{money(Decimal(str(wire['total_amount']))):.2f}",
            "allocated_artefacts": [{"artefact_id": a["artefact"]["id"],
                                     "amount": f"{money(Decimal(str(a['amount']))):.2f}"}
                                    for a in wire.get("allocated_artefacts") or []]}


def changed_at(wire: dict[str, Any]) -> dt.datetime | None:
    text = wire.get("updated_at")
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc).replace(tzinfo=None)
