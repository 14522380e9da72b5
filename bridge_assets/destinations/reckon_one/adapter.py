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
from pathlib import Path
from typing import Any, Mapping, Sequence

from bridge_assets.destinations.base import (Action, Capabilities, DestinationError, Outcome, PostRequest, Status,
                                             by_hand)
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.oauth import OAuthSession, TokenStore
from bridge_assets.destinations.kit.run_files import doc_label, held_outcome, period_is_open
from bridge_assets.destinations.reckon_one.client import (RECKON_API_URL, RECKON_TOKEN_URL, ReckonClient,
                                                          ReckonRefused, ReckonUnavailable, reckon_provider)
from bridge_assets.model.document import AccountingDocument, canonical_dict, document_from_dict, money


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _moment(value: dt.date | dt.datetime) -> str:
    day = value.date() if isinstance(value, dt.datetime) else value
    return f"{day.isoformat()}T00:00:00Z"


class ReckonOneDestination:
    name = "reckon_one"
    capabilities = Capabilities(supports_update=True, supports_void=False, honours_request_id=False, batch_size=5,
                                reads_back=False, links_payments=False, restores=True)

    def __init__(self, client: ReckonClient, *, ledger_account: str = "Sales", tax_code: str = "GST",
                 no_tax_code: str = "NT", closed_through: dt.date | None = None) -> None:
        self.client, self.ledger_account = client, ledger_account
        self.tax_code, self.no_tax_code, self.closed_through = tax_code, no_tax_code, closed_through
        self._customers: dict[str, str] = {}
        self._written = 0

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "ReckonOneDestination":
        """The one place Reckon One's settings are read (RECKON_* variables; README)."""
        env = os.environ if environ is None else environ

        def text(name: str, default: str | None = None) -> str | None:
            return (env.get(name) or "").strip() or default

        needed = ("RECKON_CLIENT_ID", "RECKON_CLIENT_SECRET", "RECKON_BOOK_ID", "RECKON_SUBSCRIPTION_KEY")
        missing = [n for n in needed if not text(n)]
        if missing:
            raise DestinationError(f"Reckon One is configured as a destination but {', '.join(missing)} "
                                   f"{'is' if len(missing) == 1 else 'are'} not set; the app's keys come from "
                                   f"developer.reckon.com (approved apps only), the subscription key from its Profile")
        try:
            limits = Limits(requests_per_minute=int(text("RECKON_REQUESTS_PER_MINUTE", "60")), concurrent_requests=1,
                            time_scale=float(text("RECKON_TIME_SCALE", "1")))
        except ValueError as error:
            raise DestinationError(f"RECKON_REQUESTS_PER_MINUTE and RECKON_TIME_SCALE must be numbers ({error})") from None
        home = Path(getattr(settings, "home", None) or text("BRIDGE_HOME", "var")).absolute()
        provider = reckon_provider(text("RECKON_TOKEN_URL", RECKON_TOKEN_URL))
        store = TokenStore(text("RECKON_TOKEN_STORE") or home / "secrets" / "reckon_one_tokens.json", provider)
        if text("RECKON_REFRESH_TOKEN"):
            store.seed(text("RECKON_REFRESH_TOKEN"))
        session = OAuthSession(store, provider, text("RECKON_CLIENT_ID"), text("RECKON_CLIENT_SECRET"))
        client = ReckonClient(text("RECKON_API_URL", RECKON_API_URL), text("RECKON_BOOK_ID"), session,
                              text("RECKON_SUBSCRIPTION_KEY"), limits)
        return cls(client, ledger_account=text("RECKON_LEDGER_ACCOUNT", "Sales"), tax_code=text("RECKON_TAX_CODE", "GST"),
                   no_tax_code=text("RECKON_NO_TAX_CODE", "NT"),
                   closed_through=getattr(settings, "books_closed_through", None))

    def close(self) -> None:
        self.client.close()

    def begin_run(self, run_id: str, period: str) -> None:
        self._written = 0

    def end_run(self) -> list[str]:
        written, self._written = self._written, 0
        return [f"Reckon One book {self.client.book_id} ({written} written)"] if written else []

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        return {}      # customers are found by name or created; the ledger account and tax codes are settings

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
            return held_outcome(document, self.closed_through, "Reckon One (BRIDGE_BOOKS_CLOSED_THROUGH)")
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
            return Outcome(Status.RETRY, error_code="unavailable", message=f"{doc_label(document)}: {gone}")
        except ReckonRefused as refused:
            if action == Action.UPDATE.value and "paid invoice" in str(refused):
                return by_hand("supports_update", f"{doc_label(document)} changed in the source, but Reckon One will "
                               f"not change a paid invoice: edit it in Reckon One by hand to total "
                               f"{money(document.total)}.", before=request.previous)
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
        lines = sorted(document.lines, key=lambda line: line.line_no)
        taxes = [money(line.tax_amount) for line in lines]
        remainder = money(document.tax_total) - sum(taxes, money(0))
        if remainder:
            taxes[0] += remainder
        return {"customer": customer_id, "invoiceDate": _moment(document.txn_date),
                "dueDate": _moment(max(document.due_date or document.txn_date, document.txn_date)),
                "amountTaxStatus": "Exclusive", "reference": document.doc_number, "notes": document.memo or "",
                "lineItems": [{"lineNumber": n, "description": f"{line.item_code} {line.description}".strip(),
                               "accountDetails": {"ledgerAccount": self.ledger_account, "quantity": str(line.qty),
                                                  "amount": str(money(line.amount))},
                               "taxRate": self.tax_code if line.taxable or tax else self.no_tax_code,
                               "taxAmount": str(tax), "taxIsModified": True}
                              for n, (line, tax) in enumerate(zip(lines, taxes), start=1)]}

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

    def by_hand_outcome(self, capability: str, action: str, doc_type: str, doc_number: str,
                        document: AccountingDocument | None, previous: dict | None) -> Outcome:
        label = doc_label(document) if document is not None else f"{doc_type.replace('_', ' ').capitalize()} {doc_number}"
        if capability == "supports_void":
            return by_hand(capability, f"{label} was cancelled at the source, but Reckon One's API can delete only "
                           f"draft invoices and has no void: find the invoice with reference {doc_number} in Reckon "
                           f"One and credit or delete it by hand.")
        if doc_type == "credit_memo":
            return by_hand("links_payments", f"{label}: the bridge does not send credit notes to Reckon One; enter it "
                           f"there by hand (Sales > Credit notes) and link it to the invoice it credits.")
        return by_hand("links_payments", f"{label}: the bridge does not send receipts to Reckon One; enter it there by "
                       f"hand (Sales > Receipts) allocated to the invoice(s) it pays.")

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        reference = f"(Reckon id {dest_id})"
        try:
            reference = self.client.call("GET", f"/invoices/{dest_id}").json().get("reference") or reference
        except (ReckonUnavailable, ReckonRefused, ValueError):
            pass
        return self.by_hand_outcome("supports_void", "void", doc_type, reference, None, None)

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        try:
            document = document_from_dict(before)
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            return Outcome(Status.FAILED, error_code="restore_unreadable", message=(
                f"{doc_type} {dest_id} cannot be restored: the saved state is not a complete document ({error!r}); "
                f"restore it in Reckon One by hand from the ledger's events."))
        try:
            held = self.client.call("GET", f"/invoices/{dest_id}").json()
        except ReckonUnavailable as gone:
            return Outcome(Status.RETRY, error_code="unavailable", message=str(gone))
        if money(str(held.get("amount"))) == money(document.total) and held.get("reference") == document.doc_number:
            return Outcome(Status.UPDATED, dest_id=dest_id, dest_doc_number=held.get("invoiceNumber"),
                           before=_summary(held), after=before,
                           message=f"invoice {document.doc_number} already holds the state it is restored to")
        return self._post_one(PostRequest(Action.UPDATE, document, "", dest_id=dest_id))


def _summary(invoice: dict) -> dict:
    return {"id": invoice.get("id"), "invoiceNumber": invoice.get("invoiceNumber"), "reference": invoice.get("reference"),
            "status": invoice.get("status"), "amount": str(invoice.get("amount")),
            "customer": (invoice.get("customer") or {}).get("name")}
