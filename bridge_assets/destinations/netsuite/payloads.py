"""The canonical document in NetSuite's terms: record bodies for `eid:` upserts, external ids, the content
compared, read-back shapes.

Identity: every record the bridge writes carries an `externalId` derived from our key (letters, digits, `_`
and `-` only, facts §6), so `PUT /<type>/eid:<externalId>` is an upsert: the same document sent twice is one
record. Our number is also the transaction's `tranId`. Tax: REST has no legacy tax; the source's tax is one
line of the tax item (`NETSUITE_TAX_ITEM`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal
from typing import Any

from bridge_assets.model.document import AccountingDocument, money

RECORD = {"invoice": "invoice", "credit_memo": "creditMemo", "payment": "customerPayment"}
DOC_TYPE = {v: k for k, v in RECORD.items()}
LABEL = {"invoice": "Invoice", "credit_memo": "Credit memo", "payment": "Payment"}
VOID_PREFIX = "void-"
CLOSED_TEXT = "accounting period"


def external_id(key: str) -> str:
    """`key` in the characters an external id may hold (":" becomes "-"); a short hash is added when anything
    else had to change, so two keys never share one."""
    readable = key.replace(":", "-")
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", readable)
    return clean if clean == readable else f"{clean}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def decimal(value: Any) -> Decimal:
    return money(Decimal(str(value or 0)))


def lines(document: AccountingDocument, tax_item: str) -> list[dict[str, Any]]:
    out = [{"item": {"externalId": external_id(line.item_code)}, "description": line.description or line.item_code,
            "quantity": float(line.qty), "rate": float(line.unit_price)}
           for line in sorted(document.lines, key=lambda l: l.line_no)]
    if money(document.tax_total) != 0:
        out.append({"item": {"externalId": external_id(tax_item)}, "description": "Sales tax (as billed at the source)",
                    "quantity": 1.0, "rate": float(money(document.tax_total))})
    return out


def transaction_body(document: AccountingDocument, tax_item: str, applications: list[dict]) -> dict[str, Any]:
    customer = {"externalId": external_id(document.customer_key)}
    body: dict[str, Any] = {"tranId": document.doc_number, "tranDate": document.txn_date.isoformat(),
                            "memo": f"{document.source} {document.doc_type.replace('_', ' ')} {document.doc_number}"}
    if document.doc_type == "payment":
        body.update(customer=customer, payment=float(money(document.total)))
    else:
        body.update(entity=customer, item={"items": lines(document, tax_item)})
        if document.doc_type == "invoice":
            body["dueDate"] = (document.due_date or document.txn_date).isoformat()
    if document.doc_type != "invoice":
        body["apply"] = {"items": applications}
    return body


def differences(body: dict[str, Any], record: dict[str, Any]) -> list[str]:
    changed = []
    if str(record.get("tranDate")) != body["tranDate"]:
        changed.append("date")
    if "payment" in body and decimal(record.get("payment")) != decimal(body["payment"]):
        changed.append("amount")
    if "item" in body:
        theirs = sorted((str(l.get("description")), decimal(l.get("quantity")), Decimal(str(l.get("rate"))).normalize())
                        for l in (record.get("item") or {}).get("items", []))
        ours = sorted((str(l["description"]), decimal(l["quantity"]), Decimal(str(l["rate"])).normalize())
                      for l in body["item"]["items"])
        if theirs != ours:
            changed.append("lines")
    return changed


def ns_time(text: Any) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment and moment.tzinfo else moment


def restore_body(before: dict[str, Any]) -> dict[str, Any]:
    """A saved record as a PATCH body that puts its content back (lines replaced)."""
    body: dict[str, Any] = {"tranDate": before.get("tranDate")}
    if "item" in before:
        body["item"] = {"items": [{"item": {"id": l["item"]["id"]}, "description": l.get("description"),
                                   "quantity": l.get("quantity"), "rate": l.get("rate")}
                                  for l in before["item"].get("items", [])]}
    if "payment" in before:
        body["payment"] = before["payment"]
    for field in ("dueDate", "memo"):
        if before.get(field) is not None:
            body[field] = before[field]
    return body
