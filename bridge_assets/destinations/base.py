"""The destination boundary: the one small interface the posting code knows.

The posting code never knows which accounting system is on the other side. An adapter says what it
can do (`Capabilities`), turns one planned action into one `Outcome`, finds a document by number when
an earlier attempt has an unknown outcome, and undoes what it did.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any, Callable, Protocol, Sequence

from bridge_assets.model.document import AccountingDocument
from bridge_assets.model.outcome import BY_HAND_CODES, Action, Outcome, Status

__all__ = ["Action", "BY_HAND_CODES", "BooksDocument", "BooksView", "Capabilities", "Destination", "DestinationError",
           "NeutralBooks", "Outcome", "PostRequest", "Status", "by_hand", "by_hand_for", "neutral_books_view"]


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a platform can do (ARCHITECTURE §6). A missing one is never a silent skip: the plan makes the
    action `by_hand` (`by_hand_for`) with the capability's code from `BY_HAND_CODES` and a sentence saying what
    a person enters by hand, and the ledger keeps it once, nothing sent (`lacks` names the missing capability).
    An adapter still answers such a request the same way should one reach it."""

    supports_update: bool               # change a posted document in place
    supports_void: bool                 # void an invoice / delete a credit memo or payment it posted
    honours_request_id: bool            # an idempotency key (else: look-up by number before a create)
    batch_size: int                     # requests per `post` call
    reads_back: bool                    # `read_back(since)`: the books as they hold the documents now
    links_payments: bool = True         # a payment applied to the invoice(s) it pays
    restores: bool | None = None        # put an updated document back as it was (None: as supports_update)
    applies_credits: bool = False       # a credit memo applied to its invoice by the platform
    webhooks: bool = False              # the platform says when something changed
    lock_date_readable: bool = False    # the closing date is read from the platform (else: configured)

    def lacks(self, action: str, doc_type: str) -> str | None:
        """The capability this action on this document type needs and the platform lacks, or None."""
        action = getattr(action, "value", action)
        if action == "update" and not self.supports_update:
            return "supports_update"
        if action in ("void", "delete") and not self.supports_void:
            return "supports_void"
        if action == "restore" and not (self.supports_update if self.restores is None else self.restores):
            return "restores"
        if action == "create" and doc_type == "payment" and not self.links_payments:
            return "links_payments"
        return None


@dataclasses.dataclass(frozen=True)
class BooksDocument:
    """One document as the books hold it now (`read_back`): platform-neutral, for the mirror and
    reconciliation. `status` is active | voided | deleted; `version` the platform's own (SyncToken ...)."""

    doc_type: str                       # invoice | credit_memo | payment
    doc_number: str | None
    dest_id: str
    txn_date: dt.date | None
    customer: str | None
    total: Decimal | None
    balance: Decimal | None
    status: str
    version: str | None
    changed_at: dt.datetime | None      # the platform's last change, naive UTC
    raw: dict | None = dataclasses.field(default=None, compare=False, repr=False)   # as the platform gave it


@dataclasses.dataclass(frozen=True)
class BooksView:
    """How reconciliation reads one destination's books (platform-neutral; the platform fills it in, see
    `books_view()` of a destination that reads back). Reconciliation imports no platform: it asks this."""

    destination: str
    book: str                           # the company / realm / tenant whose books are read
    platform: str                       # how a bookkeeper names the books in a sentence ("QuickBooks")
    version_label: str                  # the platform's word for a document's version ("SyncToken")
    # (con, destination, period) -> a sentence when the read-back store is older than the latest posting
    stale: Callable[[Any, str, str], str | None]
    # (con, period, [(doc_type, dest_id)]) -> {(doc_type, dest_id): BooksDocument}: the period's documents
    # and the ones named, as last read back
    documents: Callable[[Any, str, Sequence[tuple[str, str]]], dict[tuple[str, str], BooksDocument]]
    # (what the bridge sent, what the books hold) -> a sentence of what differs, "" when nothing does
    what_changed: Callable[[dict, dict], str]

    def where(self, dest_id: str | None) -> str:
        return f"{self.platform} Id {dest_id}"


def neutral_books_view(destination: str, book: str, platform: str, version_label: str,
                       what_changed: Callable[[dict, dict], str]) -> "NeutralBooks":
    """The books of a platform without a mirror of its own: its `read_back` fills the neutral store under
    `book` (its organisation, tenant...), and reconciliation reads that store for it (`destination` is
    named by the registry). A platform may not import `books`, which sits above it."""
    return NeutralBooks(book, platform, version_label, what_changed)


