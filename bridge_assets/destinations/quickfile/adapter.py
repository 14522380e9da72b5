"""QuickFile as a destination: invoices by `Invoice_Create` (a change is the same call with the InvoiceID,
which replaces the data), clients by `Client_Search` / `Client_Create` (the source's customer number as
`AccountReference`).

Declared (`capabilities`) and left to a person with the sentence: voids (QuickFile's API can only delete an
invoice, which leaves no trace; a void is a Void credit note raised in QuickFile), credit notes and
payments (not sent by the bridge), reading the books back (v1.2 search has no modified-since filter). No
idempotency key and no lock date: an interrupted create is found by its invoice number, and the closing
date is BRIDGE_BOOKS_CLOSED_THROUGH. Settings are read in `from_env` only.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Mapping, Sequence

from bridge_assets.destinations.base import Action, Capabilities, Outcome, PostRequest, Status
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit import small_ledger
from bridge_assets.destinations.kit.run_files import doc_label
from bridge_assets.destinations.kit.small_ledger import SmallLedgerDestination, settings_text
from bridge_assets.destinations.quickfile import payloads
from bridge_assets.destinations.quickfile.client import (QUICKFILE_URL, QuickFileClient, QuickFileRefused,
                                                         QuickFileUnavailable)
from bridge_assets.model.document import AccountingDocument, canonical_dict


class QuickFileDestination(SmallLedgerDestination):
    name, platform = "quickfile", "QuickFile"
    capabilities = Capabilities(supports_update=True, supports_void=False, honours_request_id=False, batch_size=5,
                                reads_back=False, links_payments=False, restores=True)
    by_hand_sentences = {
        "void": ("{label} was cancelled at the source; the bridge does not delete invoices in QuickFile "
                 "(deleting leaves no trace): open invoice {doc_number} in QuickFile and raise a credit note "
                 "of type Void against it by hand."),
        "credit_memo": ("{label}: the bridge does not send credit notes to QuickFile; raise it in QuickFile by hand "
                        "(Sales > the invoice it credits > Credit note)."),
        "payment": ("{label}: the bridge does not send payments to QuickFile; record it in QuickFile by hand "
                    "(Sales > the invoice(s) it pays > Log a payment)."),
    }

    def __init__(self, client: QuickFileClient, *, nominal_code: str = "4000", closed_through: dt.date | None = None):
        self.client, self.nominal_code, self.closed_through = client, nominal_code, closed_through
        self._clients: dict[str, int] = {}
        self._written = 0

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "QuickFileDestination":
        """The one place QuickFile's settings are read (QUICKFILE_* variables; README)."""
        text = settings_text(os.environ if environ is None else environ)
        small_ledger.require(text, ("QUICKFILE_ACCOUNT_NUMBER", "QUICKFILE_API_KEY", "QUICKFILE_APPLICATION_ID"),
                             platform="QuickFile", where="find them in QuickFile under Account settings > 3rd Party "
                                                         "Integrations > API (create an app for the ID)")
        limits = small_ledger.numbers(
            lambda: Limits(requests_per_day=int(text("QUICKFILE_CALLS_PER_DAY", "1000")), concurrent_requests=1,
                           time_scale=float(text("QUICKFILE_TIME_SCALE", "1"))),
            "QUICKFILE_CALLS_PER_DAY and QUICKFILE_TIME_SCALE must be numbers")
        client = QuickFileClient(text("QUICKFILE_BASE_URL", QUICKFILE_URL), text("QUICKFILE_ACCOUNT_NUMBER"),
                                 text("QUICKFILE_API_KEY"), text("QUICKFILE_APPLICATION_ID"), limits)
        return cls(client, nominal_code=text("QUICKFILE_NOMINAL_CODE", "4000"),
                   closed_through=getattr(settings, "books_closed_through", None))

    def book(self) -> str:
        return f"account {self.client.account_number}"

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        return {d.doc_key: self._name_problem(d) for d in documents if self._name_problem(d)}

    @staticmethod
    def _name_problem(document: AccountingDocument) -> str | None:
        name = document.customer_name.strip()
        if not 1 <= len(name) <= 100:
            return (f"{doc_label(document)}: QuickFile's client name takes 1 to 100 characters, not {len(name)}; "
                    f"correct the customer's name in the source.")
        return None

    # --- posting ------------------------------------------------------------------------------------

    def _post_one(self, request: PostRequest) -> Outcome:
        document, action = request.document, getattr(request.action, "value", request.action)
        turned_away = self.turned_away(request, request.previous)
        if turned_away is not None:
            return turned_away
        problem = self._name_problem(document) or (None if document.lines else
                                                   f"{doc_label(document)} has no lines; QuickFile needs at least one.")
        if problem:
            return Outcome(Status.FAILED, error_code="invalid_reference", message=problem)
        try:
            client_id = self._client(document)
            if action == Action.UPDATE.value:
                return self._update(request, client_id)
            return self._create(request, client_id)
        except QuickFileUnavailable as gone:
            return self.unavailable(document, gone)
        except QuickFileRefused as refused:
            return Outcome(Status.FAILED, error_code=f"quickfile_{refused.status}", http_status=refused.status,
                           message=f"{doc_label(document)}: {refused}. Correct it in the source (or in QuickFile), "
                                   f"then run again.")

    def _client(self, document: AccountingDocument) -> int:
        key = document.customer_key
        if key not in self._clients:
            found = self.client.call("Client_Search", {"SearchParameters": {
                "ReturnCount": 1, "Offset": 0, "OrderResultsBy": "CompanyName", "OrderDirection": "ASC",
                "AccountReference": key}}).get("Record") or []
            if found:
                self._clients[key] = int(found[0]["ClientID"])
            else:
                created = self.client.call("Client_Create", {"ClientDetails": {
                    "CompanyName": document.customer_name.strip(), "AccountReference": key}})
                self._clients[key] = int(created["ClientID"])
        return self._clients[key]

    def _create(self, request: PostRequest, client_id: int) -> Outcome:
        document = request.document
        try:
            answer = self.client.call("Invoice_Create", payloads.invoice_data(document, client_id, self.nominal_code))
            invoice_id, number = int(answer["InvoiceID"]), str(answer["InvoiceNumber"])
        except QuickFileRefused as refused:
            if not any("already in use" in e for e in refused.errors):
                raise
            record = self._by_number(document.doc_number)      # a create retried after a lost answer lands here
            if record is None or not payloads.same(record, document, client_id):
                held = f"for {record.get('ClientName')}, total {record.get('GrossAmount')}" if record else "deleted"
                return Outcome(Status.FAILED, error_code="number_in_use", message=(
                    f"{doc_label(document)}: QuickFile already has an invoice numbered {document.doc_number} ({held}) "
                    f"that the bridge did not post; renumber one of them, then run again."))
            invoice_id, number = int(record["InvoiceID"]), str(record["InvoiceNumber"])
        self._written += 1
        return Outcome(Status.CREATED, dest_id=str(invoice_id), dest_doc_number=number, before=request.previous,
                       after=canonical_dict(document))

    def _update(self, request: PostRequest, client_id: int) -> Outcome:
        document = request.document
        try:
            answer = self.client.call("Invoice_Create", payloads.invoice_data(document, client_id, self.nominal_code,
                                                                              int(request.dest_id or 0)))
        except QuickFileRefused as refused:
            if not any("payments allocated" in e for e in refused.errors):
                raise
            return self.paid_invoice_unchanged(request, "an invoice with payments allocated",
                                               f"invoice {document.doc_number}")
        self._written += 1
        return Outcome(Status.UPDATED, dest_id=str(answer["InvoiceID"]), dest_doc_number=str(answer["InvoiceNumber"]),
                       before=request.previous, after=canonical_dict(document))

    # --- look-up, what QuickFile is not sent, undo -------------------------------------------------------

    def _by_number(self, number: str) -> dict | None:
        records = self.client.call("Invoice_Search", payloads.search(InvoiceType="INVOICE", InvoiceNumber=number))
        return next(iter(records.get("Record") or []), None)

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        if doc_type != "invoice":
            return None
        record = self._by_number(doc_number)
        if record is None:
            return None
        return Outcome(Status.CREATED, dest_id=str(record["InvoiceID"]), dest_doc_number=str(record["InvoiceNumber"]),
                       after=payloads.summary(record))

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        number = f"with QuickFile id {dest_id}"
        try:
            body = self.client.call("Invoice_Get", {"InvoiceID": int(dest_id)})
            number = str(body["InvoiceDetails"]["InvoiceNumber"])
        except (QuickFileUnavailable, QuickFileRefused, KeyError, ValueError):
            pass
        return self.by_hand_outcome("supports_void", "void", doc_type, number, None, None)

    unavailable_errors = (QuickFileUnavailable,)

    def already_restored(self, dest_id: str, document: AccountingDocument) -> tuple | None:
        held = self.client.call("Invoice_Get", {"InvoiceID": int(dest_id)})["InvoiceDetails"]
        if payloads.same(held, document, int(held["ClientID"])) and held.get("Status") != "DELETED":
            return str(held["InvoiceNumber"]), payloads.summary(held), None
        return None
