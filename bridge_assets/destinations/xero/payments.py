"""A source payment as Xero keeps money received: one batch payment (one deposit) with one payment per
invoice it pays. Xero's payment pays exactly one document, so a cheque over three invoices is three
payments; `PUT /BatchPayments` makes them one deposit, all or nothing, with one id the ledger keeps and
revert deletes whole. Its `Reference` is the source payment's number, which is how a retry finds it.
Money not applied to an invoice is not posted (Xero takes it only as an overpayment): the outcome says
so and how much to enter by hand.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bridge_assets.destinations.base import Action, Outcome, Status
from bridge_assets.destinations.xero.payloads import PAYMENT, Kind, decimal
from bridge_assets.model.document import money


class PaymentsMixin:
    def _post_payments(self, kind: Kind, works: list) -> None:
        invoices = self._invoices_applied(works)
        existing = self._batch_payments_by_reference({w.document.doc_number for w in works})
        sending = []
        for w in works:
            if w.request.action == Action.UPDATE:
                w.outcome = Outcome(Status.FAILED, error_code="payment_unchangeable",
                                    message=f"{w.label}: it changed in the source, but Xero cannot change a payment "
                                            f"once made; revert it in the bridge (which deletes it in Xero) and it is "
                                            f"posted again as it is now.")
                continue
            if not w.document.applies_to:
                w.outcome = Outcome(Status.FAILED, error_code="unapplied_payment",
                                    message=f"{w.label}: it pays no invoice, and Xero takes money not applied to an "
                                            f"invoice only as an overpayment; enter {w.document.total} in Xero as a "
                                            f"receive-money overpayment for {w.document.customer_name}.")
                continue
            blocked = self._application_problem(w, invoices)
            if blocked:
                w.outcome = Outcome(Status.FAILED, error_code="invoice_not_posted", message=blocked)
                continue
            w.body = self._batch_body(w, invoices)
            same = [b for b in existing.get(w.document.doc_number, []) if decimal(b.get("TotalAmount")) ==
                    decimal(w.body["_total"])]
            if same:
                w.notes.append("it was already in Xero (an earlier attempt had landed), so nothing was sent")
                w.outcome = self._payment_outcome(same[0], w)
                continue
            sending.append(w)
        if sending:
            self._send_batch_payments(sending)

    def _batch_body(self, w, invoices: dict[str, dict[str, Any]]) -> dict[str, Any]:
        parts, applied = [], Decimal(0)
        for application in sorted(w.document.applies_to, key=lambda a: a.doc_key):
            invoice = invoices[application.doc_number]
            amount = min(money(application.amount), decimal(invoice.get("AmountDue")))
            if amount <= 0:
                w.notes.append(f"invoice {application.doc_number} has nothing due in Xero, so nothing was paid on it")
                continue
            parts.append({"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": amount})
            applied += amount
            invoice["AmountDue"] = decimal(invoice.get("AmountDue")) - amount
        left = money(w.document.total) - applied
        if left > 0:
            w.notes.append(f"{left} of it pays no invoice in Xero: enter it as an overpayment for "
                           f"{w.document.customer_name} by hand")
        return {"Account": {"Code": self.codes.bank_account}, "Date": w.document.txn_date.isoformat(),
                "Reference": w.document.doc_number, "Payments": parts, "_total": applied}

    def _send_batch_payments(self, works: list) -> None:
        empty = [w for w in works if not w.body["Payments"]]
        for w in empty:
            w.outcome = Outcome(Status.FAILED, error_code="nothing_due",
                                message=f"{w.label}: every invoice it pays has nothing due in Xero; "
                                        f"{'; '.join(w.notes)}.")
        works = [w for w in works if w.body["Payments"]]
        if not works:
            return
        bodies = [{k: v for k, v in w.body.items() if not k.startswith("_")} for w in works]
        answer = self.client.write("PUT", "/BatchPayments", {"BatchPayments": bodies}, self._key(works, "write"),
                                   {"summarizeErrors": "false"})
        rows = answer.body.get("BatchPayments") if answer.ok else None
        if not isinstance(rows, list) or len(rows) != len(works):
            for w in works:
                w.outcome = self._refused(w, answer.messages(), answer.status)
            return
        for w, row in zip(works, rows):
            messages = [str(e.get("Message")) for e in row.get("ValidationErrors") or []]
            w.outcome = self._refused(w, messages, 400) if messages else self._payment_outcome(row, w)

    def _payment_outcome(self, row: dict[str, Any], w) -> Outcome:
        message = f"{w.label}: {'; '.join(w.notes)}" if w.notes else None
        return Outcome(Status.CREATED, dest_id=str(row["BatchPaymentID"]), dest_doc_number=row.get("Reference"),
                       version=str(row.get("UpdatedDateUTC") or ""), http_status=200, after=row, message=message)

    def _batch_payments_by_reference(self, references: set[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self._read_all(PAYMENT.collection, {"where": 'Status=="AUTHORISED"'}):
            if row.get("Reference") in references:
                found.setdefault(row["Reference"], []).append(row)
        return found
