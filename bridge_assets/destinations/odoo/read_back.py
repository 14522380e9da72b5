"""Odoo's `read_back(since)`: customer invoices, credit notes and payments changed since a moment, by
`write_date` (UTC), as the books hold them now.

Status: a posted invoice is `active`; one cancelled or reversed in full by a credit note (`payment_state`
reversed: how the bridge voids or corrects a posted invoice) is `voided`, and so is the reversal credit
note itself (`reversed_entry_id` set), whose only job is cancelling that invoice: the two net to zero
and neither is a document of the source. A draft is not in the books. Payments: posted `active`,
cancelled `voided`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from bridge_assets.destinations.base import BooksDocument, NeutralBooks
from bridge_assets.destinations.odoo.payloads import (
    DOC_TYPE,
    MOVE_FIELDS,
    PAYMENT_FIELDS,
    decimal,
    m2o_name,
    odoo_time,
    what_changed,
)


def _since(since: dt.datetime | None) -> list:
    return [] if since is None else [["write_date", ">=", since.strftime("%Y-%m-%d %H:%M:%S")]]


def _status(move: dict[str, Any]) -> str:
    if move["state"] == "cancel" or move.get("payment_state") == "reversed" or move.get("reversed_entry_id"):
        return "voided"
    return "active"


def move_document(move: dict[str, Any], reversed_ref: str | None = None) -> BooksDocument:
    day = move.get("invoice_date")
    return BooksDocument(
        doc_type=DOC_TYPE[move["move_type"]], doc_number=reversed_ref or (str(move["ref"]) if move.get("ref") else None),
        dest_id=str(move["id"]), txn_date=dt.date.fromisoformat(str(day)) if day else None,
        customer=m2o_name(move.get("partner_id")), total=decimal(move.get("amount_total")),
        balance=decimal(move.get("amount_residual")), status=_status(move), version=str(move.get("write_date") or ""),
        changed_at=odoo_time(move.get("write_date")), raw=move)


def payment_document(payment: dict[str, Any]) -> BooksDocument:
    day = payment.get("date")
    return BooksDocument(
        doc_type="payment", doc_number=str(payment["ref"]) if payment.get("ref") else None, dest_id=str(payment["id"]),
        txn_date=dt.date.fromisoformat(str(day)) if day else None, customer=m2o_name(payment.get("partner_id")),
        total=Decimal(str(payment.get("amount") or 0)).quantize(Decimal("0.01")), balance=None,
        status="voided" if payment["state"] == "cancel" else "active", version=str(payment.get("write_date") or ""),
        changed_at=odoo_time(payment.get("write_date")), raw=payment)


class ReadBackMixin:
    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        moves = self.client.execute("account.move", "search_read",
                                    [["move_type", "in", list(DOC_TYPE)], ["state", "in", ["posted", "cancel"]],
                                     *_since(since)], fields=MOVE_FIELDS, order="id")
        refs = {m["id"]: m.get("ref") for m in moves}
        reversed_ids = [m["reversed_entry_id"][0] for m in moves
                        if m.get("reversed_entry_id") and m["reversed_entry_id"][0] not in refs]
        if reversed_ids:
            for move in self.client.execute("account.move", "read", reversed_ids, ["ref"]):
                refs[move["id"]] = move.get("ref")
        out = [move_document(m, refs.get(m["reversed_entry_id"][0]) if m.get("reversed_entry_id") else None)
               for m in moves]
        payments = self.client.execute("account.payment", "search_read",
                                       [["state", "in", ["posted", "cancel"]], *_since(since)],
                                       fields=PAYMENT_FIELDS, order="id")
        return out + [payment_document(p) for p in payments]

    def books_view(self) -> NeutralBooks:
        return NeutralBooks(self.book, "Odoo", version_label="write_date", what_changed=what_changed)
