"""Wave as a destination: invoices by GraphQL (`invoiceCreate`, then `invoiceApprove` into the books;
`invoicePatch` for a change), read back by `modifiedAtAfter`.

What Wave's public API cannot do is declared (`capabilities`) and left to a person with the sentence: it
has no void (an approved invoice cannot be deleted through it), no credit notes and no payment against an
invoice (`moneyTransactionCreate` books a bank transaction without marking any invoice paid). It has no
idempotency key for invoices and no lock date: an interrupted create is found by its invoice number (a
draft left by a create whose approval was lost is approved then), and the closing date is configured
(BRIDGE_BOOKS_CLOSED_THROUGH). Settings are read in `from_env` only (README, "The smaller ledgers").
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from bridge_assets.destinations.base import (Action, BooksDocument, NeutralBooks, Capabilities, DestinationError, Outcome,
                                             PostRequest, Status, by_hand)
from bridge_assets.destinations.kit.oauth import OAuthSession, TokenStore
from bridge_assets.destinations.kit import small_ledger
from bridge_assets.destinations.kit.run_files import doc_label
from bridge_assets.destinations.kit.small_ledger import SmallLedgerDestination, settings_text
from bridge_assets.destinations.wave import documents, payloads
from bridge_assets.destinations.wave.auth import WAVE_GRAPHQL_URL, WAVE_TOKEN_URL, BearerAuth, WaveLimits, wave_provider
from bridge_assets.destinations.wave.client import WaveClient, WaveRefused, WaveUnavailable
from bridge_assets.destinations.wave.references import InputRefused, References, _succeeded
from bridge_assets.model.document import AccountingDocument, canonical_dict, money


class WaveDestination(SmallLedgerDestination):
    name, platform = "wave", "Wave"
    capabilities = Capabilities(supports_update=True, supports_void=False, honours_request_id=False, batch_size=5,
                                reads_back=True, links_payments=False, restores=True)

    def __init__(self, *, graphql_url: str, token_url: str, client_id: str, client_secret: str, business_id: str,
                 token_store: Path | str, refresh_token: str | None = None, income_account: str = "Sales",
                 sales_tax: str = "Sales Tax", limits: WaveLimits = WaveLimits(),
                 closed_through: dt.date | None = None, timeout: float = 60.0) -> None:
        provider = wave_provider(token_url)
        store = TokenStore(token_store, provider)
        if refresh_token:
            store.seed(refresh_token)
        self.session = OAuthSession(store, provider, client_id, client_secret)
        self.client = WaveClient(graphql_url, BearerAuth(self.session), limits, timeout=timeout)
        self.business_id, self.closed_through = business_id, closed_through
        self.refs = References(self.client, business_id, income_account, sales_tax)
        self._written = 0

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "WaveDestination":
        """The one place Wave's settings are read (WAVE_* variables; README)."""
        text = settings_text(os.environ if environ is None else environ)
        small_ledger.require(text, ("WAVE_CLIENT_ID", "WAVE_CLIENT_SECRET", "WAVE_BUSINESS_ID"), platform="Wave",
                             where="set the app's keys from Wave's Manage Applications and the business id the app "
                                   "was connected to")
        limits = small_ledger.numbers(
            lambda: WaveLimits(requests_per_minute=int(text("WAVE_REQUESTS_PER_MINUTE", "60")),
                               requests_per_day=int(text("WAVE_REQUESTS_PER_DAY", "5000")),
                               time_scale=float(text("WAVE_TIME_SCALE", "1"))),
            "WAVE_REQUESTS_PER_MINUTE, WAVE_REQUESTS_PER_DAY and WAVE_TIME_SCALE must be numbers")
        home = Path(getattr(settings, "home", None) or text("BRIDGE_HOME", "var")).absolute()
        return cls(graphql_url=text("WAVE_GRAPHQL_URL", WAVE_GRAPHQL_URL), token_url=text("WAVE_TOKEN_URL", WAVE_TOKEN_URL),
                   client_id=text("WAVE_CLIENT_ID"), client_secret=text("WAVE_CLIENT_SECRET"),
                   business_id=text("WAVE_BUSINESS_ID"), refresh_token=text("WAVE_REFRESH_TOKEN"),
                   token_store=text("WAVE_TOKEN_STORE") or home / "secrets" / "wave_tokens.json",
                   income_account=text("WAVE_INCOME_ACCOUNT", "Sales"), sales_tax=text("WAVE_SALES_TAX", "Sales Tax"),
                   limits=limits, closed_through=getattr(settings, "books_closed_through", None))

    def close(self) -> None:
        self.client.close()
        self.session.close()

    # --- runs and references ------------------------------------------------------------------------

    def book(self) -> str:
        return f"business {self.business_id}"

    def resolve_references(self, documents_: Sequence[AccountingDocument]) -> dict[str, str]:
        return self.refs.problems(documents_)

    # --- posting ------------------------------------------------------------------------------------

    def _post_one(self, request: PostRequest) -> Outcome:
        document, action = request.document, getattr(request.action, "value", request.action)
        turned_away = self.turned_away(request, request.previous)
        if turned_away is not None:
            return turned_away
        if not document.lines:
            return Outcome(Status.FAILED, error_code="no_lines", message=f"{doc_label(document)} has no lines, and "
                           f"Wave needs at least one item on an invoice; add a line in the source.")
        problem = self.refs.problems([document]).get(document.doc_key)
        if problem:
            return Outcome(Status.FAILED, error_code="invalid_reference", message=problem)
        try:
            fields = payloads.invoice_fields(document, self.refs.customer(document), self.refs.product_ids(document),
                                             self.refs.sales_tax)
            if action == Action.UPDATE.value:
                return self._update(request, fields)
            return self._create(request, fields)
        except WaveUnavailable as gone:
            return self.unavailable(document, gone)
        except (WaveRefused, InputRefused) as refused:
            code = next(iter(getattr(refused, "codes", None) or []), None) or "refused"
            return Outcome(Status.FAILED, error_code=f"wave_{str(code).lower()}", message=(
                f"{doc_label(document)}: {refused}. {payloads.INPUT_ERRORS.get(code, 'Correct it and run again')}."))

    def _mutate(self, document_: str, field: str, input_: dict, what: str) -> dict:
        return _succeeded(self.client.call(document_, {"input": input_}, what)[field], what)

    def _create(self, request: PostRequest, fields: dict) -> Outcome:
        document = request.document
        label = f"invoiceCreate for invoice {document.doc_number}"
        try:
            node = self._mutate(documents.INVOICE_CREATE, "invoiceCreate",
                                {"businessId": self.business_id, **fields}, label)["invoice"]
        except InputRefused as refused:
            if "DUPLICATE" not in refused.codes:
                raise
            node = self._by_number(document.doc_number)
            if node is None or not _same(node, document):
                return Outcome(Status.FAILED, error_code="number_in_use", message=(
                    f"{doc_label(document)}: Wave already has an invoice numbered {document.doc_number} "
                    f"({'for ' + node['customer']['name'] + ', total ' + node['total']['value'] if node else 'not readable'}) "
                    f"that the bridge did not post; renumber one of them, then run again."))
        node = self._approved(node)
        self._written += 1
        return Outcome(Status.CREATED, dest_id=node["id"], dest_doc_number=node["invoiceNumber"],
                       version=node["modifiedAt"], before=request.previous,
                       after={**canonical_dict(document), "wave": payloads.summary(node)})

    def _approved(self, node: dict) -> dict:
        if node["status"] != "DRAFT":
            return node
        return self._mutate(documents.INVOICE_APPROVE, "invoiceApprove", {"invoiceId": node["id"]},
                            f"invoiceApprove for invoice {node['invoiceNumber']}")["invoice"]

    def _update(self, request: PostRequest, fields: dict) -> Outcome:
        document = request.document
        try:
            node = self._mutate(documents.INVOICE_PATCH, "invoicePatch", {"id": request.dest_id, **fields},
                                f"invoicePatch for invoice {document.doc_number}")["invoice"]
        except InputRefused as refused:
            if "INVALID_STATE" not in refused.codes:
                raise
            return by_hand("supports_update", f"{doc_label(document)} changed in the source, but Wave will not change "
                           f"an invoice with a payment recorded on it: edit invoice {document.doc_number} in Wave by hand "
                           f"to total {money(document.total)}.", before=request.previous)
        self._written += 1
        return Outcome(Status.UPDATED, dest_id=node["id"], dest_doc_number=node["invoiceNumber"],
                       version=node["modifiedAt"], before=request.previous,
                       after={**canonical_dict(document), "wave": payloads.summary(node)})

    # --- look-up, read back --------------------------------------------------------------------------

    def _invoices(self, since: dt.datetime | None = None):
        page, pages = 1, 1
        while page <= pages:
            variables = {"businessId": self.business_id, "page": page,
                         "modifiedAtAfter": since.isoformat() + "Z" if since else None}
            data = self.client.call(documents.INVOICES, variables, "the business's invoices")
            if data.get("business") is None:
                raise DestinationError(f"Wave business {self.business_id} is not reachable with the bridge's token; "
                                       f"check WAVE_BUSINESS_ID and that the app is connected to that business")
            connection = data["business"]["invoices"]
            pages = connection["pageInfo"]["totalPages"]
            yield from (edge["node"] for edge in connection["edges"])
            page += 1

    def _by_number(self, number: str) -> dict | None:
        return next((node for node in self._invoices() if node["invoiceNumber"] == number), None)

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """The invoice numbered so in Wave (a draft left by an interrupted create is approved now)."""
        if doc_type != "invoice":
            return None
        node = self._by_number(doc_number)
        if node is None:
            return None
        node = self._approved(node)
        return Outcome(Status.CREATED, dest_id=node["id"], dest_doc_number=node["invoiceNumber"],
                       version=node["modifiedAt"], after=payloads.summary(node))

    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        """Approved invoices changed since `since` (drafts are not in the books)."""
        return [payloads.books_document(node) for node in self._invoices(since) if node["status"] != "DRAFT"]

    def books_view(self) -> NeutralBooks:
        """The neutral store, as `read_back` fills it: the `reconciliation` asset reads it back first."""
        return NeutralBooks(self.business_id, "Wave", version_label="modifiedAt", what_changed=payloads.what_changed)

    # --- what Wave's API cannot do, and undo -----------------------------------------------------------

    def by_hand_outcome(self, capability: str, action: str, doc_type: str, doc_number: str,
                        document: AccountingDocument | None, previous: dict | None) -> Outcome:
        label = small_ledger.label(document, doc_type, doc_number)
        if capability == "supports_void":
            return by_hand(capability, f"{label} was cancelled at the source, but Wave's API cannot void or delete an "
                           f"approved invoice: open invoice {doc_number} in Wave (Sales & Payments > Invoices) and "
                           f"delete it by hand, or record why it stays.")
        if doc_type == "credit_memo":
            return by_hand("links_payments", f"{label}: Wave has no credit notes, so it is not sent; reduce the invoice "
                           f"it applies to in Wave by hand (or enter the credit as Wave's help suggests).")
        if capability == "links_payments":
            return by_hand(capability, f"{label}: Wave's API cannot record a payment against an invoice, so it is not "
                           f"sent; record it in Wave by hand (Sales & Payments > Invoices > Record a payment) on the "
                           f"invoice(s) it pays.")
        return by_hand(capability, f"{label}: Wave cannot {action} it through its API; do it in Wave by hand.")

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        """Left to a person: the sentence names the invoice by its number as Wave shows it (read first)."""
        number = f"with Wave id {dest_id}"
        try:
            node = self.client.call(documents.INVOICE, {"businessId": self.business_id, "id": dest_id},
                                    "the invoice to void")["business"]["invoice"]
            number = node["invoiceNumber"] if node else number
        except (WaveUnavailable, WaveRefused, TypeError):
            pass
        return self.by_hand_outcome("supports_void", "void", doc_type, number, None, None)

    unavailable_errors = (WaveUnavailable,)

    def already_restored(self, dest_id: str, document: AccountingDocument) -> tuple | None:
        current = self.client.call(documents.INVOICE, {"businessId": self.business_id, "id": dest_id},
                                   f"invoice {document.doc_number}")["business"]["invoice"]
        if current is not None and _same(current, document):
            return current["invoiceNumber"], payloads.summary(current), current["modifiedAt"]
        return None


def _same(node: dict, document: AccountingDocument) -> bool:
    """Whether an invoice in Wave is this document as the bridge would have sent it."""
    return (node["invoiceNumber"] == document.doc_number
            and money(node["total"]["value"]) == money(document.total)
            and (node.get("customer") or {}).get("name", "").casefold() == document.customer_name.strip().casefold())
