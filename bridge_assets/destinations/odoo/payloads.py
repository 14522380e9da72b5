"""The canonical document in Odoo's terms and back: account.move values, the content compared before any
write, the fields read, and the sentences for what Odoo refuses.

Our number is the move's `ref` (Customer Reference) and a payment's `ref` (Memo): Odoo numbers posted
moves from its own journal sequence (`name`, INV/2026/00001), which the ledger keeps as the
destination's number. Odoo computes tax from tax records; the source's tax is carried as one line of
the tax product (`ODOO_TAX_PRODUCT`) so the invoice's total is the source's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from bridge_assets.model.document import AccountingDocument, money

MOVE_TYPE = {"invoice": "out_invoice", "credit_memo": "out_refund"}
DOC_TYPE = {"out_invoice": "invoice", "out_refund": "credit_memo"}
LABEL = {"invoice": "Invoice", "credit_memo": "Credit memo", "payment": "Payment"}
MOVE_FIELDS = ["name", "move_type", "state", "partner_id", "invoice_date", "invoice_date_due", "ref",
               "amount_total", "amount_residual", "payment_state", "reversed_entry_id", "invoice_line_ids",
               "line_ids", "write_date"]
LINE_FIELDS = ["product_id", "name", "quantity", "price_unit", "price_subtotal", "display_type", "account_type",
               "amount_residual", "move_id"]
PAYMENT_FIELDS = ["name", "state", "partner_id", "amount", "date", "ref", "reconciled_invoice_ids", "write_date"]
LOCK_DATE_TEXT = "prior to and inclusive of the lock date"


def decimal(value: Any) -> Decimal:
    return money(Decimal(str(value or 0)))


def m2o(value: Any) -> int | None:
    """A many2one as Odoo renders it ([id, name] or False) -> the id."""
    if isinstance(value, (list, tuple)) and value:
        return int(value[0])
    return int(value) if isinstance(value, int) and value else None


def m2o_name(value: Any) -> str | None:
    return str(value[1]) if isinstance(value, (list, tuple)) and len(value) > 1 else None


def wanted_lines(document: AccountingDocument, products: dict[str, int], tax_product: int | None) -> list[dict]:
    """The product lines a move of this document holds, in order (the tax line last)."""
    lines = [{"product_id": products[line.item_code], "name": line.description or line.item_code,
              "quantity": float(line.qty), "price_unit": float(line.unit_price)}
             for line in sorted(document.lines, key=lambda l: l.line_no)]
    if money(document.tax_total) != 0:
        lines.append({"product_id": tax_product, "name": "Sales tax (as billed at the source)", "quantity": 1.0,
                      "price_unit": float(money(document.tax_total))})
    return lines


def move_vals(document: AccountingDocument, partner_id: int, lines: list[dict]) -> dict[str, Any]:
    return {"move_type": MOVE_TYPE[document.doc_type], "partner_id": partner_id,
            "invoice_date": document.txn_date.isoformat(),
            "invoice_date_due": (document.due_date or document.txn_date).isoformat(),
            "ref": document.doc_number, "invoice_line_ids": [(0, 0, line) for line in lines]}


def _line_key(line: dict[str, Any]) -> tuple:
    return (m2o(line.get("product_id")), str(line.get("name") or ""), decimal(line.get("quantity")),
            Decimal(str(line.get("price_unit") or 0)).normalize())


def differences(vals: dict[str, Any], move: dict[str, Any], lines: list[dict[str, Any]]) -> list[str]:
    """What of `vals` (as sent) the move (as read, with its product lines) does not hold; [] when it holds it all."""
    changed = []
    if m2o(move.get("partner_id")) != vals["partner_id"]:
        changed.append("customer")
    if str(move.get("invoice_date") or "") != vals["invoice_date"]:
        changed.append("date")
    if str(move.get("invoice_date_due") or "") != vals["invoice_date_due"]:
        changed.append("due date")
    theirs = sorted(_line_key(line) for line in lines if line.get("display_type") in ("product", None, False))
    ours = sorted(_line_key({**line, "product_id": line["product_id"]}) for _, _, line in vals["invoice_line_ids"])
    if theirs != ours:
        changed.append("lines")
    return changed


def is_live(move: dict[str, Any]) -> bool:
    """Posted and not reversed: what the books count."""
    return move.get("state") == "posted" and move.get("payment_state") != "reversed"


def summary(move: dict[str, Any]) -> str:
    return (f"{move.get('name')}, {m2o_name(move.get('partner_id')) or 'no customer'}, total "
            f"{decimal(move.get('amount_total'))}, dated {move.get('invoice_date')}")


def odoo_time(text: Any) -> dt.datetime | None:
    """Odoo's "YYYY-MM-DD HH:MM:SS" (UTC) as naive UTC; None when absent."""
    try:
        return dt.datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S") if text else None
    except ValueError:
        return None


def refusal(call: str, message: str, login: str) -> tuple[str, str]:
    """(error code, the sentence) for what Odoo refused; the lock date is HELD by the caller, not here."""
    if "not allowed to" in message:
        return "access_error", (f"Odoo's user {login} may not do {call} ({message.splitlines()[0]}); give it the "
                                f"Invoicing / Billing rights (README, Odoo), then run again")
    if "already (partly) paid or credited" in message or "reconciled with a payment" in message:
        return "reconciled", (f"Odoo refused {call}: {message.splitlines()[0]} Remove the payment or credit "
                              f"applied to it in Odoo (Unreconcile), then run again")
    return "refused", f"Odoo refused {call}: {message.splitlines()[0]}"


def what_changed(sent: dict, held: dict) -> str:
    """What the books hold differently from what the bridge last sent (both as Odoo rendered them)."""
    changed = []
    for field, label in (("amount_total", "total"), ("invoice_date", "date"), ("partner_id", "customer")):
        if field in sent and field in held and sent[field] != held[field]:
            changed.append(f"{label} {sent[field]} -> {held[field]}")
    return "; ".join(changed)
