"""Undo, the Odoo way: a posted invoice is reversed in full by a credit note (`refund_moves`), a draft is
cancelled; a credit memo is taken off its invoice, reset to draft and cancelled; a payment is reset to
draft (which undoes its reconciliations) and cancelled. Each reads first, so asking again after a lost
answer finds it done. Restoring an updated invoice is another correction (reversal and re-issue of the
saved state); the plan leaves it to a person (`restores` is off) and says what to enter."""

from __future__ import annotations

from typing import Any

from bridge_assets.destinations.base import DestinationError, Outcome, Status
from bridge_assets.destinations.odoo.client import OdooAccessDenied, OdooFault, OdooUnavailable
from bridge_assets.destinations.odoo.payloads import LABEL, LOCK_DATE_TEXT, PAYMENT_FIELDS, refusal


class UndoMixin:
    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        what = f"{LABEL.get(doc_type, doc_type)} id {dest_id} in Odoo"
        try:
            if doc_type == "payment":
                return self._cancel_payment(what, dest_id)
            current = self._move(dest_id)
            if current is None:
                return Outcome(Status.VOIDED, dest_id=dest_id, message=f"{what} is already deleted")
            name = current["name"]
            if current["state"] == "cancel" or current.get("payment_state") == "reversed":
                return self._voided(dest_id, current, current, f"{what} ({name}) is already cancelled or reversed")
            if current["state"] == "draft":
                self.client.execute("account.move", "button_cancel", [current["id"]])
            elif doc_type == "invoice":
                wizard = self.client.execute("account.move.reversal", "create",
                                             {"reason": "cancelled at the source (invoice bridge)",
                                              "date": str(current["invoice_date"])},
                                             context={"active_model": "account.move", "active_ids": [current["id"]]})
                self.client.execute("account.move.reversal", "refund_moves", [wizard])
            else:
                self._unapply(current)
                self.client.execute("account.move", "button_draft", [current["id"]])
                self.client.execute("account.move", "button_cancel", [current["id"]])
            return self._voided(dest_id, current, self._move(dest_id), None)
        except OdooAccessDenied as denied:
            raise DestinationError(str(denied)) from None
        except OdooFault as fault:
            if LOCK_DATE_TEXT in fault.message:
                return Outcome(Status.HELD, dest_id=dest_id, error_code="lock_date",
                               message=f"{what}: dated on or before Odoo's lock date; the cancellation waits until the "
                                       f"lock date is moved before it")
            code, sentence = refusal(fault.call, fault.message, self.client.login)
            return Outcome(Status.FAILED, dest_id=dest_id, error_code=code, message=f"{what}: {sentence}")
        except OdooUnavailable as failure:
            return Outcome(Status.RETRY, dest_id=dest_id, error_code="unavailable", http_status=failure.http_status,
                           message=f"{what}: {failure}; the cancellation is asked again (it is recognised if done)")

    def _cancel_payment(self, what: str, dest_id: str) -> Outcome:
        found = self.client.execute("account.payment", "read", [int(dest_id)], PAYMENT_FIELDS)
        if not found:
            return Outcome(Status.VOIDED, dest_id=dest_id, message=f"{what} is already deleted")
        payment = found[0]
        if payment["state"] == "cancel":
            return self._voided(dest_id, payment, payment, f"{what} ({payment['name']}) is already cancelled")
        if payment["state"] == "posted":
            self.client.execute("account.payment", "action_draft", [payment["id"]])
        self.client.execute("account.payment", "action_cancel", [payment["id"]])
        after = self.client.execute("account.payment", "read", [int(dest_id)], PAYMENT_FIELDS)[0]
        return self._voided(dest_id, payment, after, None)

    @staticmethod
    def _voided(dest_id: str, before: dict[str, Any], after: dict[str, Any] | None, note: str | None) -> Outcome:
        after = after or before
        return Outcome(Status.VOIDED, dest_id=dest_id, dest_doc_number=str(before.get("name") or "") or None,
                       version=str(after.get("write_date") or ""), http_status=200, before=before, after=after,
                       message=note)

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        from bridge_assets.destinations.base import by_hand
        return by_hand("restores", self._restore_sentence(doc_type, dest_id, before))

    def _restore_sentence(self, doc_type: str, dest_id: str | None, before: dict | None) -> str:
        name = (before or {}).get("name") or f"id {dest_id}"
        total = (before or {}).get("amount_total")
        return (f"{LABEL.get(doc_type, doc_type)} {(before or {}).get('ref') or ''} was corrected in Odoo by reversal "
                f"and re-issue; putting back the earlier version ({name}, total {total}) is another correction: in "
                f"Odoo, use Reverse > Reverse and Create Invoice on the current invoice and enter the earlier lines.")
