"""BILL (Bill.com) as a destination: invoices by `POST /invoices` (numbered as in the source), changed by
`PATCH`, voided by archiving (`/archive`, idempotent; `/restore` undoes it), read back by `updatedTime`.

Declared (`capabilities`) and left to a person with the sentence: credit memos (BILL applies credit from a
customer's whole balance, not to the invoice a memo names) and payments (not sent by the bridge). No
idempotency key and numbers not unique: a create is never repeated blindly and an interrupted one is found
by its number. No lock date: the closing date is BRIDGE_BOOKS_CLOSED_THROUGH. The source's tax is its own line
(BILL has no field for a tax amount). Settings are read in `from_env` only.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from typing import Any, Mapping, Sequence

from bridge_assets.destinations.base import (Action, BooksDocument, NeutralBooks, Capabilities, Outcome, PostRequest,
                                             Status)
from bridge_assets.destinations.bill_com.client import (BILL_API_URL, BillClient, BillLimits, BillRefused,
                                                        BillUnavailable)
from bridge_assets.destinations.kit import small_ledger
from bridge_assets.destinations.kit.run_files import doc_label
from bridge_assets.destinations.kit.small_ledger import SmallLedgerDestination, settings_text
from bridge_assets.model.document import AccountingDocument, canonical_dict, money


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '\\"') + '"'


def _day(value: dt.date | dt.datetime) -> str:
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


class BillDestination(SmallLedgerDestination):
    name, platform = "bill_com", "BILL"
    capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=False, batch_size=5,
                                reads_back=True, links_payments=False, restores=True)
    by_hand_sentences = {
        "credit_memo": ("{label}: BILL applies credit from a customer's whole balance, not to the invoice a credit "
                        "memo names, so the bridge does not send it; enter the credit memo in BILL by hand and apply "
                        "it to the invoice it credits."),
        "payment": ("{label}: the bridge does not send payments to BILL; record it there by hand (Receivables > "
                    "Record payment) on the invoice(s) it pays."),
    }

    def __init__(self, client: BillClient, *, closed_through: dt.date | None = None) -> None:
        self.client, self.closed_through = client, closed_through
        self._customers: dict[str, str] = {}
        self._written = 0

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "BillDestination":
        """The one place BILL's settings are read (BILL_* variables; README)."""
        text = settings_text(os.environ if environ is None else environ)
        small_ledger.require(text, ("BILL_USERNAME", "BILL_PASSWORD", "BILL_ORGANIZATION_ID", "BILL_DEV_KEY"),
                             platform="BILL", where="the devKey comes from BILL's developer settings, the organization "
                                                    "id (008...) from its company settings")
        limits = small_ledger.numbers(lambda: BillLimits(time_scale=float(text("BILL_TIME_SCALE", "1"))),
                                      "BILL_TIME_SCALE must be a number")
        client = BillClient(text("BILL_API_URL", BILL_API_URL), text("BILL_USERNAME"), text("BILL_PASSWORD"),
                            text("BILL_ORGANIZATION_ID"), text("BILL_DEV_KEY"), limits)
        return cls(client, closed_through=getattr(settings, "books_closed_through", None))

    def book(self) -> str:
        return f"organization {self.client.organization}"

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        return {}      # customers are found by name or created

    # --- posting ------------------------------------------------------------------------------------

    def _post_one(self, request: PostRequest) -> Outcome:
        document, action = request.document, getattr(request.action, "value", request.action)
        if action == Action.VOID.value and request.dest_id:
            return self.void_or_delete(document.doc_type, request.dest_id, request.version)
        turned_away = self.turned_away(request)          # BILL's by-hand sentences are all links_payments
        if turned_away is not None:
            return turned_away
        try:
            body = self._invoice_body(document, self._customer(document))
            if action == Action.UPDATE.value:
                held = self.client.call("PATCH", f"/invoices/{request.dest_id}", json=body)
                status = Status.UPDATED
            else:
                held = self.client.call("POST", "/invoices", json=body, once=True)
                status = Status.CREATED
        except BillUnavailable as gone:
            return self.unavailable(document, gone)
        except BillRefused as refused:
            return Outcome(Status.FAILED, error_code=f"bill_{refused.status}", http_status=refused.status,
                           message=f"{doc_label(document)}: {refused}. Correct it in the source, then run again.")
        self._written += 1
        return Outcome(status, dest_id=held["id"], dest_doc_number=held["invoiceNumber"], version=held["updatedTime"],
                       before=request.previous, after={**canonical_dict(document), "bill": _summary(held)})

    def _customer(self, document: AccountingDocument) -> str:
        name = document.customer_name.strip()
        if name not in self._customers:
            found = self.client.call("GET", "/customers", params={"filters": f"name:eq:{_quoted(name)}", "max": 1})
            if found["results"]:
                self._customers[name] = found["results"][0]["id"]
            else:
                created = self.client.call("POST", "/customers", json={"name": name,
                                                                       "accountNumber": document.customer_key})
                self._customers[name] = created["id"]
        return self._customers[name]

    @staticmethod
    def _invoice_body(document: AccountingDocument, customer_id: str) -> dict:
        lines = [{"quantity": str(line.qty), "price": str(line.unit_price),
                  "description": f"{line.item_code} {line.description}".strip()}
                 for line in sorted(document.lines, key=lambda line: line.line_no)]
        if money(document.tax_total):
            lines.append({"quantity": "1", "price": str(money(document.tax_total)), "description": "Sales tax"})
        if not lines:
            lines = [{"quantity": "1", "price": "0", "description": document.memo or "(no lines)"}]
        return {"customer": {"id": customer_id}, "invoiceNumber": document.doc_number,
                "invoiceDate": _day(document.txn_date),
                "dueDate": _day(max(document.due_date or document.txn_date, document.txn_date)),
                "invoiceLineItems": lines}

    # --- look-up, read back ----------------------------------------------------------------------------

    def _pages(self, filters: str):
        page: str | None = "0"
        while page is not None:
            answer = self.client.call("GET", "/invoices", params={"filters": filters, "max": 100, "page": page})
            yield from answer["results"]
            page = answer.get("nextPage")

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """The live (not archived) invoice with this number."""
        if doc_type != "invoice":
            return None
        held = next(self._pages(f'invoiceNumber:eq:{_quoted(doc_number)},archived:eq:"false"'), None)
        if held is None:
            return None
        return Outcome(Status.CREATED, dest_id=held["id"], dest_doc_number=held["invoiceNumber"],
                       version=held["updatedTime"], after=_summary(held))

    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        stamp = (since or dt.datetime(2000, 1, 1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"
        return [_books_document(held) for held in self._pages(f"updatedTime:gt:{_quoted(stamp)}")]

    def books_view(self) -> NeutralBooks:
        """The neutral store, as `read_back` fills it: the `reconciliation` asset reads it back first."""
        return NeutralBooks(self.client.organization, "BILL", version_label="updatedTime", what_changed=_what_changed)

    # --- what BILL is not sent, undo -----------------------------------------------------------------------

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        """Archive the invoice (BILL's void); one already archived is not written again."""
        try:
            held = self.client.call("GET", f"/invoices/{dest_id}")
            if not held["archived"]:
                held = self.client.call("POST", f"/invoices/{dest_id}/archive")
        except BillUnavailable as gone:
            return Outcome(Status.RETRY, error_code="unavailable", message=str(gone))
        except BillRefused as refused:
            return Outcome(Status.FAILED, error_code=f"bill_{refused.status}", http_status=refused.status,
                           message=f"Invoice {dest_id} could not be archived in BILL: {refused}")
        return Outcome(Status.VOIDED, dest_id=dest_id, dest_doc_number=held["invoiceNumber"],
                       version=held["updatedTime"], after=_summary(held))

    unavailable_errors = (BillUnavailable,)

    def already_restored(self, dest_id: str, document: AccountingDocument) -> tuple | None:
        held = self.client.call("GET", f"/invoices/{dest_id}")
        if not held["archived"] and money(Decimal(str(held["totalAmount"]))) == money(document.total):
            return held["invoiceNumber"], _summary(held), held["updatedTime"]
        return None


def _summary(held: dict) -> dict:
    return {"id": held["id"], "invoiceNumber": held["invoiceNumber"], "customerName": held.get("customerName"),
            "totalAmount": str(held["totalAmount"]), "archived": held["archived"], "updatedTime": held["updatedTime"]}


def _books_document(held: dict) -> BooksDocument:
    changed = dt.datetime.fromisoformat(held["updatedTime"]).astimezone(dt.timezone.utc).replace(tzinfo=None)
    return BooksDocument(doc_type="invoice", doc_number=held["invoiceNumber"], dest_id=held["id"],
                         txn_date=dt.date.fromisoformat(held["invoiceDate"]), customer=held.get("customerName"),
                         total=money(Decimal(str(held["totalAmount"]))), balance=money(Decimal(str(held["dueAmount"]))),
                         status="voided" if held["archived"] else "active", version=held["updatedTime"],
                         changed_at=changed, raw=held)


def _what_changed(sent: dict, held: dict) -> str:
    sent_total, held_total = sent.get("total"), held.get("totalAmount")
    if sent_total is None or held_total is None or money(Decimal(str(sent_total))) == money(Decimal(str(held_total))):
        return ""
    return f"the total was sent as {sent_total} and BILL holds {held_total}"
