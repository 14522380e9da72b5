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

from bridge_assets.destinations.base import (Action, Capabilities, DestinationError, Outcome, PostRequest, Status,
                                             by_hand)
from bridge_assets.destinations.kashflow.client import (KASHFLOW_SERVICE_URL, KashFlowClient, KashFlowNo,
                                                        KashFlowUnavailable)
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.run_files import doc_label, held_outcome, period_is_open
from bridge_assets.model.document import AccountingDocument, canonical_dict, document_from_dict, money


def invoice_number(doc_number: str) -> int | None:
    """The KashFlow number of a source number: a whole number written as KashFlow writes it, else None."""
    return int(doc_number) if doc_number.isdigit() and str(int(doc_number)) == doc_number else None


class KashFlowDestination:
    name = "kashflow"
    capabilities = Capabilities(supports_update=True, supports_void=False, honours_request_id=False, batch_size=5,
                                reads_back=False, links_payments=False, restores=True)

    def __init__(self, client: KashFlowClient, *, charge_type: int = 0, closed_through: dt.date | None = None) -> None:
        self.client, self.charge_type, self.closed_through = client, charge_type, closed_through
        self._customers: dict[str, int] = {}
        self._written = 0

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "KashFlowDestination":
        """The one place KashFlow's settings are read (KASHFLOW_* variables; README)."""
        env = os.environ if environ is None else environ

        def text(name: str, default: str | None = None) -> str | None:
            return (env.get(name) or "").strip() or default

        missing = [n for n in ("KASHFLOW_USERNAME", "KASHFLOW_PASSWORD") if not text(n)]
        if missing:
            raise DestinationError(f"KashFlow is configured as a destination but {' and '.join(missing)} "
                                   f"{'is' if len(missing) == 1 else 'are'} not set; enable the SOAP API in KashFlow "
                                   f"(Apps > API Settings) and use its user name and API password")
        try:
            charge_type = int(text("KASHFLOW_CHARGE_TYPE", "0"))
        except ValueError:
            raise DestinationError("KASHFLOW_CHARGE_TYPE must be the whole-number id of a KashFlow sales type") from None
        client = KashFlowClient(text("KASHFLOW_SERVICE_URL", KASHFLOW_SERVICE_URL), text("KASHFLOW_USERNAME"),
                                text("KASHFLOW_PASSWORD"), Limits(concurrent_requests=1))
        return cls(client, charge_type=charge_type, closed_through=getattr(settings, "books_closed_through", None))

    def close(self) -> None:
        self.client.close()

    def begin_run(self, run_id: str, period: str) -> None:
        self._written = 0

    def end_run(self) -> list[str]:
        written, self._written = self._written, 0
        return [f"KashFlow account {self.client.username} ({written} written)"] if written else []

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

    def is_period_open(self, txn_date) -> bool:
        return period_is_open(txn_date, self.closed_through)

    def book_close_date(self) -> dt.date | None:
        return self.closed_through

    # --- posting ------------------------------------------------------------------------------------

    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        if len(requests) > self.capabilities.batch_size:
            raise ValueError(f"at most {self.capabilities.batch_size} requests per post, got {len(requests)}")
        return [self._post_one(request) for request in requests]

    def _post_one(self, request: PostRequest) -> Outcome:
        document, action = request.document, getattr(request.action, "value", request.action)
        if document.doc_type != "invoice" or action not in (Action.CREATE.value, Action.UPDATE.value):
            capability = "supports_void" if action == Action.VOID.value else "links_payments"
            return self.by_hand_outcome(capability, action, document.doc_type, document.doc_number, document, None)
        if not self.is_period_open(document.txn_date):
            assert self.closed_through is not None
            return held_outcome(document, self.closed_through, "KashFlow (BRIDGE_BOOKS_CLOSED_THROUGH)")
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
            return Outcome(Status.RETRY, error_code="unavailable", message=f"{doc_label(document)}: {gone}")
        except KashFlowNo as refused:
            if action == Action.UPDATE.value and "has payments" in refused.detail:
                return by_hand("supports_update", f"{doc_label(document)} changed in the source, but KashFlow will not "
                               f"change an invoice with payments: edit it in KashFlow by hand to total "
                               f"{money(document.total)}.", before=request.previous)
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
        lines = sorted(document.lines, key=lambda line: line.line_no)
        taxes = [money(line.tax_amount) for line in lines]
        remainder = money(document.tax_total) - sum(taxes, Decimal("0"))
        if remainder:
            taxes[0] += remainder
        due = max(document.due_date or document.txn_date, document.txn_date)
        return {"InvoiceDBID": 0, "InvoiceNumber": invoice_number(document.doc_number), "InvoiceDate": document.txn_date,
                "DueDate": due, "CustomerID": customer_id, "CustomerReference": document.po_number or document.doc_number,
                "NetAmount": Decimal(0), "VatAmount": Decimal(0), "AmountPaid": Decimal(0),
                "Lines": [{"Quantity": Decimal(line.qty), "Description": f"{line.item_code} {line.description}".strip(),
                           "Rate": Decimal(line.unit_price), "ChargeType": self.charge_type, "VatAmount": tax,
                           "VatRate": (tax / money(line.amount) * 100).quantize(Decimal("0.01"))
                           if tax and line.amount else Decimal(-1 if not line.taxable else 0),
                           "Sort": n, "ProductID": 0} for n, (line, tax) in enumerate(zip(lines, taxes), start=1)]}

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

    def by_hand_outcome(self, capability: str, action: str, doc_type: str, doc_number: str,
                        document: AccountingDocument | None, previous: dict | None) -> Outcome:
        label = doc_label(document) if document is not None else f"{doc_type.replace('_', ' ').capitalize()} {doc_number}"
        if capability == "supports_void":
            return by_hand(capability, f"{label} was cancelled at the source; KashFlow has no void (only deleting, which "
                           f"leaves no trace): open invoice {doc_number} in KashFlow and credit or delete it by hand.")
        if doc_type == "credit_memo":
            return by_hand("links_payments", f"{label}: the bridge does not send credit notes to KashFlow; enter it there "
                           f"by hand (a negative invoice applied to the invoice it credits).")
        return by_hand("links_payments", f"{label}: the bridge does not send payments to KashFlow; record it there by "
                       f"hand on the invoice(s) it pays.")

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        return self.by_hand_outcome("supports_void", "void", doc_type, dest_id, None, None)

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        try:
            document = document_from_dict(before)
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            return Outcome(Status.FAILED, error_code="restore_unreadable", message=(
                f"{doc_type} {dest_id} cannot be restored: the saved state is not a complete document ({error!r}); "
                f"restore it in KashFlow by hand from the ledger's events."))
        found = self.find(doc_type, document.doc_number)
        if found is not None and money(Decimal(found.after["Gross"])) == money(document.total):
            return Outcome(Status.UPDATED, dest_id=dest_id, dest_doc_number=dest_id, before=found.after, after=before,
                           message=f"invoice {document.doc_number} already holds the state it is restored to")
        return self._post_one(PostRequest(Action.UPDATE, document, "", dest_id=dest_id))
