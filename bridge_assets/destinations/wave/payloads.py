"""The canonical document as Wave's invoice input, and Wave's invoice as the books hold it.

Wave's money goes out as decimal strings ("29.95"), never floats. Each line names a product (one per
item code); a line's tax rides on it as an item tax of the configured sales tax with the source's amount,
so Wave does not recompute it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from bridge_assets.destinations.base import BooksDocument
from bridge_assets.destinations.kit import small_ledger
from bridge_assets.model.document import AccountingDocument, money

# Wave's input error codes (as the emulator speaks them; Wave's own wording unconfirmed) -> what a person does.
INPUT_ERRORS = {
    "DUPLICATE": "the invoice number is already used by another invoice in Wave; renumber one of them",
    "NOT_FOUND": "a customer, product or sales tax it names is gone from Wave; run again to create it",
    "INVALID_STATE": "Wave will not change it in its present state (a payment is recorded on it in Wave)",
    "INVALID": "Wave refused a value",
    "REQUIRED": "a value Wave requires is missing",
}


def product_name(line) -> str:
    return (line.item_code or line.kind).strip()


def items(document: AccountingDocument, products: dict[str, str], sales_tax_id: str | None) -> list[dict[str, Any]]:
    """Wave's items: one per line, each line's tax as an item tax (a header-only tax rides on the first line)."""
    built = []
    for line, tax in small_ledger.lines_with_tax(document):
        item: dict[str, Any] = {"productId": products[product_name(line)], "description": line.description,
                                "quantity": _text(line.qty), "unitPrice": _text(line.unit_price)}
        if tax:
            item["taxes"] = [{"salesTaxId": sales_tax_id, "amount": format(tax, "f")}]
        built.append(item)
    return built


def invoice_fields(document: AccountingDocument, customer_id: str, products: dict[str, str],
                   sales_tax_id: str | None) -> dict[str, Any]:
    """The fields of invoiceCreate / invoicePatch for this document."""
    txn_date = _date(document.txn_date)
    due = _date(document.due_date) if document.due_date else txn_date
    return {"customerId": customer_id, "invoiceNumber": document.doc_number, "invoiceDate": txn_date.isoformat(),
            "dueDate": max(due, txn_date).isoformat(), "poNumber": document.po_number or None,
            "memo": document.memo or None, "items": items(document, products, sales_tax_id)}


def books_document(node: dict[str, Any]) -> BooksDocument:
    changed = _moment(node.get("modifiedAt"))
    return BooksDocument(
        doc_type="invoice", doc_number=node.get("invoiceNumber"), dest_id=node["id"],
        txn_date=dt.date.fromisoformat(node["invoiceDate"]) if node.get("invoiceDate") else None,
        customer=(node.get("customer") or {}).get("name"), total=Decimal(node["total"]["value"]),
        balance=Decimal(node["amountDue"]["value"]), status="active", version=node.get("modifiedAt"),
        changed_at=changed, raw=node)


def summary(node: dict[str, Any]) -> dict[str, Any]:
    """What the ledger keeps of an invoice as Wave holds it."""
    return {"id": node["id"], "invoiceNumber": node.get("invoiceNumber"), "status": node.get("status"),
            "customer": (node.get("customer") or {}).get("name"), "invoiceDate": node.get("invoiceDate"),
            "total": node["total"]["value"], "modifiedAt": node.get("modifiedAt")}


def what_changed(sent: dict, held: dict) -> str:
    """Reconciliation's sentence: what differs between what the bridge sent and what Wave holds."""
    sent_total, held_total = sent.get("total"), held.get("total")
    if isinstance(held_total, dict):
        held_total = held_total.get("value")
    if sent_total is None or held_total is None or money(Decimal(str(sent_total))) == money(Decimal(str(held_total))):
        return ""
    return f"the total was sent as {sent_total} and Wave holds {held_total}"


def _text(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f") if Decimal(value) == Decimal(value).to_integral() else format(Decimal(value), "f")


def _date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _moment(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