@dataclasses.dataclass(frozen=True)
class NeutralBooks:
    """What `books_view()` answers for a platform without a mirror of its own: its `read_back` lands in the
    neutral store (`books.store`, a layer above the platforms), which reconciliation reads as this book."""

    book: str                           # the company / account / database whose books are read
    platform: str                       # how a bookkeeper names the books in a sentence ("Odoo")
    version_label: str = "version"      # the platform's word for a document's version
    what_changed: Callable[[dict, dict], str] = lambda sent, held: ""


@dataclasses.dataclass(frozen=True)
class PostRequest:
    action: Action
    document: AccountingDocument
    request_id: str
    dest_id: str | None = None          # for update / void: the destination's id
    version: str | None = None          # for update / void: the version last seen
    previous: dict | None = None        # for update: what was last sent (from the ledger's events)


class Destination(Protocol):
    name: str
    capabilities: Capabilities

    def begin_run(self, run_id: str, period: str) -> None:
        """Called once per run and period before any post (file adapters pick their file name here)."""

    def end_run(self) -> list[str]:
        """Called once at the end; returns human-readable locations of what was written."""

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        """Customers and items, matched or created per policy. Returns {doc_key: problem} for failures."""

    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        """Send up to `capabilities.batch_size` requests; one Outcome per request, in order."""

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """Look a document up by number (for a `sending` row whose outcome is unknown)."""

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        """Void an invoice, delete a credit memo or payment: VOIDED when done. Reads before it writes, so
        asking again after a lost answer is recognised as already done (revert relies on this)."""

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        """Put a document back as `before` (a state an update event saved): UPDATED when done. A document
        already holding that state is not written again (revert relies on this)."""

    def is_period_open(self, txn_date) -> bool:
        ...

    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        """The documents changed in the books since `since` (naive UTC; None: all of them), as the books
        hold them now. Only where `capabilities.reads_back`; elsewhere reconciliation compares source and
        ledger only, and says the books were not read."""

    def books_view(self) -> BooksView | NeutralBooks:
        """Where reconciliation finds what `read_back` stored (only where `capabilities.reads_back`): the
        platform's own mirror, or `NeutralBooks` (`neutral_books_view`) naming its book in the neutral store."""

    def book_close_date(self):
        """The date the books are closed through (None: nothing closed). Documents dated on or before it
        are held, not sent; the replay sensor notices when it moves and posts them once."""


def by_hand(capability: str, sentence: str, *, before: dict | None = None) -> Outcome:
    """The answer to a request the platform lacks `capability` for: FAILED with the capability's code
    (the ledger keeps it once as `by_hand`, never retried) and the sentence saying what a person does."""
    return Outcome(status=Status.FAILED, error_code=BY_HAND_CODES[capability], message=sentence, before=before)


def by_hand_for(destination: Destination, action: str, doc_type: str, doc_number: str, *,
                document: AccountingDocument | None = None, previous: dict | None = None,
                was_total: Decimal | None = None) -> Outcome | None:
    """The `by_hand` outcome of an action `destination` lacks the capability for (None: it can do it), so
    the plan says so beforehand and nothing is sent. The sentence is the platform's own where it phrases one
    (`by_hand_outcome(capability, action, doc_type, doc_number, document, previous)`, as its adapter would
    refuse the request), else a plain one naming the destination, the document (with `was_total`, the total
    last posted, where known) and what a person does."""
    capability = destination.capabilities.lacks(action, doc_type)
    if capability is None:
        return None
    phrase = getattr(destination, "by_hand_outcome", None)
    if phrase is not None:
        return phrase(capability, action, doc_type, doc_number, document, previous)
    kind = {"invoice": "invoice", "credit_memo": "credit memo", "payment": "payment"}.get(doc_type, doc_type)
    label = f"{kind.capitalize()} {doc_number}" + (f" ({document.customer_name})" if document is not None else "")
    where = destination.name
    if capability == "supports_update":
        was = was_total if was_total is not None else (previous or {}).get("total")
        now = f" and is now {document.total}" if document is not None else ""
        totals = f": its total was {was}{now}" if was is not None else ""
        return by_hand(capability, f"{label} changed in the source after it was posted to {where}{totals}. "
                                   f"{where} cannot change a posted document, so edit {kind} {doc_number} there by "
                                   f"hand to match.", before=previous)
    if capability == "supports_void":
        return by_hand(capability, f"{label} was cancelled at the source, but {where} cannot void or delete a posted "
                                   f"document: void {kind} {doc_number} there by hand.")
    if capability == "links_payments":
        return by_hand(capability, f"{label}: {where} cannot link a payment to the invoice it pays, so it is not sent; "
                                   f"enter it in {where} by hand, applied to the invoice(s) it pays.")
    return by_hand(capability, f"{label}: {where} cannot {action} it (it lacks {capability}), so it is not sent; "
                               f"do it in {where} by hand.")


class DestinationError(Exception):
    """A destination cannot be used at all (bad configuration, unreachable folder). The message says what to do."""
