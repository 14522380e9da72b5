"""Voiding, deleting and restoring what the bridge posted. Each reads before it writes, so asking again
after a lost answer is recognised as already done.

An invoice is voided (deleted while still a draft); a credit note has its allocations taken back,
then is voided; a payment (a batch payment) is deleted with its payments. Restore puts an updated
document back as the ledger saved it before the update.
"""

from __future__ import annotations

import uuid

from bridge_assets.destinations.base import Outcome, Status
from bridge_assets.destinations.kit.http import PlatformUnavailable
from bridge_assets.destinations.xero.client import XeroUnavailable
from bridge_assets.destinations.xero.payloads import CREDIT_NOTE, KINDS, PAYMENT, differences, restore_body


class UndoMixin:
    def _undo_key(self, *parts: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join((self._run_nonce, *parts))))

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        kind = KINDS[doc_type]
        try:
            held = self._one(kind, dest_id)
            if held is None:
                return Outcome(Status.FAILED, error_code="gone", message=f"{kind.label} {dest_id} is not in Xero; "
                               f"nothing to void")
            done = "DELETED" if kind is PAYMENT else "VOIDED"
            if kind is PAYMENT:
                refused = self._delete_overpayments(held)
                if refused is not None:
                    return refused
            if held.get("Status") in ("VOIDED", "DELETED"):
                return self._undone(kind, held, "it already was")
            if kind is CREDIT_NOTE:
                for allocation in held.get("Allocations") or []:
                    answer = self.client.send("DELETE", f"/CreditNotes/{dest_id}/Allocations/"
                                                        f"{allocation['AllocationID']}")
                    if answer.status not in (200, 400):
                        return self._undo_refused(kind, held, answer.messages())
            status = "DELETED" if held.get("Status") in ("DRAFT", "SUBMITTED") else done
            answer = self.client.write("POST", f"/{kind.collection}/{dest_id}", {"Status": status},
                                       self._undo_key("void", dest_id))
            rows = answer.body.get(kind.collection) if answer.ok else None
            if not rows:
                return self._undo_refused(kind, held, answer.messages())
            self._written += 1
            return self._undone(kind, rows[0], None)
        except (XeroUnavailable, PlatformUnavailable) as failure:
            return Outcome(Status.RETRY, error_code="unavailable",
                           message=f"{kind.label} {dest_id}: {failure}; it is checked and voided on the next run")

    def _delete_overpayments(self, batch: dict) -> Outcome | None:
        """The overpayment a payment left (same Reference) goes with it; a refusal says why."""
        reference = batch.get("Reference")
        for row in self._overpayments_by_reference({reference} if reference else set()).get(reference, []):
            answer = self.client.write("POST", f"/BankTransactions/{row['BankTransactionID']}", {"Status": "DELETED"},
                                       self._undo_key("overpayment", row["BankTransactionID"]))
            if not answer.ok:
                return self._undo_refused(PAYMENT, batch, answer.messages())
        return None

    def _undone(self, kind, held: dict, note: str | None) -> Outcome:
        return Outcome(Status.VOIDED, dest_id=str(held[kind.id_field]), dest_doc_number=held.get(kind.number_field),
                       version=str(held.get("UpdatedDateUTC") or ""), http_status=200, after=held,
                       message=f"{kind.label} {held.get(kind.number_field)}: {note}" if note else None)

    def _undo_refused(self, kind, held: dict, messages: list[str]) -> Outcome:
        text = "; ".join(messages)
        if any("lock date" in m for m in messages):
            return Outcome(Status.HELD, error_code="locked",
                           message=f"{kind.label} {held.get(kind.number_field)}: Xero's lock date covers it ({text}); "
                                   f"it is voided once the lock date moves")
        return Outcome(Status.FAILED, error_code="refused",
                       message=f"{kind.label} {held.get(kind.number_field)}: Xero refused to void it ({text}); remove "
                               f"what is allocated to it in Xero, or void it there by hand")

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        kind = KINDS[doc_type]
        try:
            held = self._one(kind, dest_id)
            if held is None or held.get("Status") in ("VOIDED", "DELETED"):
                return Outcome(Status.FAILED, error_code="gone",
                               message=f"{kind.label} {dest_id} is voided or gone in Xero; it cannot be restored")
            body = restore_body(before)
            if not differences(body, held):
                return Outcome(Status.UPDATED, dest_id=dest_id, dest_doc_number=held.get(kind.number_field),
                               version=str(held.get("UpdatedDateUTC") or ""), http_status=200, before=held, after=held,
                               message=f"{kind.label} {held.get(kind.number_field)}: it already was as before")
            answer = self.client.write("POST", f"/{kind.collection}/{dest_id}", {kind.collection: [body]},
                                       self._undo_key("restore", dest_id))
            rows = answer.body.get(kind.collection) if answer.ok else None
            if not rows:
                return self._undo_refused(kind, held, answer.messages())
            self._written += 1
            return Outcome(Status.UPDATED, dest_id=dest_id, dest_doc_number=rows[0].get(kind.number_field),
                           version=str(rows[0].get("UpdatedDateUTC") or ""), http_status=200, before=held, after=rows[0])
        except (XeroUnavailable, PlatformUnavailable) as failure:
            return Outcome(Status.RETRY, error_code="unavailable",
                           message=f"{kind.label} {dest_id}: {failure}; it is restored on the next run")
