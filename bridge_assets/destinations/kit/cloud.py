"""The Destination protocol for a cloud ledger that takes one document per request (FreshBooks, Zoho Books,
Sage, FreeAgent, MYOB): what is the same for all of them, so a platform's adapter is its wire only.

A platform subclasses `CloudDestination` and fills in its hooks:

    customer_id(document) -> str              the customer matched by name, or created (Refused if it cannot)
    body_for(document) -> dict                the platform's fields for it, as `read` gives them back (so a
                                              document already holding them is recognised and not sent)
    lookup(doc_type, number) -> Held | None   the document of that number, as the books hold it now
    read(doc_type, dest_id) -> Held | None    the document of that id
    create(document, body, request_id) -> Held   send a new document (the request id rides in the
                                              platform's idempotency mechanism where it has one)
    update(current, body) -> Held             change it in place (also how revert puts a body back)
    remove(held) -> None                      void an invoice, delete a credit or payment
    settle(held, document) -> Held            finish what a create began (mark sent, apply a credit), after
                                              a create and whenever a document is found by number (then
                                              `document` is None when only the number is known)
    looks_up(doc_type) -> bool                whether a create is preceded by a look-up by number (default:
                                              unless the platform honours the request id)
    books(since) -> list[BooksDocument]       read back
    platform_lock_date() -> date | None       where `capabilities.lock_date_readable`

What this class adds, the same way for every platform:

- a create is preceded by a look-up by number unless the platform honours the request id: a document
  already there with the same total and customer is adopted (an earlier answer was lost), one with other
  content is FAILED (the number is taken), never duplicated;
- an update reads first: a document already holding the new content is not sent again, and what it held
  goes into `Outcome.before` (revert puts it back); a voided one is not changed;
- void and restore read first, so asking again after a lost answer is recognised as done;
- a document dated on or before the closing date (the platform's lock date, else the configured one) is
  HELD, whether the plan saw the date or the platform refused with its lock error (`Refused(held=True)`);
- `Refused` is FAILED with the platform's sentence; the platform being unavailable (the kit's
  `PlatformUnavailable`) is RETRY, the ledger keeps the row `sending` and the next run resolves it.

`Held.after` is what the ledger keeps of a posted document: `total` and `customer_name` (reconciliation
reads them) and `body`, the platform's own fields, enough to put the document back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from decimal import Decimal
from typing import Any, Sequence

from bridge_assets.destinations.base import (
    Action, BooksDocument, BooksView, Capabilities, Outcome, PostRequest, Status, by_hand, neutral_books_view,
)
from bridge_assets.destinations.kit.http import PlatformUnavailable
from bridge_assets.model.document import AccountingDocument, money

log = logging.getLogger(__name__)

KIND = {"invoice": "invoice", "credit_memo": "credit note", "payment": "payment"}


class Refused(Exception):
    """The platform refused one document; `sentence` says what a person does. `held`: its lock date."""

    def __init__(self, sentence: str, *, code: str | None = None, held: bool = False,
                 http_status: int | None = None) -> None:
        super().__init__(sentence)
        self.sentence, self.code, self.held, self.http_status = sentence, code, held, http_status


@dataclasses.dataclass(frozen=True)
class Held:
    """One document as the platform holds it."""

    doc_type: str
    dest_id: str
    number: str | None
    total: Decimal
    customer: str
    txn_date: dt.date | None
    status: str = "active"                 # active | voided | deleted
    version: str | None = None
    body: dict | None = None               # the platform's fields that would put it back (`update`)
    raw: dict | None = dataclasses.field(default=None, compare=False, repr=False)   # as the platform gave it

    @property
    def after(self) -> dict[str, Any]:
        return {"total": str(money(self.total)), "customer_name": self.customer, "doc_number": self.number,
                "txn_date": self.txn_date.isoformat() if self.txn_date else None, "body": self.body}


class CloudDestination:
    name: str
    platform: str                          # how a bookkeeper names it: "FreshBooks"
    version_label: str = "version"
    capabilities: Capabilities
    book: str = ""                         # the account / organisation / company file read back

    def __init__(self, *, closed_through: dt.date | None = None) -> None:
        self.closed_through = closed_through
        self._written = 0
        self._lock_date: tuple[bool, dt.date | None] = (False, None)

    # --- hooks (the platform's) -------------------------------------------------------------------------

    def customer_id(self, document: AccountingDocument) -> str: raise NotImplementedError
    def lookup(self, doc_type: str, number: str) -> Held | None: raise NotImplementedError
    def read(self, doc_type: str, dest_id: str) -> Held | None: raise NotImplementedError
    def body_for(self, document: AccountingDocument) -> dict: raise NotImplementedError
    def create(self, document: AccountingDocument, body: dict, request_id: str) -> Held: raise NotImplementedError
    def update(self, current: Held, body: dict) -> Held: raise NotImplementedError
    def remove(self, held: Held) -> None: raise NotImplementedError
    def books(self, since: dt.datetime | None) -> list[BooksDocument]: raise NotImplementedError

    def settle(self, held: Held, document: AccountingDocument | None) -> Held:
        return held

    def looks_up(self, doc_type: str) -> bool:
        return not self.capabilities.honours_request_id

    def created_note(self, document: AccountingDocument) -> str | None:
        """What a person still does after this create (a credit the platform does not apply), or None."""
        return None

    def refuses(self, action: Action, document: AccountingDocument) -> Outcome | None:
        """A `by_hand` outcome for a request this platform cannot take in this shape (None: it can)."""
        return None

    def platform_lock_date(self) -> dt.date | None:
        return None

    def raw_total_and_customer(self, raw: dict) -> tuple[Decimal | None, str | None]:
        """What `what_changed` compares in a read-back document (`BooksDocument.raw`)."""
        return None, None

    # --- runs ---------------------------------------------------------------------------------------

    def begin_run(self, run_id: str, period: str) -> None:
        self._written = 0
        self._lock_date = (False, None)

    def end_run(self) -> list[str]:
        written, self._written = self._written, 0
        return [f"{self.platform} {self.book} ({written} written)"] if written else []

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- closing date ---------------------------------------------------------------------------------

    def book_close_date(self) -> dt.date | None:
        if not self.capabilities.lock_date_readable:
            return self.closed_through
        known, day = self._lock_date
        if not known:
            day = self.platform_lock_date()
            self._lock_date = (True, day)
        return day

    def is_period_open(self, txn_date) -> bool:
        closed = self.book_close_date()
        return closed is None or txn_date is None or txn_date > closed

    def _held(self, label: str) -> Outcome:
        closed = self.book_close_date()
        return Outcome(Status.HELD, error_code="books_closed",
                       message=f"{label} is dated in a period closed in {self.platform} (closed through {closed}); "
                               f"it is held and posted once the books reopen")

    # --- the protocol -----------------------------------------------------------------------------------

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        problems = {}
        for document in documents:
            if document.doc_type == "payment":
                continue
            try:
                self.customer_id(document)
            except Refused as refusal:
                problems[document.doc_key] = refusal.sentence
        return problems

    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        return [self._post_one(request) for request in requests]

    def _post_one(self, request: PostRequest) -> Outcome:
        document = request.document
        label = f"{KIND.get(document.doc_type, document.doc_type).capitalize()} {document.doc_number}"
        if not self.is_period_open(document.txn_date):
            return self._held(label)
        refused = self.refuses(request.action, document)
        if refused is not None:
            return refused
        try:
            if request.action is Action.UPDATE:
                return self._update(document, request, label)
            return self._create(document, request, label)
        except Refused as refusal:
            if refusal.held:
                self._lock_date = (False, None)
                return Outcome(Status.HELD, error_code=refusal.code or "books_closed", http_status=refusal.http_status,
                               message=f"{label}: {refusal.sentence}")
            return Outcome(Status.FAILED, error_code=refusal.code or "refused", http_status=refusal.http_status,
                           message=f"{label}: {refusal.sentence}")
        except PlatformUnavailable as failure:
            return Outcome(Status.RETRY, error_code="unavailable", message=f"{label}: {failure}")

    def _create(self, document: AccountingDocument, request: PostRequest, label: str) -> Outcome:
        if self.looks_up(document.doc_type):
            found = self.lookup(document.doc_type, document.doc_number)
            if found is not None:
                if found.status == "active" and money(found.total) == money(document.total):
                    found = self.settle(found, document)
                    return self._outcome(Status.CREATED, found, message=f"{label} was already in {self.platform} "
                                                                         f"(an earlier answer was lost); adopted")
                return Outcome(Status.FAILED, error_code="number_taken", dest_id=found.dest_id, message=(
                    f"{label}: {self.platform} already holds {KIND.get(document.doc_type)} {document.doc_number} "
                    f"({found.customer}, {found.total}, {found.status}), which the bridge did not post; rename or "
                    f"remove that one in {self.platform}, then run again"))
        held = self.create(document, self.body_for(document), request.request_id)
        self._written += 1
        return self._outcome(Status.CREATED, self.settle(held, document), message=self.created_note(document))

    def _update(self, document: AccountingDocument, request: PostRequest, label: str) -> Outcome:
        current = self.read(document.doc_type, request.dest_id or "")
        if current is None or current.status != "active":
            state = "deleted" if current is None else current.status
            return Outcome(Status.FAILED, error_code="not_active", dest_id=request.dest_id, message=(
                f"{label} changed in the source, but it was {state} in {self.platform}; enter the change there "
                f"by hand or restore it first"))
        body = self.body_for(document)
        if current.body == body:
            return self._outcome(Status.UPDATED, current, before=current.after, message="already holds this version")
        held = self.update(current, body)
        self._written += 1
        return self._outcome(Status.UPDATED, held, before=current.after)

    def _outcome(self, status: Status, held: Held, *, before: dict | None = None, message: str | None = None) -> Outcome:
        return Outcome(status, dest_id=held.dest_id, dest_doc_number=held.number, version=held.version,
                       after=held.after, before=before, message=message)

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        found = self.lookup(doc_type, doc_number)
        if found is None or found.status != "active":
            return None
        return self._outcome(Status.CREATED, self.settle(found, None))

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        label = f"{KIND.get(doc_type, doc_type).capitalize()} {self.platform} id {dest_id}"
        try:
            current = self.read(doc_type, dest_id)
            if current is None or current.status in ("voided", "deleted"):
                return Outcome(Status.VOIDED, dest_id=dest_id, message="already voided or deleted")
            if not self.is_period_open(current.txn_date):
                return self._held(label)
            self.remove(current)
        except (Refused, PlatformUnavailable) as failure:
            return self._not_done(label, dest_id, failure)
        self._written += 1
        return Outcome(Status.VOIDED, dest_id=dest_id, before=current.after)

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        label = f"{KIND.get(doc_type, doc_type).capitalize()} {self.platform} id {dest_id}"
        try:
            current = self.read(doc_type, dest_id)
            if current is None or current.status != "active":
                return Outcome(Status.FAILED, dest_id=dest_id, error_code="not_active",
                               message=f"{label} is no longer active in {self.platform}; restore it there by hand")
            if current.body == before.get("body"):
                return self._outcome(Status.UPDATED, current, message="already as it was")
            held = self.update(current, before["body"])
        except (Refused, PlatformUnavailable) as failure:
            return self._not_done(label, dest_id, failure)
        self._written += 1
        return self._outcome(Status.UPDATED, held, before=current.after)

    def _not_done(self, label: str, dest_id: str, failure: Refused | PlatformUnavailable) -> Outcome:
        """A void or restore the platform refused (FAILED; HELD for its lock) or could not take now (RETRY)."""
        if isinstance(failure, Refused):
            status = Status.HELD if failure.held else Status.FAILED
            return Outcome(status, dest_id=dest_id, error_code=failure.code, message=f"{label}: {failure.sentence}")
        return Outcome(Status.RETRY, dest_id=dest_id, error_code="unavailable", message=str(failure))

    def refuse_by_hand(self, capability: str, sentence: str) -> Outcome:
        return by_hand(capability, sentence)

    # --- reading back ---------------------------------------------------------------------------------

    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        return self.books(since)

    def books_view(self) -> BooksView:
        """`read_back` lands in the neutral store under this book; reconciliation reads it there."""
        return neutral_books_view(self.name, self.book, self.platform, self.version_label, self.what_changed)

    def what_changed(self, sent: dict, held: dict) -> str:
        total, customer = self.raw_total_and_customer(held)
        changes = []
        if total is not None and sent.get("total") not in (None, "") and money(total) != money(sent["total"]):
            changes.append(f"total {sent['total']} -> {money(total)}")
        if customer is not None and sent.get("customer_name") and customer != sent["customer_name"]:
            changes.append(f"customer {sent['customer_name']!r} -> {customer!r}")
        return "; ".join(changes)
