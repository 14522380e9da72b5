"""KashFlow as a destination, by its SOAP API: invoices by `InsertInvoice` (numbered as in the source: KashFlow
invoice numbers are whole numbers, unique in the account), changed by `UpdateInvoice` (the whole invoice),
customers by `GetCustomer(Code)` / `InsertCustomer` (the source's customer number as the code). The source's
tax is each line's `VatAmount`, kept as sent.

Declared (`capabilities`) and left to a person with the sentence: voids (KashFlow can only delete an invoice),
credit notes and payments (not sent by the bridge), reading the books back (no invoice modified-since). No
idempotency key and no lock date: an interrupted create is found by its number (`GetInvoice`), the closing date
is BRIDGE_BOOKS_CLOSED_THROUGH. Settings are read in `from_env` only.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from typing import Any, Mapping, Sequence

from bridge_assets.destinations.base import Action, Capabilities, DestinationError, Outcome, PostRequest, Status
from bridge_assets.destinations.kashflow.client import (KASHFLOW_SERVICE_URL, KashFlowClient, KashFlowNo,
                                                        KashFlowUnavailable)
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit import small_ledger
from bridge_assets.destinations.kit.run_files import doc_label
from bridge_assets.destinations.kit.small_ledger import SmallLedgerDestination, settings_text
from bridge_assets.model.document import AccountingDocument, canonical_dict, money


def invoice_number(doc_number: str) -> int | None:
    """The KashFlow number of a source number: a whole number written as KashFlow writes it, else None."""
    return int(doc_number) if doc_number.isdigit() and str(int(doc_number)) == doc_number else None


class KashFlowDestination(SmallLedgerDestination):
    name, platform = "kashflow", "KashFlow"
    capabilities = Capabilities(supports_update=True, supports_void=False, honours_request_id=False, batch_size=5,
                                reads_back=False, links_payments=False, restores=True)
    by_hand_sentences = {
        "void": ("{label} was cancelled at the source; KashFlow has no void (only deleting, which leaves no "
                 "trace): open invoice {doc_number} in KashFlow and credit or delete it by hand."),
        "credit_memo": ("{label}: the bridge does not send credit notes to KashFlow; enter it there by hand (a "
                        "negative invoice applied to the invoice it credits)."),
        "payment": ("{label}: the bridge does not send payments to KashFlow; record it there by hand on the "
                    "invoice(s) it pays."),
    }

    def __init__(self, client: KashFlowClient, *, charge_type: int = 0, closed_through: dt.date | None = None) -> None:
        self.client, self.charge_type, self.closed_through = client, charge_type, closed_through
        self._customers: dict[str, int] = {}
        self._written = 0

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "KashFlowDestination":
        """The one place KashFlow's settings are read (KASHFLOW_* variables; README)."""
        text = settings_text(os.environ if environ is None else environ)
        small_ledger.require(text, ("KASHFLOW_USERNAME", "KASHFLOW_PASSWORD"), platform="KashFlow", joiner=" and ",
                             where="enable the SOAP API in KashFlow (Apps > API Settings) and use its user name and "
                                   "API password")
        try:
            charge_type = int(text("KASHFLOW_CHARGE_TYPE", "0"))
        except ValueError:
            raise DestinationError("KASHFLOW_CHARGE_TYPE must be the whole-number id of a KashFlow sales type") from None
        client = KashFlowClient(text("KASHFLOW_SERVICE_URL", KASHFLOW_SERVICE_URL), text("KASHFLOW_USERNAME"),
                                text("KASHFLOW_PASSWORD"), Limits(concurrent_requests=1))
        return cls(client, charge_type=charge_type, closed_through=getattr(settings, "books_closed_through", None))

    def book(self) -> str:
        return f"account {self.client.username}"

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        return {d.doc_key: self._number_problem(d) for d in documents if self._number_problem(d)}

    @staticmethod
    def _number_problem(document: AccountingDocument) -> str | None:
        if invoice_number(document.doc_number) is None:
            return (f"{doc_label(document)}: KashFlow invoice numbers are whole numbers without leading zeros, so "
                    f"{document.doc_number!r} cannot be posted as it is; number it so in the source (or drop the "
                    f"prefix, e.g. BRIDGE_SERVICETRADE_DOC_PREFIX), or enter it in KashFlow by hand.")
        if len(document.customer_key.strip()) > 20 or not document.customer_key.strip():
            return (f"{doc_label(document)}: KashFlow customer codes take 1 to 20 characters, not "
                    f"{document.customer_key!r}; shorten the customer number in the source.")
        return None

    # --- posting ------------------------------------------------------------------------------------

    def _post_one(self, request: PostRequest) -> Outcome:
        document, action = request.document, getattr(request.action, "value", request.action)
        turned_away = self.turned_away(request)
        if turned_away is not None:
            return turned_away
        problem = self._number_problem(document) or (None if document.lines else
                                                     f"{doc_label(document)} has no lines; KashFlow needs at least one.")
        if problem:
            return Outcome(Status.FAILED, error_code="invalid_reference", message=problem)
        try:
            inv = self._invoice(document, self._customer(document))
            if action == Action.UPDATE.value:
                self.client.call("UpdateInvoice", Inv=inv)
                status = Status.UPDATED
            else:
                status = self._insert(document, inv)
        except KashFlowUnavailable as gone:
            return self.unavailable(document, gone)
        except KashFlowNo as refused:
            if action == Action.UPDATE.value and "has payments" in refused.detail:
                return self.paid_invoice_unchanged(request, "an invoice with payments")
            return Outcome(Status.FAILED, error_code="kashflow_refused",
                           message=f"{doc_label(document)}: {refused}. Correct it in the source, then run again.")
        if isinstance(status, Outcome):
            return status
        self._written += 1
        return Outcome(status, dest_id=document.doc_number, dest_doc_number=document.doc_number,
                       before=request.previous, after=canonical_dict(document))

    def _insert(self, document: AccountingDocument, inv: dict) -> Status | Outcome:
        try:
            self.client.call("InsertInvoice", Inv=inv)
        except KashFlowNo as refused:
            if "already exists" not in refused.detail:
                raise
            held = self.client.call("GetInvoice", InvoiceNumber=inv["InvoiceNumber"])
            gross = money(Decimal(held["NetAmount"]) + Decimal(held["VatAmount"]))
            if int(held["CustomerID"]) != inv["CustomerID"] or gross != money(document.total):
                return Outcome(Status.FAILED, error_code="number_in_use", message=(
                    f"{doc_label(document)}: KashFlow already has invoice {document.doc_number} (total {gross}) that "
                    f"the bridge did not post; renumber one of them, then run again."))
        return Status.CREATED               # a create whose answer was lost before is recognised, not made twice

    def _customer(self, document: AccountingDocument) -> int:
        code = document.customer_key.strip()
        if code not in self._customers:
            try:
                self._customers[code] = int(self.client.call("GetCustomer", CustomerCode=code)["CustomerID"])
            except KashFlowNo:
                self._customers[code] = int(self.client.call("InsertCustomer", custr={
                    "CustomerID": 0, "Code": code, "Name": document.customer_name.strip()}))
        return self._customers[code]

    def _invoice(self, document: AccountingDocument, customer_id: int) -> dict:
        due = max(document.due_date or document.txn_date, document.txn_date)
        return {"InvoiceDBID": 0, "InvoiceNumber": invoice_number(document.doc_number), "InvoiceDate": document.txn_date,
                "DueDate": due, "CustomerID": customer_id, "CustomerReference": document.po_number or document.doc_number,
                "NetAmount": Decimal(0), "VatAmount": Decimal(0), "AmountPaid": Decimal(0),
                "Lines": [{"Quantity": Decimal(line.qty), "Description": f"{line.item_code} {line.description}".strip(),
                           "Rate": Decimal(line.unit_price), "ChargeType": self.charge_type, "VatAmount": tax,
                           "VatRate": (tax / money(line.amount) * 100).quantize(Decimal("0.01"))
                           if tax and line.amount else Decimal(-1 if not line.taxable else 0),
                           "Sort": n, "ProductID": 0}
                          for n, (line, tax) in enumerate(small_ledger.lines_with_tax(document), start=1)]}

    # --- look-up, what KashFlow is not sent, undo --------------------------------------------------------

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        number = invoice_number(doc_number)
        if doc_type != "invoice" or number is None:
            return None
        try:
            held = self.client.call("GetInvoice", InvoiceNumber=number)
        except KashFlowNo:
            return None
        return Outcome(Status.CREATED, dest_id=doc_number, dest_doc_number=doc_number,
                       after={"InvoiceNumber": doc_number, "CustomerID": held["CustomerID"],
                              "Gross": str(money(Decimal(held["NetAmount"]) + Decimal(held["VatAmount"])))})

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        return self.by_hand_outcome("supports_void", "void", doc_type, dest_id, None, None)

    def already_restored(self, dest_id: str, document: AccountingDocument) -> tuple | None:
        found = self.find(document.doc_type, document.doc_number)
        if found is not None and money(Decimal(found.after["Gross"])) == money(document.total):
            return dest_id, found.after, None
        return None
