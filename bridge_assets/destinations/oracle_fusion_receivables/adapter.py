"""Oracle Fusion Cloud Financials Receivables (REST): the destination where a completed invoice changes only its
status, terms and date.

- invoices and credit memos are created Complete with their lines, our number as `TransactionNumber` (the
  transaction source numbers manually), after a look-up by that number (no idempotency key);
- an update is the only correction this API allows: the completed invoice is made Incomplete (out of the books)
  and deleted, and a new one with our number is created Complete; the ledger keeps both (before / after);
- a void makes it Incomplete: it stays in Oracle, out of the books, and reads back as voided;
- credit memos are on account: this API cannot apply one to an invoice, so the outcome says to apply it in
  Oracle; payments are standard receipts applied to each invoice's installment (`applyReceipt`), corrected or
  voided by `reverseReceipt`;
- customers are not created (they are accounts made in Oracle); the closing date is configured
  (BRIDGE_BOOKS_CLOSED_THROUGH): this API has no resource to read AR period statuses.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping

import httpx

from bridge_assets.destinations.base import (
    Action, BooksDocument, Capabilities, DestinationError, NeutralBooks, Outcome, PostRequest, Status, by_hand,
)
from bridge_assets.destinations.kit.erp import ErpDestination, ErpEnvironment, document_label, not_sent
from bridge_assets.destinations.oracle_fusion_receivables.client import ArClient, ArRefused, ArUnavailable
from bridge_assets.model.document import AccountingDocument, money

RESOURCE = {"invoice": "receivablesInvoices", "credit_memo": "receivablesCreditMemos", "payment": "standardReceipts"}
LINES = {"receivablesInvoices": "receivablesInvoiceLines", "receivablesCreditMemos": "receivablesCreditMemoLines"}
LABEL = {"invoice": "Invoice", "credit_memo": "Credit memo", "payment": "Payment"}
BATCH_SIZE = 20


def literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def decimal(value: Any) -> Decimal:
    return money(Decimal(str(value or 0)))


class OracleReceivablesDestination(ErpDestination):
    name = "oracle_fusion_receivables"

    def __init__(self, *, url: str, user: str, password: str, business_unit: str, transaction_source: str = "Manual-NES",
                 receipt_method: str = "Manual", remittance_account: str = "", closed_through: dt.date | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not (url and user and password and business_unit):
            raise DestinationError("Oracle Fusion Receivables needs ORACLE_URL, ORACLE_USERNAME, ORACLE_PASSWORD and "
                                   "ORACLE_BUSINESS_UNIT")
        self.client = ArClient(url, user, password, transport=transport)
        self.book = f"{url.rstrip('/')}#{business_unit}"
        self.business_unit, self.source = business_unit, transaction_source
        self.receipt_method, self.remittance_account = receipt_method, remittance_account
        self.closed_through = closed_through
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=False,
                                         batch_size=BATCH_SIZE, reads_back=True, restores=False, applies_credits=False)
        self._written = 0

    def __repr__(self) -> str:
        return f"OracleReceivablesDestination(book={self.book!r})"

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "OracleReceivablesDestination":
        env = ErpEnvironment("Oracle Fusion Receivables", environ)
        env.require("ORACLE_URL", "ORACLE_USERNAME", "ORACLE_PASSWORD", "ORACLE_BUSINESS_UNIT")
        text = env.text
        return cls(url=text("ORACLE_URL"), user=text("ORACLE_USERNAME"), password=text("ORACLE_PASSWORD"),
                   business_unit=text("ORACLE_BUSINESS_UNIT"),
                   transaction_source=text("ORACLE_TRANSACTION_SOURCE", "Manual-NES"),
                   receipt_method=text("ORACLE_RECEIPT_METHOD", "Manual"),
                   remittance_account=text("ORACLE_REMITTANCE_BANK_ACCOUNT", ""),
                   closed_through=getattr(settings, "books_closed_through", None))

    def run_label(self) -> str:
        return f"Oracle Fusion Receivables {self.book}"

    def resolve_references(self, documents) -> dict[str, str]:
        return {}          # customer accounts are Oracle's own; a missing one is refused with a sentence on post

    def book_close_date(self) -> dt.date | None:
        return self.closed_through

    def is_period_open(self, txn_date) -> bool:
        return self.closed_through is None or txn_date > self.closed_through

    # --- post -------------------------------------------------------------------------------------

    def _post_one(self, request: PostRequest) -> Outcome:
        document = request.document
        label = document_label(document, LABEL)
        if document.doc_type not in RESOURCE or Action(request.action) not in (Action.CREATE, Action.UPDATE):
            return not_sent(request, label, "Oracle")
        try:
            if document.doc_type == "payment":
                return self._receipt(request, label)
            return self._transaction(request, label)
        except ArRefused as error:
            if error.code == "AR_GL_DATE_CLOSED":
                return Outcome(Status.HELD, error_code="period_closed",
                               message=f"{label}: dated {document.txn_date:%m/%d/%Y}, in a closed Receivables period; it is "
                                       f"held and posts once the period is reopened")
            if error.code == "AR_BILL_TO_CUST_NOT_FOUND":
                return Outcome(Status.FAILED, error_code=error.code,
                               message=f"{label}: Oracle has no customer account {document.customer_key} "
                                       f"({document.customer_name}); create the account in Oracle (Receivables > "
                                       f"Customers) with that number, then run again. Nothing was sent.")
            return Outcome(Status.FAILED, error_code=error.code, http_status=error.status,
                           message=f"{label}: Oracle refused {error.call}: {error.detail} ({error.code}).")
        except ArUnavailable as failure:
            return Outcome(Status.RETRY, error_code="unavailable", http_status=failure.http_status,
                           message=f"{label}: {failure}; whether it reached Oracle is unknown, so it is looked up before "
                                   f"anything is sent again on the next run")

    def _body(self, document: AccountingDocument) -> dict[str, Any]:
        resource = RESOURCE[document.doc_type]
        lines = [{"LineNumber": n + 1, "Description": (l.description or l.item_code)[:240], "Quantity": float(l.qty),
                  "UnitSellingPrice": float(l.unit_price)}
                 for n, l in enumerate(sorted(document.lines, key=lambda l: l.line_no))]
        if money(document.tax_total) != 0:
            lines.append({"LineNumber": len(lines) + 1, "Description": "Sales tax (as billed at the source)",
                          "Quantity": 1.0, "UnitSellingPrice": float(money(document.tax_total))})
        return {"TransactionNumber": document.doc_number, "TransactionDate": document.txn_date.isoformat(),
                "AccountingDate": document.txn_date.isoformat(), "BillToCustomerNumber": document.customer_key,
                "BusinessUnit": self.business_unit, "TransactionSource": self.source,
                "TransactionType": "Invoice" if resource == "receivablesInvoices" else "Credit Memo",
                "DueDate": (document.due_date or document.txn_date).isoformat(), "InvoiceCurrencyCode": document.currency,
                "InvoiceStatus": "Complete", LINES[resource]: lines}

    @staticmethod
    def _differs(body: dict[str, Any], record: dict[str, Any], lines_key: str) -> bool:
        key = lambda l: (str(l.get("Description")), decimal(l.get("Quantity")), Decimal(str(l.get("UnitSellingPrice"))).normalize())
        return (record.get("BillToCustomerNumber") != body["BillToCustomerNumber"]
                or str(record.get("TransactionDate"))[:10] != body["TransactionDate"]
                or sorted(map(key, record.get(lines_key) or [])) != sorted(map(key, body[lines_key])))

    def _by_number(self, resource: str, number: str) -> list[dict[str, Any]]:
        return self.client.items(resource, f"TransactionNumber={literal(number)};BusinessUnit={literal(self.business_unit)}")

    def _transaction(self, request: PostRequest, label: str) -> Outcome:
        document, resource = request.document, RESOURCE[request.document.doc_type]
        body, lines_key = self._body(document), LINES[resource]
        before = None
        if request.action == Action.UPDATE and request.dest_id:
            current = self.client.call("GET", f"{resource}/{request.dest_id}", missing_ok=True)
            if current and current["InvoiceStatus"] == "Complete" and not self._differs(body, current, lines_key):
                return self._done(Status.UPDATED, current, before=request.previous or current,
                                  note=f"{label}: Oracle already holds this version, so nothing was sent")
            before = current or request.previous
        found = self._by_number(resource, document.doc_number)
        complete = [r for r in found if r["InvoiceStatus"] == "Complete"]
        same = [r for r in complete if not self._differs(body, r, lines_key)]
        if same:
            record, note = same[0], f"{label}: it was already in Oracle, so nothing was sent"
        else:
            for record in found:     # our earlier version (completed or voided): out of the books, then deleted
                if before is None and record["InvoiceStatus"] == "Complete":
                    return Outcome(Status.FAILED, error_code="number_taken",
                                   message=f"{label}: Oracle already has transaction number {document.doc_number} "
                                           f"({record['BillToCustomerName']}, {decimal(record['EnteredAmount'])}) with other "
                                           f"content; correct or delete it there if it is this document. Nothing was sent.")
                if record["InvoiceStatus"] == "Complete":
                    self.client.call("PATCH", f"{resource}/{record['CustomerTransactionId']}",
                                     json={"InvoiceStatus": "Incomplete"})
                self.client.call("DELETE", f"{resource}/{record['CustomerTransactionId']}")
            record, note = self.client.call("POST", resource, json=body), None
        if document.doc_type == "credit_memo" and document.applies_to:
            applies = ", ".join(a.doc_number for a in document.applies_to)
            note = (f"{label}: created on account; Oracle's REST API cannot apply a credit memo to an invoice, so apply "
                    f"it to invoice {applies} in Oracle (Manage Transactions > Apply)")
        if before is not None:
            correction = {"deleted": before.get("TransactionNumber"), "deleted_id": before.get("CustomerTransactionId")}
            return self._done(Status.UPDATED, record, before=before, after={**record, "correction": correction},
                              note=note or f"{label}: Oracle lets a completed transaction change only its status, terms "
                                           f"and date, so the earlier version was made incomplete, deleted and re-issued")
        return self._done(Status.CREATED, record, note=note)

    # --- receipts ---------------------------------------------------------------------------------

    def _receipts(self, document: AccountingDocument) -> list[dict[str, Any]]:
        found = self.client.items("standardReceipts", f"ReceiptNumber={literal(document.doc_number)};"
                                                      f"CustomerAccountNumber={literal(document.customer_key)}")
        return [r for r in found if r["Status"] != "Reversed"]

    def _receipt(self, request: PostRequest, label: str) -> Outcome:
        document = request.document
        live = self._receipts(document)
        status = Status.UPDATED if request.action == Action.UPDATE else Status.CREATED
        if live and (decimal(live[0]["Amount"]) != money(document.total)
                     or str(live[0]["ReceiptDate"])[:10] != document.txn_date.isoformat()):
            self.client.call("POST", f"standardReceipts/{live[0]['StandardReceiptId']}/action/reverseReceipt", json={})
            live = []
        receipt = live[0] if live else self.client.call("POST", "standardReceipts", json={
            "ReceiptNumber": document.doc_number, "ReceiptMethod": self.receipt_method, "BusinessUnit": self.business_unit,
            "Amount": str(money(document.total)), "Currency": document.currency, "ReceiptDate": document.txn_date.isoformat(),
            "AccountingDate": document.txn_date.isoformat(), "CustomerAccountNumber": document.customer_key,
            "RemittanceBankAccountNumber": self.remittance_account})
        applied = decimal(receipt["Amount"]) - decimal(receipt["UnappliedAmount"])
        for application in document.applies_to:      # in order: a prefix applied by an interrupted run is skipped
            invoices = [r for r in self._by_number("receivablesInvoices", application.doc_number)
                        if r["InvoiceStatus"] == "Complete"]
            if not invoices:
                return Outcome(Status.FAILED, error_code="invoice_not_posted",
                               message=f"{label}: it pays invoice {application.doc_number}, which is not in Oracle yet; "
                                       f"the receipt is there and is applied on the next run")
            amount = money(application.amount)
            if applied >= amount:
                applied -= amount
                continue
            schedule = self.client.call("GET", f"receivablesInvoices/{invoices[0]['CustomerTransactionId']}/child/"
                                               f"receivablesInvoiceInstallments")["items"][0]
            amount = min(amount - applied, decimal(schedule["InstallmentBalanceDue"]))
            applied = Decimal(0)
            if amount > 0:
                receipt = self.client.call("POST", f"standardReceipts/{receipt['StandardReceiptId']}/action/applyReceipt",
                                           json={"appliedPaymentScheduleId": schedule["InstallmentId"],
                                                 "amountApplied": str(amount)})["result"]
        return Outcome(status, dest_id=str(receipt["StandardReceiptId"]), dest_doc_number=str(receipt["ReceiptNumber"]),
                       version=str(receipt.get("LastUpdateDate") or ""), http_status=201, after=receipt)

    def _done(self, status: Status, record: dict[str, Any], *, before: dict | None = None, after: dict | None = None,
              note: str | None = None) -> Outcome:
        return Outcome(status, dest_id=str(record["CustomerTransactionId"]), dest_doc_number=str(record["TransactionNumber"]),
                       version=str(record.get("LastUpdateDate") or ""), http_status=201, message=note,
                       before=before if status is Status.UPDATED else None, after=after or record)

    # --- look-up, undo, read back -----------------------------------------------------------------

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        try:
            if doc_type == "payment":
                return None           # a receipt's applications are finished by post(), which looks it up first
            found = [r for r in self._by_number(RESOURCE[doc_type], doc_number) if r["InvoiceStatus"] == "Complete"]
        except (ArRefused, ArUnavailable):
            return None
        if not found:
            return None
        outcome = self._done(Status.CREATED, found[-1])
        return Outcome(outcome.status, dest_id=outcome.dest_id, dest_doc_number=outcome.dest_doc_number,
                       version=outcome.version, http_status=200, after={**found[-1], "content_hash": ""})

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        resource, what = RESOURCE[doc_type], f"{LABEL[doc_type]} id {dest_id} in Oracle"
        try:
            current = self.client.call("GET", f"{resource}/{dest_id}", missing_ok=True)
            if current is None:
                return Outcome(Status.VOIDED, dest_id=dest_id, message=f"{what} does not exist any more")
            if doc_type == "payment":
                if current["Status"] != "Reversed":
                    current = self.client.call("POST", f"standardReceipts/{dest_id}/action/reverseReceipt", json={})["result"]
                return Outcome(Status.VOIDED, dest_id=dest_id, after=current)
            if current["InvoiceStatus"] == "Incomplete":
                return Outcome(Status.VOIDED, dest_id=dest_id, before=current, after=current,
                               message=f"{what} ({current['TransactionNumber']}) is already incomplete")
            after = self.client.call("PATCH", f"{resource}/{dest_id}", json={"InvoiceStatus": "Incomplete"})
            return Outcome(Status.VOIDED, dest_id=dest_id, dest_doc_number=current["TransactionNumber"],
                           version=str(after.get("LastUpdateDate") or ""), before=current, after=after)
        except ArRefused as error:
            if error.code == "AR_GL_DATE_CLOSED":
                return Outcome(Status.HELD, dest_id=dest_id, error_code="period_closed",
                               message=f"{what}: its period is closed; the void waits until it is reopened")
            return Outcome(Status.FAILED, dest_id=dest_id, error_code=error.code,
                           message=f"{what}: Oracle refused the void: {error.detail} ({error.code})")
        except ArUnavailable as failure:
            return Outcome(Status.RETRY, dest_id=dest_id, error_code="unavailable", http_status=failure.http_status,
                           message=f"{what}: {failure}; the void is asked again (it is recognised if done)")

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        return self.by_hand_outcome("restores", "restore", doc_type, (before or {}).get("TransactionNumber") or dest_id,
                                    previous=before)

    def by_hand_outcome(self, capability: str, action: str, doc_type: str, doc_number: str, document=None,
                        previous: dict | None = None) -> Outcome:
        return by_hand(capability, f"{LABEL.get(doc_type, doc_type)} {doc_number}: Oracle cannot {action} it through its "
                                   f"REST API (a completed transaction changes only its status, terms and date); enter "
                                   f"the earlier version in Oracle by hand (total {(previous or {}).get('EnteredAmount')}).")

    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        q = None if since is None else f"LastUpdateDate>={literal(since.strftime('%Y-%m-%dT%H:%M:%S'))}"
        out = []
        for doc_type, resource in RESOURCE.items():
            for r in self.client.items(resource, q):
                payment = resource == "standardReceipts"
                number = r.get("ReceiptNumber") if payment else r.get("TransactionNumber")
                day = str(r.get("ReceiptDate") if payment else r.get("TransactionDate"))[:10]
                voided = r.get("Status") == "Reversed" if payment else r.get("InvoiceStatus") != "Complete"
                changed = dt.datetime.fromisoformat(str(r["LastUpdateDate"])).astimezone(dt.timezone.utc).replace(tzinfo=None)
                out.append(BooksDocument(
                    doc_type=doc_type, doc_number=str(number) if number else None,
                    dest_id=str(r["StandardReceiptId" if payment else "CustomerTransactionId"]),
                    txn_date=dt.date.fromisoformat(day), customer=None if payment else r.get("BillToCustomerName"),
                    total=abs(decimal(r["Amount" if payment else "EnteredAmount"])),
                    balance=decimal(r["UnappliedAmount" if payment else "InvoiceBalanceAmount"]),
                    status="voided" if voided else "active", version=str(r.get("LastUpdateDate") or ""),
                    changed_at=changed, raw=r))
        return out

    def books_view(self) -> NeutralBooks:
        return NeutralBooks(self.book, "Oracle Fusion Receivables", version_label="LastUpdateDate")
