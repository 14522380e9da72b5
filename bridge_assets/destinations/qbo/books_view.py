"""QuickBooks Online's books as reconciliation sees them: the `qbo_mirror` rows (see mirror.py) in the
interface's neutral shape, how fresh the mirror is, and what a person changed in a posted document."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Sequence

from bridge_assets.destinations.base import BooksDocument, BooksView
from bridge_assets.destinations.qbo import mirror
from bridge_assets.destinations.qbo.payloads import (
    DOC_TYPE_BY_ENTITY,
    ENTITY_BY_DOC_TYPE,
    decimal,
    differences,
    ref_value,
)
from bridge_assets.model.document import money


def books_view(destination: str, realm_id: str) -> BooksView:
    return BooksView(
        destination=destination, book=realm_id, platform="QuickBooks", version_label="SyncToken",
        stale=lambda con, name, period: _stale(con, realm_id, name, period),
        documents=lambda con, period, ids: _documents(con, realm_id, period, ids),
        what_changed=what_changed,
    )


def _stale(con, realm_id: str, destination: str, period: str) -> str | None:
    """Why the mirror cannot be trusted for `period` yet (not read, or read before the latest posting)."""
    mirror.ensure_schema(con)
    known = mirror.state(con, realm_id)
    missing_entities = [e for e in mirror.TRANSACTIONS if e not in known]
    latest = con.execute("SELECT max(updated_at) FROM ledger_postings WHERE destination = ? AND period = ?",
                         [destination, period]).fetchall()[0][0]
    if missing_entities:
        return (f"the QuickBooks mirror of company {realm_id} has not read {', '.join(missing_entities)} yet; "
                f"materialize the quickbooks_mirror asset, then reconcile {period} again")
    covers = min(known[e][1] for e in mirror.TRANSACTIONS)
    if latest is not None and latest >= covers:
        return (f"the QuickBooks mirror was last read at {covers:%Y-%m-%d %H:%M:%S} UTC, before the latest "
                f"posting for {period} ({latest:%Y-%m-%d %H:%M:%S} UTC); materialize quickbooks_mirror, "
                f"then reconcile {period} again")
    return None


def _documents(con, realm_id: str, period: str,
               ids: Sequence[tuple[str, str]]) -> dict[tuple[str, str], BooksDocument]:
    wanted = sorted({f"{ENTITY_BY_DOC_TYPE[doc_type]}:{i}" for doc_type, i in ids if doc_type in ENTITY_BY_DOC_TYPE})
    rows = con.execute(
        "SELECT entity, id, doc_number, customer_name, total, sync_token, last_updated, status, raw, balance "
        "FROM qbo_mirror WHERE realm_id = ? AND entity IN ('Invoice', 'CreditMemo', 'Payment') "
        "AND (period = ? OR entity || ':' || id IN (SELECT unnest(?)))", [realm_id, period, wanted]).fetchall()
    found = {}
    for entity, entity_id, number, customer, total, token, updated, status, raw, balance in rows:
        obj = mirror.load_raw(raw)
        day = str((obj or {}).get("TxnDate") or "")[:10]
        doc_type = DOC_TYPE_BY_ENTITY[entity]
        found[(doc_type, entity_id)] = BooksDocument(
            doc_type=doc_type, doc_number=number, dest_id=entity_id,
            txn_date=dt.date.fromisoformat(day) if day else None, customer=customer,
            total=None if total is None else money(total), balance=None if balance is None else Decimal(balance),
            status=status, version=token, changed_at=updated, raw=obj)
    return found


def what_changed(before: dict, now: dict) -> str:
    """What differs between what the bridge sent (`before`) and what QuickBooks holds, as a sentence."""
    parts = []
    for field in differences(before, now):
        parts.append(_field_change(field, before, now))
    return "; ".join(parts)


def _field_change(field: str, before: dict[str, Any], now: dict[str, Any]) -> str:
    if field == "TotalAmt":
        return f"total {money(decimal(before.get('TotalAmt')))} -> {money(decimal(now.get('TotalAmt')))}"
    if field == "TotalTax":
        was = (before.get("TxnTaxDetail") or {}).get("TotalTax")
        is_ = (now.get("TxnTaxDetail") or {}).get("TotalTax")
        return f"tax {money(decimal(was))} -> {money(decimal(is_))}"
    if field == "CustomerRef":
        was, is_ = before.get("CustomerRef") or {}, now.get("CustomerRef") or {}
        return f"customer {was.get('name') or ref_value(was)} -> {is_.get('name') or ref_value(is_)}"
    if field in ("TxnDate", "DueDate", "DocNumber", "PaymentRefNum"):
        label = {"TxnDate": "date", "DueDate": "due date", "DocNumber": "number",
                 "PaymentRefNum": "reference number"}[field]
        return f"{label} {before.get(field)} -> {now.get(field)}"
    if field == "Line":
        return "lines changed"
    if field == "PrivateNote":
        return "memo changed"
    return f"{field} changed"
