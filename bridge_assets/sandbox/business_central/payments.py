"""Customer payments as Business Central takes them through API v2.0: lines of a customer payment journal
(`customerPaymentJournals({id})/customerPayments`), each applied to at most one invoice
(`appliesToInvoiceId` / `appliesToInvoiceNumber`), then the journal posted (`journals({id})/Microsoft.NAV.post`,
the same journal batch). Posting removes the lines and writes general ledger entries (documentType
Payment, documentNumber as the line had it), which is where a posted payment is read back; a line's
amount beyond what its invoice still owes stays unapplied on the customer.

A posted payment cannot be reversed through the API (Reverse Transaction is a page action): RULES.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Callable

from bridge_assets.sandbox.business_central.documents import Documents, cents, dialog
from bridge_assets.sandbox.business_central.odata import ODataError

RECEIVABLES = {"id": "a0c9e6b2-0000-4000-8000-000000013100", "number": "13100"}   # Accounts Receivable
LINE_FIELDS = {"id", "lineNumber", "customerId", "customerNumber", "postingDate", "documentNumber",
               "externalDocumentNumber", "amount", "appliesToInvoiceId", "appliesToInvoiceNumber", "description",
               "comment"}


class Payments:
    def __init__(self, documents: Documents, sign: str, stamp: Callable[[], str]) -> None:
        self.documents = documents
        self.store = documents.store
        self.sign = sign
        self.stamp = stamp

    def journal(self, journal_id: str) -> dict[str, Any]:
        found = self.store.get("customerPaymentJournals", journal_id)
        if found is None:
            raise ODataError(404, "BadRequest_NotFound", f"The journal {journal_id} does not exist.")
        return found

    def lines(self, journal_id: str) -> list[dict[str, Any]]:
        return [l for l in self.store.all("customerPayments") if l["journalId"] == journal_id]

    def add_line(self, journal: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - LINE_FIELDS
        if unknown:
            raise ODataError(400, "BadRequest_PropertyNotFound", f"Could not find a property named '{sorted(unknown)[0]}'.")
        customer = self.documents.customer(body)
        amount = cents(body.get("amount"))
        if (self.sign == "negative" and amount > 0) or (self.sign == "positive" and amount < 0):
            raise ODataError(400, "Application_FieldValidationException",
                             f'The "amount" should be a {self.sign} number.')
        invoice = None
        if body.get("appliesToInvoiceId") or body.get("appliesToInvoiceNumber"):
            invoices = self.store.all("salesInvoices")
            invoice = next((i for i in invoices if i["id"] == body.get("appliesToInvoiceId")
                            or (body.get("appliesToInvoiceNumber") and i["number"] == body["appliesToInvoiceNumber"])),
                           None)
            if invoice is None or invoice["status"] not in ("Open", "Paid") or invoice["customerId"] != customer["id"]:
                raise dialog("The invoice to apply the payment to is not an open posted invoice of this customer.")
        record_id = str(body.get("id") or uuid.uuid4())
        if self.store.get("customerPayments", record_id) is not None:
            raise ODataError(400, "Internal_EntityWithSameKeyExists",
                             f"The record in table Gen. Journal Line already exists. Identification fields and values: "
                             f"Id='{record_id}'")
        line = {"id": record_id, "journalId": journal["id"], "journalDisplayName": journal["code"],
                "lineNumber": body.get("lineNumber") or 10000 * (len(self.lines(journal["id"])) + 1),
                "customerId": customer["id"], "customerNumber": customer["number"],
                "postingDate": body.get("postingDate") or self.stamp()[:10],
                "documentNumber": body.get("documentNumber") or "", "externalDocumentNumber":
                body.get("externalDocumentNumber") or "", "amount": float(amount),
                "appliesToInvoiceId": invoice["id"] if invoice else "00000000-0000-0000-0000-000000000000",
                "appliesToInvoiceNumber": invoice["number"] if invoice else "", "description": body.get("description") or "",
                "comment": body.get("comment") or ""}
        return self.documents.touch("customerPayments", line)

    def post_journal(self, journal: dict[str, Any]) -> None:
        lines = self.lines(journal["id"])
        if not lines:
            raise dialog("There is nothing to post.")
        for line in lines:
            self.documents.check_posting_date(line["postingDate"])
        for line in lines:
            amount = abs(cents(line["amount"]))
            applied = Decimal(0)
            if line["appliesToInvoiceNumber"]:
                invoice = self.store.get("salesInvoices", line["appliesToInvoiceId"])
                applied = min(amount, cents(invoice["remainingAmount"]))
                invoice["remainingAmount"] = float(cents(invoice["remainingAmount"]) - applied)
                if cents(invoice["remainingAmount"]) == 0:
                    invoice["status"] = "Paid"
                invoice.setdefault("_applied", []).append([line["id"], float(applied)])
                self.documents.touch("salesInvoices", invoice)
            entry = {"id": str(uuid.uuid4()), "entryNumber": self.store.next_value("G/L Entry"),
                     "postingDate": line["postingDate"], "documentNumber": line["documentNumber"],
                     "documentType": "Payment", "accountId": RECEIVABLES["id"], "accountNumber": RECEIVABLES["number"],
                     "description": line["description"] or f"Payment {line['documentNumber']}",
                     "debitAmount": 0, "creditAmount": float(amount),
                     # the emulator's own bookkeeping (not on the wire): whose, applied where, what is left
                     "_customerId": line["customerId"], "_appliesTo": line["appliesToInvoiceNumber"],
                     "_unapplied": float(amount - applied)}
            self.documents.touch("generalLedgerEntries", entry)
            self.store.remove("customerPayments", line["id"])
