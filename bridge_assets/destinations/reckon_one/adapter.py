"""Reckon One as a destination: invoices by `POST /invoices` (Reckon numbers them; the bridge's number
travels in `reference`, by which an interrupted create is found), changed by `PUT` (full replacement),
customers found by name or created. Lines are account lines on `RECKON_LEDGER_ACCOUNT` with the source's
tax kept (`taxIsModified`).

Declared (`capabilities`) and left to a person with the sentence: voids (Reckon's API deletes drafts only),
credit notes and receipts (not sent by the bridge), reading the books back (invoices carry no modified time
to read changes by). No lock date: the closing date is BRIDGE_BOOKS_CLOSED_THROUGH. Settings: `from_env`.
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
from bridge_assets.destinations.reckon_one.client import (RECKON_API_URL, RECKON_TOKEN_URL, ReckonClient,
                                                          ReckonRefused, ReckonUnavailable, reckon_provider)
from bridge_assets.model.document import AccountingDocument, canonical_dict, money


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _moment(value: dt.date | dt.datetime) -> str:
    day = value.date() if isinstance(value, dt.datetime) else value
    return f"{day.isoformat()}T00:00:00Z"


class ReckonOneDestination(SmallLedgerDestination):
    name, platform = "reckon_one", "Reckon One"
    capabilities = Capabilities(supports_update=True, supports_void=False, honours_request_id=False, batch_size=5,
                                reads_back=False, links_payments=False, restores=True)
    by_hand_sentences = {
        "void": ("{label} was cancelled at the source, but Reckon One's API can delete only draft invoices "
                 "and has no void: find the invoice with reference {doc_number} in Reckon One and credit or "
                 "delete it by hand."),
        "credit_memo": ("{label}: the bridge does not send credit notes to Reckon One; enter it there by hand (Sales "
                        "> Credit notes) and link it to the invoice it credits."),
        "payment": ("{label}: the bridge does not send receipts to Reckon One; enter it there by hand (Sales > "
                    "Receipts) allocated to the invoice(s) it pays."),
    }

    def __init__(self, client: ReckonClient, *, ledger_account: str = "Sales", tax_code: str = "GST",
                 no_tax_code: str = "NT", closed_through: dt.date | None = None) -> None:
        self.client, self.ledger_account = client, ledger_account
        self.tax_code, self.no_tax_code, self.closed_through = tax_code, no_tax_code, closed_through
        self._customers: dict[str, str] = {}
        self._written = 0

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "ReckonOneDestination":
        """The one place Reckon One's settings are read (RECKON_* variables; README)."""
        text = settings_text(os.environ if environ is None else environ)
        needed = ("RECKON_CLIENT_ID", "RECKON_CLIENT_SECRET", "RECKON_BOOK_ID", "RECKON_SUBSCRIPTION_KEY")
        small_ledger.require(text, needed,
                             platform="Reckon One", where="the app's keys come from developer.reckon.com (approved "
                                                          "apps only), the subscription key from its Profile")
        limits = small_ledger.numbers(
            lambda: Limits(requests_per_minute=int(text("RECKON_REQUESTS_PER_MINUTE", "60")), concurrent_requests=1,
                           time_scale=float(text("RECKON_TIME_SCALE", "1"))),
            "RECKON_REQUESTS_PER_MINUTE and RECKON_TIME_SCALE must be numbers")
        provider = reckon_provider(text("RECKON_TOKEN_URL", RECKON_TOKEN_URL))
        session = small_ledger.oauth_session(provider, text, settings, prefix="RECKON", file_name="reckon_one_tokens.json")
        client = ReckonClient(text("RECKON_API_URL", RECKON_API_URL), text("RECKON_BOOK_ID"), session,
                              text("RECKON_SUBSCRIPTION_KEY"), limits)
        return cls(client, ledger_account=text("RECKON_LEDGER_ACCOUNT", "Sales"), tax_code=text("RECKON_TAX_CODE", "GST"),
                   no_tax_code=text("RECKON_NO_TAX_CODE", "NT"),
                   closed_through=getattr(settings, "books_closed_through", None))

    def book(self) -> str:
        return f"book {self.client.book_id}"

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        return {}      # customers are found by name or created; the ledger account and tax codes are settings

    # --- posting ------------------------------------------------------------------------------------

    def _post_one(self, request: PostRequest) -> Outcome:
        document, action = request.document, getattr(request.action, "value", request.action)
        turned_away = self.turned_away(request)
        if turned_away is not None:
            return turned_away
        if not document.lines:
            return Outcome(Status.FAILED, error_code="no_lines",
                           message=f"{doc_label(document)} has no lines; Reckon One needs at least one.")
        try:
            body = self._invoice_input(document, self._customer(document))
            if action == Action.UPDATE.value:
                self.client.call("PUT", f"/invoices/{request.dest_id}", json=body)
                status = Status.UPDATED
                invoice_id = str(request.dest_id)
            else:
                created = self.client.call("POST", "/invoices", json=body, once=True)
                status, invoice_id = Status.CREATED, str(created.json()["id"])
            held = self.client.call("GET", f"/invoices/{invoice_id}").json()
        except ReckonUnavailable as gone:
            return self.unavailable(document, gone)
        except ReckonRefused as refused:
            if action == Action.UPDATE.value and "paid invoice" in str(refused):
                return self.paid_invoice_unchanged(request, "a paid invoice")
            return Outcome(Status.FAILED, error_code=f"reckon_{refused.status}", http_status=refused.status,
                           message=f"{doc_label(document)}: {refused}. Correct it in the source (or the RECKON_* "
                                   f"settings), then run again.")
        self._written += 1
        return Outcome(status, dest_id=invoice_id, dest_doc_number=held.get("invoiceNumber"), before=request.previous,
                       after={**canonical_dict(document), "reckon": _summary(held)})

    def _customer(self, document: AccountingDocument) -> str:
        name = document.customer_name.strip()
        if name not in self._customers:
            found = self.client.call("GET", "/customers", params={"filter": f"name eq {_quoted(name)}",
                                                                  "perpage": 1}).json()
            if found:
                self._customers[name] = found[0]["id"]
            else:
                created = self.client.call("POST", "/customers", json={"name": name,
                                                                       "reference": document.customer_key})
                self._customers[name] = created.json()["id"]
        return self._customers[name]

    def _invoice_input(self, document: AccountingDocument, customer_id: str) -> dict:
        return {"customer": customer_id, "invoiceDate": _moment(document.txn_date),
                "dueDate": _moment(max(document.due_date or document.txn_date, document.txn_date)),
                "amountTaxStatus": "Exclusive", "reference": document.doc_number, "notes": document.memo or "",
                "lineItems": [{"lineNumber": n, "description": f"{line.item_code} {line.description}".strip(),
                               "accountDetails": {"ledgerAccount": self.ledger_account, "quantity": str(line.qty),
                                                  "amount": str(money(line.amount))},
                               "taxRate": self.tax_code if line.taxable or tax else self.no_tax_code,
                               "taxAmount": str(tax), "taxIsModified": True}
                              for n, (line, tax) in enumerate(small_ledger.lines_with_tax(document), start=1)]}

    # --- look-up, what Reckon is not sent, undo --------------------------------------------------------

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """The invoice whose reference is this number (the bridge's number travels there)."""
        if doc_type != "invoice":
            return None
        found = self.client.call("GET", "/invoices", params={"filter": f"reference eq {_quoted(doc_number)}",
                                                             "perpage": 100}).json()
        if not found:
            return None
        return Outcome(Status.CREATED, dest_id=found[0]["id"], dest_doc_number=found[0].get("invoiceNumber"),
                       after=_summary(found[0]))

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        reference = f"(Reckon id {dest_id})"
        try:
            reference = self.client.call("GET", f"/invoices/{dest_id}").json().get("reference") or reference
        except (ReckonUnavailable, ReckonRefused, ValueError):
            pass
        return self.by_hand_outcome("supports_void", "void", doc_type, reference, None, None)

    unavailable_errors = (ReckonUnavailable,)

    def already_restored(self, dest_id: str, document: AccountingDocument) -> tuple | None:
        held = self.client.call("GET", f"/invoices/{dest_id}").json()
        if money(str(held.get("amount"))) == money(document.total) and held.get("reference") == document.doc_number:
            return held.get("invoiceNumber"), _summary(held), None
        return None


def _summary(invoice: dict) -> dict:
    return {"id": invoice.get("id"), "invoiceNumber": invoice.get("invoiceNumber"), "reference": invoice.get("reference"),
            "status": invoice.get("status"), "amount": str(invoice.get("amount")),
            "customer": (invoice.get("customer") or {}).get("name")}
