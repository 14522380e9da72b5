"""Posting: one request at a time, each a short sequence of Odoo calls that is safe to repeat.

Every step is decided from what Odoo holds now, read just before, so a request cut off anywhere (a
killed run, a lost answer) is finished by sending it again, never doubled:

- create (invoice, credit memo): a live move with our number (`ref`) and the same content is adopted,
  one with other content is refused; a draft with our number (an attempt stopped before `action_post`)
  is completed; otherwise a draft is created and posted. A credit memo is then applied to the invoices
  it names (`js_assign_outstanding_line`), unless it is applied already.
- update of a posted invoice: Odoo does not edit a posted invoice. The correction is Odoo's "Reverse and
  create invoice" (`account.move.reversal.modify_moves`): a credit note reversing the posted invoice in
  full, and a new draft with the same number, written with the new content and posted. The ledger keeps
  the new invoice's id; the event's `before` is the reversed invoice, its `after` the new one with the
  credit note under `correction`. A credit memo is updated by Odoo's reset to draft (taken off its
  invoice first), edit and post.
- payment: one `account.payment.register` over the invoices it pays (they must be in Odoo), or a payment
  on no invoice; an update cancels the payment (`action_draft`, `action_cancel`) and registers it anew.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bridge_assets.destinations.base import Action, DestinationError, Outcome, PostRequest, Status
from bridge_assets.destinations.kit.erp import document_label
from bridge_assets.destinations.odoo.client import OdooAccessDenied, OdooFault, OdooUnavailable
from bridge_assets.destinations.odoo.payloads import (
    LABEL,
    LINE_FIELDS,
    LOCK_DATE_TEXT,
    MOVE_FIELDS,
    MOVE_TYPE,
    PAYMENT_FIELDS,
    decimal,
    differences,
    is_live,
    m2o,
    move_vals,
    refusal,
    summary,
    wanted_lines,
)
from bridge_assets.model.document import AccountingDocument, money

class Held(Exception):
    """Odoo refused because of its lock date."""


class PostingMixin:
    def _post_one(self, request: PostRequest) -> Outcome:
        document = request.document
        label = document_label(document, LABEL)
        action = Action(request.action)
        if action not in (Action.CREATE, Action.UPDATE) or document.doc_type not in LABEL:
            return Outcome(Status.FAILED, error_code="action_unsupported",
                           message=f"{label}: Odoo is sent creates and updates of invoices, credit memos and payments "
                                   f"through post; {action.value} of a {document.doc_type} is not one, nothing was sent.")
        try:
            if not self._has_references(document):
                problem = self._resolve(document)
                if problem:
                    return Outcome(Status.FAILED, error_code="reference_unresolved", message=f"{label}: {problem}.")
            if document.doc_type == "payment":
                return self._payment(request, label)
            if action is Action.CREATE:
                return self._create_move(document, label)
            return self._update_move(request, label)
        except Held:
            return Outcome(Status.HELD, error_code="lock_date", message=self._held_message(label, document))
        except OdooAccessDenied as denied:
            raise DestinationError(str(denied)) from None
        except OdooFault as fault:
            if LOCK_DATE_TEXT in fault.message:
                return Outcome(Status.HELD, error_code="lock_date", message=self._held_message(label, document))
            code, sentence = refusal(fault.call, fault.message, self.client.login)
            return Outcome(Status.FAILED, error_code=code, message=f"{label}: {sentence}. Nothing more was changed.")
        except OdooUnavailable as failure:
            return Outcome(Status.RETRY, http_status=failure.http_status, error_code="unavailable",
                           message=f"{label}: {failure}; whether it reached Odoo is unknown, so it is looked up and "
                                   f"finished (never sent twice) on the next run")

    def _held_message(self, label: str, document: AccountingDocument) -> str:
        close = self.book_close_date()
        when = f" ({close:%m/%d/%Y})" if close else ""
        return (f"{label}: dated {document.txn_date:%m/%d/%Y}, on or before Odoo's lock date{when}; it is held and "
                f"posts once the lock date is moved before it")

    # --- reads ------------------------------------------------------------------------------------

    def _moves(self, domain: list) -> list[dict[str, Any]]:
        return self.client.execute("account.move", "search_read", domain, fields=MOVE_FIELDS, order="id")

    def _move(self, move_id: int | str) -> dict[str, Any] | None:
        found = self._moves([["id", "=", int(move_id)]])
        return found[0] if found else None

    def _by_number(self, doc_type: str, number: str) -> tuple[list[dict], list[dict]]:
        """(live posted moves, drafts) carrying our number."""
        found = self._moves([["move_type", "=", MOVE_TYPE[doc_type]], ["ref", "=", number],
                             ["state", "in", ["draft", "posted"]]])
        return [m for m in found if is_live(m)], [m for m in found if m["state"] == "draft"]

    def _lines(self, move: dict[str, Any]) -> list[dict[str, Any]]:
        return self.client.execute("account.move.line", "read", list(move.get("line_ids") or []), LINE_FIELDS)

    def _vals(self, document: AccountingDocument) -> dict[str, Any]:
        partner, products, tax = self._ids_for(document)
        return move_vals(document, partner, wanted_lines(document, products, tax))

    # --- invoices and credit memos ----------------------------------------------------------------

    def _create_move(self, document: AccountingDocument, label: str) -> Outcome:
        vals = self._vals(document)
        live, drafts = self._by_number(document.doc_type, document.doc_number)
        for move in live:
            if not differences(vals, move, self._lines(move)):
                self._apply_credit(document, move)
                return self._done(Status.CREATED, move, note=f"{label}: it was already in Odoo ({move['name']}; an "
                                                              f"earlier attempt had landed), so nothing was sent")
        if live:
            changed = differences(vals, live[0], self._lines(live[0]))
            return Outcome(Status.FAILED, error_code="number_taken",
                           message=f"{label}: Odoo already has a {LABEL[document.doc_type].lower()} with Reference "
                                   f"{document.doc_number} ({summary(live[0])}) that differs in {', '.join(changed)}. If "
                                   f"it is this document (entered by hand, or an earlier version), reverse or re-reference "
                                   f"it in Odoo; nothing was sent, and it is tried again on the next run.")
        move = self._complete_draft(drafts[0] if drafts else None, vals, unlink_when_held=True)
        self._apply_credit(document, move)
        return self._done(Status.CREATED, move)

    def _complete_draft(self, draft: dict | None, vals: dict[str, Any], *, unlink_when_held: bool) -> dict[str, Any]:
        """The draft written with `vals` (created when None) and posted; Held when the lock date refuses it."""
        if draft is None:
            draft = self._move(self.client.execute("account.move", "create", vals))
        elif differences(vals, draft, self._lines(draft)):
            changes = {k: v for k, v in vals.items() if k not in ("move_type", "invoice_line_ids")}
            self.client.execute("account.move", "write", [draft["id"]],
                                {**changes, "invoice_line_ids": [(5,), *vals["invoice_line_ids"]]})
        try:
            self.client.execute("account.move", "action_post", [draft["id"]])
        except OdooFault as fault:
            if LOCK_DATE_TEXT not in fault.message:
                raise
            if unlink_when_held:       # a draft the books do not count; the held document is created afresh later
                self.client.execute("account.move", "unlink", [draft["id"]])
            raise Held() from None
        return self._move(draft["id"])

    def _update_move(self, request: PostRequest, label: str) -> Outcome:
        document = request.document
        vals = self._vals(document)
        current = self._move(request.dest_id) if request.dest_id else None
        if current is None:
            return Outcome(Status.FAILED, error_code="deleted",
                           message=f"{label}: it changed in the source, but Odoo no longer has it (id {request.dest_id}); "
                                   f"re-enter it in Odoo or revert it in the bridge.")
        before = {**current, "lines": self._lines(current)}
        if is_live(current) and not differences(vals, current, before["lines"]):
            return self._done(Status.UPDATED, current, before=request.previous or before,
                              note=f"{label}: Odoo already holds this version, so nothing was sent")
        if document.doc_type == "credit_memo":
            return self._update_credit(document, current, vals, before)
        if is_live(current):
            wizard = self.client.execute("account.move.reversal", "create",
                                         {"reason": f"correction of {document.doc_number} from the source",
                                          "date": str(current["invoice_date"])},
                                         context={"active_model": "account.move", "active_ids": [current["id"]]})
            action = self.client.execute("account.move.reversal", "modify_moves", [wizard])
            draft = self._move(action["res_id"])
        else:                          # reversed by an earlier attempt: find where that attempt got to
            live, drafts = self._by_number("invoice", document.doc_number)
            same = [m for m in live if not differences(vals, m, self._lines(m))]
            if same:
                return self._corrected(current, same[0], before)
            if live:
                return Outcome(Status.FAILED, error_code="number_taken",
                               message=f"{label}: its posted version in Odoo ({current['name']}) is reversed or "
                                       f"cancelled and another invoice with Reference {document.doc_number} is live "
                                       f"({summary(live[0])}); decide in Odoo which one stands, then run again.")
            draft = drafts[0] if drafts else None
        return self._corrected(current, self._complete_draft(draft, vals, unlink_when_held=False), before)

    def _corrected(self, original: dict, new: dict, before: dict) -> Outcome:
        notes = self._moves([["reversed_entry_id", "=", original["id"]], ["state", "=", "posted"]])
        correction = {"reversed": original["name"], "reversed_id": original["id"],
                      "credit_note": notes[0]["name"] if notes else None, "credit_note_id": notes[0]["id"] if notes else None}
        return self._done(Status.UPDATED, new, before=before, after={**new, "correction": correction},
                          note=f"{LABEL['invoice']} {new.get('ref')}: Odoo does not change a posted invoice, so "
                               f"{original['name']} was reversed by credit note {correction['credit_note']} and "
                               f"re-issued as {new['name']}")

    def _update_credit(self, document: AccountingDocument, current: dict, vals: dict, before: dict) -> Outcome:
        if current["state"] == "posted":
            self._unapply(current)
            self.client.execute("account.move", "button_draft", [current["id"]])
        elif current["state"] == "cancel":
            self.client.execute("account.move", "button_draft", [current["id"]])
        move = self._complete_draft(self._move(current["id"]), vals, unlink_when_held=False)
        self._apply_credit(document, move)
        return self._done(Status.UPDATED, move, before=before)

    # --- credit applications ----------------------------------------------------------------------

    def _receivable(self, move: dict[str, Any]) -> dict[str, Any] | None:
        lines = [l for l in self._lines(move) if l.get("account_type") == "asset_receivable"]
        return lines[0] if lines else None

    def _apply_credit(self, document: AccountingDocument, credit: dict[str, Any]) -> None:
        if document.doc_type != "credit_memo":
            return
        for application in sorted(document.applies_to, key=lambda a: a.doc_key):
            credit = self._move(credit["id"])
            if decimal(credit["amount_residual"]) <= 0:
                return                     # applied already (an earlier attempt, or by hand)
            live, _ = self._by_number("invoice", application.doc_number)
            invoice = next((m for m in live if m2o(m["partner_id"]) == m2o(credit["partner_id"])), None)
            if invoice is None or decimal(invoice["amount_residual"]) <= 0:
                continue                   # left as the customer's credit (the outcome says so below)
            line = self._receivable(credit)
            self.client.execute("account.move", "js_assign_outstanding_line", [invoice["id"]], line["id"])

    def _unapply(self, credit: dict[str, Any]) -> None:
        if decimal(credit["amount_residual"]) != decimal(credit["amount_total"]):
            line = self._receivable(credit)
            self.client.execute("account.move.line", "remove_move_reconcile", [line["id"]])

    # --- payments ---------------------------------------------------------------------------------

    def _payments_by_number(self, number: str, partner: int) -> list[dict[str, Any]]:
        return self.client.execute("account.payment", "search_read",
                                   [["ref", "=", number], ["partner_id", "=", partner], ["state", "=", "posted"]],
                                   fields=PAYMENT_FIELDS, order="id")

    def _payment(self, request: PostRequest, label: str) -> Outcome:
        document = request.document
        partner = self._partners[document.customer_key]
        live = self._payments_by_number(document.doc_number, partner)
        if request.action == Action.UPDATE and request.dest_id:
            old = self.client.execute("account.payment", "read", [int(request.dest_id)], PAYMENT_FIELDS)
            if old and old[0]["state"] == "posted":
                if decimal(old[0]["amount"]) == money(document.total) and str(old[0]["date"]) == document.txn_date.isoformat():
                    return self._paid(Status.UPDATED, old[0], note=f"{label}: Odoo already holds this version")
                self.client.execute("account.payment", "action_draft", [old[0]["id"]])
                self.client.execute("account.payment", "action_cancel", [old[0]["id"]])
                live = [p for p in live if p["id"] != old[0]["id"]]
        status = Status.UPDATED if request.action == Action.UPDATE else Status.CREATED
        for payment in live:
            if decimal(payment["amount"]) == money(document.total) and str(payment["date"]) == document.txn_date.isoformat():
                return self._paid(status, payment, note=f"{label}: it was already in Odoo ({payment['name']}), so "
                                                        f"nothing was sent")
        if live:
            return Outcome(Status.FAILED, error_code="number_taken",
                           message=f"{label}: Odoo already has a payment with memo {document.doc_number} for this "
                                   f"customer ({live[0]['name']}, {decimal(live[0]['amount'])}) that differs; cancel it in "
                                   f"Odoo if it is this payment, then run again.")
        invoices = []
        for application in document.applies_to:
            found, _ = self._by_number("invoice", application.doc_number)
            if not found:
                return Outcome(Status.FAILED, error_code="invoice_not_posted",
                               message=f"{label}: it pays invoice {application.doc_number}, which is not in Odoo yet "
                                       f"(not posted, held or failed); it is tried again on the next run")
            invoices.append(found[0])
        open_ids = [m["id"] for m in invoices if decimal(m["amount_residual"]) > 0]
        if open_ids:
            wizard = self.client.execute("account.payment.register", "create",
                                         {"amount": float(money(document.total)),
                                          "payment_date": document.txn_date.isoformat(),
                                          "communication": document.doc_number, "group_payment": True,
                                          "payment_difference_handling": "open"},
                                         context={"active_model": "account.move", "active_ids": open_ids})
            payment_id = self.client.execute("account.payment.register", "action_create_payments", [wizard])["res_id"]
        else:
            payment_id = self.client.execute("account.payment", "create", {
                "partner_id": partner, "amount": float(money(document.total)), "date": document.txn_date.isoformat(),
                "ref": document.doc_number, "payment_type": "inbound", "partner_type": "customer"})
            self.client.execute("account.payment", "action_post", [payment_id])
        payment = self.client.execute("account.payment", "read", [payment_id], PAYMENT_FIELDS)[0]
        return self._paid(status, payment)

    # --- outcomes ---------------------------------------------------------------------------------

    def _done(self, status: Status, move: dict[str, Any], *, before: dict | None = None, after: dict | None = None,
              note: str | None = None) -> Outcome:
        return Outcome(status, dest_id=str(move["id"]), dest_doc_number=str(move["name"]),
                       version=str(move.get("write_date") or ""), http_status=200, message=note,
                       before=before if status is Status.UPDATED else None, after=after or move)

    def _paid(self, status: Status, payment: dict[str, Any], note: str | None = None) -> Outcome:
        return Outcome(status, dest_id=str(payment["id"]), dest_doc_number=str(payment["name"]),
                       version=str(payment.get("write_date") or ""), http_status=200, message=note, after=payment)


__all__ = ["PostingMixin", "dataclasses"]
