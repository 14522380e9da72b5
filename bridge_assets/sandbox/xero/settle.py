"""Money applied to invoices: payments, batch payments and credit-note allocations.

- `PUT /Payments`: one payment pays one invoice (or credit note); the amount is positive and at most
  what is outstanding, the invoice approved, the account a bank account (or one that takes payments),
  the date after the lock dates. `POST /Payments/{id}` `{"Status": "DELETED"}` deletes it.
- `PUT /BatchPayments`: one deposit paying several invoices, all or nothing; each of its payments is
  a payment as above. `POST /BatchPayments/{id}` `{"Status": "DELETED"}` deletes it with its payments.
- `PUT /BankTransactions` of Type RECEIVE-OVERPAYMENT: money received beyond what is due, kept as an
  Overpayment (AROVERPAYMENT) of the contact; `POST /BankTransactions/{id}` `{"Status": "DELETED"}` deletes
  both while the overpayment is not allocated (other bank transaction types are not emulated);
- `PUT /CreditNotes/{id}/Allocations`: an approved credit note applied to an approved invoice of the
  same contact, at most its remaining credit and the invoice's amount due;
  `DELETE /CreditNotes/{id}/Allocations/{AllocationID}` takes it back.
An invoice (or credit note) with nothing outstanding is PAID; taking money back makes it AUTHORISED again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from bridge_assets.sandbox.kit.money import money
from bridge_assets.sandbox.xero import wire
from bridge_assets.sandbox.xero.documents import CREDIT_NOTE, INVOICE, Documents, Kind, lock_problem
from bridge_assets.sandbox.xero.errors import Invalid
from bridge_assets.sandbox.xero.names import account, decimal


def _day(value: Any) -> str:
    if not value:
        return dt.date.today().isoformat()
    try:
        return wire.parse_date(value).isoformat()
    except ValueError as problem:
        raise Invalid(f"Date: {problem}") from None


class Settlements:
    def __init__(self, documents: Documents) -> None:
        self.docs = documents
        self.store, self.tenant_id = documents.store, documents.tenant_id

    def _save(self, kind: Kind, doc: dict[str, Any]) -> None:
        self.store.put(self.tenant_id, kind.entity, doc[kind.id_field], doc.get(kind.number_field), doc)
        self.docs.touched.add(kind.entity)

    def _target(self, sent: dict[str, Any]) -> tuple[Kind, dict[str, Any]]:
        for kind, key in ((INVOICE, "Invoice"), (CREDIT_NOTE, "CreditNote")):
            ref = sent.get(key)
            if isinstance(ref, dict) and (ref.get(kind.id_field) or ref.get(kind.number_field)):
                found = self.docs.find(kind, str(ref.get(kind.id_field) or ref.get(kind.number_field)))
                if found is None:
                    raise Invalid(f"{kind.label} could not be found")
                return kind, found
        raise Invalid("Payment must specify an invoice or credit note.")   # (wording unconfirmed)

    @staticmethod
    def _outstanding(kind: Kind, doc: dict[str, Any]) -> Decimal:
        return Decimal(str(doc.get("AmountDue" if kind is INVOICE else "RemainingCredit", 0)))

    def _settle(self, kind: Kind, doc: dict[str, Any], field: str, amount: Decimal) -> None:
        """Move `amount` (negative: give back) into the document's AmountPaid / AmountCredited."""
        doc[field] = money(Decimal(str(doc.get(field, 0))) + amount)
        outstanding = money(self._outstanding(kind, doc) - amount)
        doc["AmountDue" if kind is INVOICE else "RemainingCredit"] = outstanding
        doc["Status"] = "PAID" if outstanding == 0 else "AUTHORISED"

    # --- payments ----------------------------------------------------------------------------------

    def pay(self, sent: dict[str, Any], batch_id: str | None = None) -> dict[str, Any]:
        kind, doc = self._target(sent)
        if doc["Status"] != "AUTHORISED":
            raise Invalid(f"Payments can only be made against approved documents ({doc[kind.number_field]} is "
                          f"{doc['Status']}).")                          # (wording unconfirmed)
        bank = account(self.tenant_id, sent.get("Account"))
        if bank is None:
            raise Invalid("Account code must be a valid bank account or an account that takes payments.")
        if not bank["EnablePaymentsToAccount"]:
            raise Invalid(f"Account {bank['Code']} is not a bank account and does not take payments.")
        amount = money(decimal(sent.get("Amount"), "Amount"))
        if amount <= 0:
            raise Invalid("Payment amount must be greater than zero.")   # (wording unconfirmed)
        if amount > self._outstanding(kind, doc):
            raise Invalid("Payment amount exceeds the amount outstanding on this document")
        day = _day(sent.get("Date"))
        problem = lock_problem(self.docs.organisation, day)
        if problem:
            raise Invalid(problem)
        payment = {"PaymentID": str(uuid.uuid4()), "Date": day, "Amount": amount, "Status": "AUTHORISED",
                   "PaymentType": "ACCRECPAYMENT" if kind is INVOICE else "ARCREDITPAYMENT",
                   "Reference": str(sent.get("Reference") or ""), "IsReconciled": bool(sent.get("IsReconciled")),
                   "Account": {"AccountID": bank["AccountID"], "Code": bank["Code"]},
                   kind.entity: {kind.id_field: doc[kind.id_field], kind.number_field: doc.get(kind.number_field)}}
        if batch_id:
            payment["BatchPaymentID"] = batch_id
        self._settle(kind, doc, "AmountPaid", amount)
        doc.setdefault("Payments", []).append({"PaymentID": payment["PaymentID"], "Date": day, "Amount": amount})
        self._save(kind, doc)
        self.store.put(self.tenant_id, "Payment", payment["PaymentID"], payment["Reference"] or None, payment)
        self.docs.touched.add("Payment")
        return payment

    def delete_payment(self, payment: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
        if str(sent.get("Status") or "").upper() != "DELETED":
            raise Invalid("A payment can only be deleted (Status DELETED); it cannot be edited.")
        if payment["Status"] == "DELETED":
            raise Invalid("Payment has already been deleted")             # (wording unconfirmed)
        problem = lock_problem(self.docs.organisation, payment["Date"])
        if problem:
            raise Invalid(problem)
        kind = INVOICE if "Invoice" in payment else CREDIT_NOTE
        doc = self.docs.find(kind, payment[kind.entity][kind.id_field])
        self._settle(kind, doc, "AmountPaid", -Decimal(str(payment["Amount"])))
        doc["Payments"] = [p for p in doc.get("Payments", []) if p["PaymentID"] != payment["PaymentID"]]
        self._save(kind, doc)
        payment["Status"] = "DELETED"
        self.store.put(self.tenant_id, "Payment", payment["PaymentID"], payment.get("Reference") or None, payment)
        self.docs.touched.add("Payment")
        return payment

    # --- batch payments ----------------------------------------------------------------------------

    def pay_batch(self, sent: dict[str, Any]) -> dict[str, Any]:
        parts = sent.get("Payments") or []
        if not parts:
            raise Invalid("A batch payment must have at least one payment.")   # (wording unconfirmed)
        batch_id = str(uuid.uuid4())
        common = {"Account": sent.get("Account"), "Date": sent.get("Date"), "Reference": sent.get("Reference")}
        payments = [self.pay({**common, **{k: v for k, v in part.items() if v is not None}}, batch_id)
                    for part in parts]
        batch = {"BatchPaymentID": batch_id, "Type": "RECBATCH", "Status": "AUTHORISED",
                 "Reference": str(sent.get("Reference") or ""), "Date": payments[0]["Date"],
                 "Account": payments[0]["Account"], "TotalAmount": money(sum(p["Amount"] for p in payments)),
                 "Payments": [{"PaymentID": p["PaymentID"], "Amount": p["Amount"],
                               "Invoice": p.get("Invoice") or p.get("CreditNote")} for p in payments]}
        self.store.put(self.tenant_id, "BatchPayment", batch_id, batch["Reference"] or None, batch)
        self.docs.touched.add("BatchPayment")
        return batch

    def delete_batch(self, batch: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
        if str(sent.get("Status") or "").upper() != "DELETED":
            raise Invalid("A batch payment can only be deleted (Status DELETED).")
        if batch["Status"] == "DELETED":
            raise Invalid("Batch payment has already been deleted")      # (wording unconfirmed)
        for part in batch["Payments"]:
            payment = self.store.get(self.tenant_id, "Payment", part["PaymentID"])
            if payment is not None and payment["Status"] != "DELETED":
                self.delete_payment(payment, {"Status": "DELETED"})
        batch["Status"] = "DELETED"
        self.store.put(self.tenant_id, "BatchPayment", batch["BatchPaymentID"], batch.get("Reference") or None, batch)
        self.docs.touched.add("BatchPayment")
        return batch

    # --- credit note allocations -------------------------------------------------------------------

    def allocate(self, credit: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
        ref = sent.get("Invoice") or {}
        invoice = self.docs.find(INVOICE, str(ref.get("InvoiceID") or ref.get("InvoiceNumber") or ""))
        if invoice is None:
            raise Invalid("Invoice could not be found")
        if credit["Status"] != "AUTHORISED" or invoice["Status"] != "AUTHORISED":
            raise Invalid("Allocations can only be made between an approved credit note and an approved invoice "
                          "with an amount outstanding.")              # (wording unconfirmed)
        if credit["Contact"]["ContactID"] != invoice["Contact"]["ContactID"]:
            raise Invalid("The credit note and the invoice must belong to the same contact.")  # (unconfirmed)
        amount = money(decimal(sent.get("Amount"), "Amount"))
        if amount <= 0:
            raise Invalid("Allocation amount must be greater than zero.")
        if amount > Decimal(str(credit["RemainingCredit"])):
            raise Invalid("The amount allocated must not exceed the remaining credit on the credit note.")
        if amount > Decimal(str(invoice["AmountDue"])):
            raise Invalid("The amount allocated must not exceed the amount due on the invoice.")
        day = _day(sent.get("Date"))
        problem = lock_problem(self.docs.organisation, day)
        if problem:
            raise Invalid(problem)
        allocation = {"AllocationID": str(uuid.uuid4()), "Amount": amount, "Date": day,
                      "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice.get("InvoiceNumber")}}
        self._settle(CREDIT_NOTE, credit, "AmountCredited", amount)
        credit.setdefault("Allocations", []).append(allocation)
        self._settle(INVOICE, invoice, "AmountCredited", amount)
        invoice.setdefault("CreditNotes", []).append({"CreditNoteID": credit["CreditNoteID"], "AllocationID":
                                                      allocation["AllocationID"], "AppliedAmount": amount,
                                                      "CreditNoteNumber": credit.get("CreditNoteNumber")})
        self._save(CREDIT_NOTE, credit)
        self._save(INVOICE, invoice)
        return {**allocation, "CreditNote": {"CreditNoteID": credit["CreditNoteID"]}}

    def unallocate(self, credit: dict[str, Any], allocation_id: str) -> dict[str, Any]:
        allocation = next((a for a in credit.get("Allocations", []) if a["AllocationID"] == allocation_id), None)
        if allocation is None:
            raise Invalid("Allocation could not be found")
        problem = lock_problem(self.docs.organisation, allocation["Date"])
        if problem:
            raise Invalid(problem)
        amount = Decimal(str(allocation["Amount"]))
        invoice = self.docs.find(INVOICE, allocation["Invoice"]["InvoiceID"])
        self._settle(CREDIT_NOTE, credit, "AmountCredited", -amount)
        credit["Allocations"] = [a for a in credit["Allocations"] if a["AllocationID"] != allocation_id]
        self._settle(INVOICE, invoice, "AmountCredited", -amount)
        invoice["CreditNotes"] = [c for c in invoice.get("CreditNotes", []) if c.get("AllocationID") != allocation_id]
        self._save(CREDIT_NOTE, credit)
        self._save(INVOICE, invoice)
        return {**allocation, "IsDeleted": True}

    # --- overpayments ------------------------------------------------------------------------------

    def receive(self, sent: dict[str, Any]) -> dict[str, Any]:
        if str(sent.get("Type") or "") != "RECEIVE-OVERPAYMENT":
            raise Invalid("Only bank transactions of Type RECEIVE-OVERPAYMENT are emulated.")
        contact = self.docs.names.contact(sent.get("Contact"), create=True)
        bank = account(self.tenant_id, sent.get("BankAccount"))
        if bank is None or not bank["EnablePaymentsToAccount"]:
            raise Invalid("BankAccount must be a bank account.")
        total = money(sum((decimal(l.get("LineAmount"), "LineAmount") for l in sent.get("LineItems") or []),
                          Decimal(0)))
        if total <= 0:
            raise Invalid("An overpayment must be for a positive amount.")     # (wording unconfirmed)
        day = _day(sent.get("Date"))
        problem = lock_problem(self.docs.organisation, day)
        if problem:
            raise Invalid(problem)
        reference = str(sent.get("Reference") or "")
        overpayment = {"OverpaymentID": str(uuid.uuid4()), "Type": "RECEIVE-OVERPAYMENT", "Status": "AUTHORISED",
                       "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]}, "Date": day,
                       "Total": total, "RemainingCredit": total, "Reference": reference}
        transaction = {"BankTransactionID": str(uuid.uuid4()), "Type": "RECEIVE-OVERPAYMENT", "Status": "AUTHORISED",
                       "Contact": overpayment["Contact"], "Date": day, "Reference": reference, "Total": total,
                       "LineAmountTypes": "NoTax", "BankAccount": {"AccountID": bank["AccountID"], "Code": bank["Code"]},
                       "LineItems": [{"Description": str(l.get("Description") or ""),
                                      "LineAmount": money(decimal(l.get("LineAmount"), "LineAmount"))}
                                     for l in sent.get("LineItems") or []],
                       "OverpaymentID": overpayment["OverpaymentID"]}
        self.store.put(self.tenant_id, "Overpayment", overpayment["OverpaymentID"], reference or None, overpayment)
        self.store.put(self.tenant_id, "BankTransaction", transaction["BankTransactionID"], reference or None,
                       transaction)
        self.docs.touched.update({"Overpayment", "BankTransaction"})
        return transaction

    def delete_received(self, transaction: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
        if str(sent.get("Status") or "").upper() != "DELETED" or transaction["Status"] == "DELETED":
            raise Invalid("A bank transaction here can only be deleted (Status DELETED), once.")
        overpayment = self.store.get(self.tenant_id, "Overpayment", transaction["OverpaymentID"])
        if overpayment and Decimal(str(overpayment["RemainingCredit"])) != Decimal(str(overpayment["Total"])):
            raise Invalid("This overpayment has been allocated; remove its allocations first.")
        problem = lock_problem(self.docs.organisation, transaction["Date"])
        if problem:
            raise Invalid(problem)
        for entity, row, key in (("Overpayment", overpayment, "OverpaymentID"),
                                 ("BankTransaction", transaction, "BankTransactionID")):
            if row:
                row["Status"] = "DELETED"
                self.store.put(self.tenant_id, entity, row[key], row.get("Reference") or None, row)
        self.docs.touched.update({"Overpayment", "BankTransaction"})
        return transaction
