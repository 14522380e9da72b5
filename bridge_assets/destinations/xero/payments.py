"""A source payment as Xero keeps money received: one batch payment (one deposit) with one payment per
invoice it pays. Xero's payment pays exactly one document, so a cheque over three invoices is three
payments; `PUT /BatchPayments` makes them one deposit, all or nothing, with one id the ledger keeps and
revert deletes whole. Its `Reference` is the source payment's number, which is how a retry finds it.
Money beyond what the invoices still owe (a payment over an invoice a credit already reduced) is
kept as Xero keeps it: an overpayment of the contact (`PUT /BankTransactions`, Type RECEIVE-OVERPAYMENT,
the same Reference), made right after the batch payment, found again by Reference and deleted with it.
A payment that pays no invoice at all is left to a person (the outcome says how much).
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
            paid = {invoices[a.doc_number]["InvoiceID"] for a in w.document.applies_to}
            same = [b for b in existing.get(w.document.doc_number, [])
                    if {(p.get("Invoice") or {}).get("InvoiceID") for p in b.get("Payments") or []} <= paid]
            if same:                                  # an earlier attempt landed: adopt it, nothing sent
                w.body = {"_left": money(w.document.total) - decimal(same[0].get("TotalAmount"))}
                w.notes.append("it was already in Xero (an earlier attempt had landed), so nothing was sent")
                w.outcome = self._payment_outcome(same[0], w)
                continue
            w.body = self._batch_body(w, invoices)
            sending.append(w)
        if sending:
            self._send_batch_payments(sending)
        over = [w for w in works if w.outcome is not None and w.outcome.status is Status.CREATED
                and w.body and w.body["_left"] > 0]
        if over:
            self._overpay(over)

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
        return {"Account": {"Code": self.codes.bank_account}, "Date": w.document.txn_date.isoformat(),
                "Reference": w.document.doc_number, "Payments": parts, "_total": applied,
                "_left": money(w.document.total) - applied}

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

    def _overpay(self, works: list) -> None:
        """What each payment received beyond the invoices' dues, as the contact's overpayment (once)."""
        made = self._overpayments_by_reference({w.document.doc_number for w in works})
        sending = []
        for w in works:
            if any(decimal(o.get("Total")) == w.body["_left"] for o in made.get(w.document.doc_number, [])):
                continue                                      # an earlier attempt made it
            sending.append(w)
        if not sending:
            return
        bodies = [{"Type": "RECEIVE-OVERPAYMENT", "Contact": {"ContactID": self.contact_id(w.document)},
                   "BankAccount": {"Code": self.codes.bank_account}, "Date": w.document.txn_date.isoformat(),
                   "Reference": w.document.doc_number, "LineAmountTypes": "NoTax",
                   "LineItems": [{"Description": f"Overpayment with payment {w.document.doc_number}",
                                  "LineAmount": w.body["_left"]}]} for w in sending]
        answer = self.client.write("PUT", "/BankTransactions", {"BankTransactions": bodies},
                                   self._key(sending, "overpay"), {"summarizeErrors": "false"})
        rows = answer.body.get("BankTransactions") if answer.ok else None
        for index, w in enumerate(sending):
            row = rows[index] if isinstance(rows, list) and index < len(rows) else {}
            errors = [str(e.get("Message")) for e in row.get("ValidationErrors") or []] or (
                [] if row else answer.messages())
            if errors:
                w.outcome = Outcome(Status.RETRY, error_code="overpayment_unknown", dest_id=w.outcome.dest_id,
                                    message=f"{w.label}: the invoices are paid in Xero, but the {w.body['_left']} "
                                            f"beyond what they owed could not be kept as an overpayment "
                                            f"({'; '.join(errors)}); it is tried again on the next run")
            else:
                w.notes.append(f"{w.body['_left']} beyond what the invoices owed is kept as {w.document.customer_name}'s "
                               f"overpayment")
                w.outcome = self._payment_outcome(w.outcome.after, w)

    def _overpayments_by_reference(self, references: set[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for row in self._read_all("BankTransactions", {"where": 'Type=="RECEIVE-OVERPAYMENT" AND Status=="AUTHORISED"'}):
            if row.get("Reference") in references:
                found.setdefault(row["Reference"], []).append(row)
        return found
