"""What the small ledgers' adapters (Wave, QuickFile, Reckon One, BILL, KashFlow) share: one invoice a call,
at most `capabilities.batch_size` a post, the closing date configured (BRIDGE_BOOKS_CLOSED_THROUGH, none of
them has a lock date), and what they are not sent left to a person with a sentence.

A platform subclasses `SmallLedgerDestination`, names itself (`platform`, as a bookkeeper says it) and its
books (`book()`, e.g. "account 6131400001"), sets `client` and `closed_through`, and keeps its own posting,
look-up and sentences. Its `from_env` reads its settings with `settings_text`, `require` and `numbers`;
one with OAuth 2 keeps its tokens with `oauth_session`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping, Sequence, TypeVar

from bridge_assets.destinations.base import Action, DestinationError, Outcome, PostRequest, Status, by_hand
from bridge_assets.destinations.kit.oauth import OAuthSession, TokenStore
from bridge_assets.destinations.kit.run_files import doc_label, held_outcome, period_is_open
from bridge_assets.destinations.kit.settings import Env
from bridge_assets.model.document import AccountingDocument, DocumentLine, document_from_dict, money

T = TypeVar("T")
SENT = (Action.CREATE.value, Action.UPDATE.value)


def settings_text(environ: Mapping[str, str]) -> Callable[..., str | None]:
    """`text(name, default=None)`: the variable's value, stripped, or `default` when unset or blank (the kit's `Env`)."""
    return Env(environ, "").text


def require(text: Callable[..., str | None], names: Sequence[str], *, platform: str, where: str,
            joiner: str = ", ") -> None:
    """Refuse, naming every unset variable of `names` and `where` a person finds them."""
    missing = [name for name in names if not text(name)]
    if missing:
        raise DestinationError(f"{platform} is configured as a destination but {joiner.join(missing)} "
                               f"{'is' if len(missing) == 1 else 'are'} not set; {where}")


def numbers(read: Callable[[], T], sentence: str) -> T:
    """`read()`, or a refusal with `sentence` ("X and Y must be numbers") if one of its numbers is not one."""
    try:
        return read()
    except ValueError as error:
        raise DestinationError(f"{sentence} ({error})") from None


def oauth_session(provider: Any, text: Callable[..., str | None], settings: Any, *, prefix: str, file_name: str,
                  client_id: str | None = None, client_secret: str | None = None) -> OAuthSession:
    """The platform's OAuth 2 session: tokens kept in `<PREFIX>_TOKEN_STORE` (else `<home>/secrets/<file_name>`),
    seeded from `<PREFIX>_REFRESH_TOKEN` when set, the app's keys from `<PREFIX>_CLIENT_ID` / `_CLIENT_SECRET`."""
    home = Path(getattr(settings, "home", None) or text("BRIDGE_HOME", "var")).absolute()
    store = TokenStore(text(f"{prefix}_TOKEN_STORE") or home / "secrets" / file_name, provider)
    if text(f"{prefix}_REFRESH_TOKEN"):
        store.seed(text(f"{prefix}_REFRESH_TOKEN"))
    return OAuthSession(store, provider, client_id or text(f"{prefix}_CLIENT_ID"),
                        client_secret or text(f"{prefix}_CLIENT_SECRET"))


def lines_with_tax(document: AccountingDocument) -> list[tuple[DocumentLine, Decimal]]:
    """The lines in order, each with its tax in cents; tax on the header only (the total's tax less the
    lines') rides on the first line, so the lines' taxes add up to the document's."""
    lines = sorted(document.lines, key=lambda line: line.line_no)
    taxes = [money(line.tax_amount) for line in lines]
    remainder = money(document.tax_total) - sum(taxes, Decimal("0"))
    if lines and remainder:
        taxes[0] += remainder
    return list(zip(lines, taxes))


def send_once(http: Any, method: str, path: str, *, unavailable: type[Exception], tries: int,
              **request: Any) -> Any:
    """A write that must not be repeated blindly, sent by the kit's paced client (`http`): tried again only
    after a 429 (nothing was written), at most `tries` times; any other failure is `unavailable` at once."""
    for attempt in range(1, tries + 1):
        try:
            return http.send(method, path, tries=1, **request)
        except unavailable as gone:
            if gone.gave_up.status != 429 or attempt == tries:
                raise unavailable(dataclasses.replace(gone.gave_up, tries=attempt)) from None
            http.wait_before_retry(attempt, f"{method} {path}", gone.gave_up.problem, gone.gave_up.response,
                                   tries=tries)
    raise AssertionError("unreachable")


def label(document: AccountingDocument | None, doc_type: str, doc_number: str) -> str:
    """How a sentence names a document: from the document when there is one, else its type and number."""
    return doc_label(document) if document is not None else f"{doc_type.replace('_', ' ').capitalize()} {doc_number}"


class SmallLedgerDestination:
    name: str
    platform: str                         # "QuickFile"
    client: Any
    closed_through: dt.date | None = None
    _written = 0

    def book(self) -> str:
        """The books written to, as a run's summary names them ("account 6131400001")."""
        raise NotImplementedError

    # What a person does instead, by what is not sent: "void" (when the platform has no void), "credit_memo",
    # "payment"; each a sentence with {label} (the document) and {doc_number}.
    by_hand_sentences: Mapping[str, str] = {}

    def by_hand_outcome(self, capability: str, action: str, doc_type: str, doc_number: str,
                        document: AccountingDocument | None, previous: dict | None) -> Outcome:
        named = {"label": label(document, doc_type, doc_number), "doc_number": doc_number}
        if capability == "supports_void" and "void" in self.by_hand_sentences:
            return by_hand(capability, self.by_hand_sentences["void"].format(**named))
        sentence = self.by_hand_sentences["credit_memo" if doc_type == "credit_memo" else "payment"]
        return by_hand("links_payments", sentence.format(**named))

    def _post_one(self, request: PostRequest) -> Outcome:
        raise NotImplementedError

    # The platform's errors for "unavailable, try again", which a restore answers with RETRY.
    unavailable_errors: tuple[type[Exception], ...] = ()

    def already_restored(self, dest_id: str, document: AccountingDocument) -> tuple[Any, dict, str | None] | None:
        """(its number, what it holds, its version) when invoice `dest_id` already holds `document`, else None."""
        raise NotImplementedError

    # --- runs and the closing date -----------------------------------------------------------------------

    def close(self) -> None:
        self.client.close()

    def begin_run(self, run_id: str, period: str) -> None:
        self._written = 0

    def end_run(self) -> list[str]:
        written, self._written = self._written, 0
        return [f"{self.platform} {self.book()} ({written} written)"] if written else []

    def is_period_open(self, txn_date) -> bool:
        return period_is_open(txn_date, self.closed_through)

    def book_close_date(self) -> dt.date | None:
        return self.closed_through

    # --- posting -----------------------------------------------------------------------------------------

    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        if len(requests) > self.capabilities.batch_size:
            raise ValueError(f"at most {self.capabilities.batch_size} requests per post, got {len(requests)}")
        return [self._post_one(request) for request in requests]

    def turned_away(self, request: PostRequest, previous: dict | None = None) -> Outcome | None:
        """What is not sent: anything but an invoice's create or change (by hand, with the platform's
        sentence), or a document dated in the closed period (HELD); None when it is to be sent."""
        document, action = request.document, getattr(request.action, "value", request.action)
        if document.doc_type != "invoice" or action not in SENT:
            capability = "supports_void" if action == Action.VOID.value else "links_payments"
            return self.by_hand_outcome(capability, action, document.doc_type, document.doc_number, document, previous)
        if not self.is_period_open(document.txn_date):
            assert self.closed_through is not None
            return held_outcome(document, self.closed_through, f"{self.platform} (BRIDGE_BOOKS_CLOSED_THROUGH)")
        return None

    @staticmethod
    def unavailable(document: AccountingDocument, gone: Exception) -> Outcome:
        return Outcome(Status.RETRY, error_code="unavailable", message=f"{doc_label(document)}: {gone}")

    def paid_invoice_unchanged(self, request: PostRequest, held: str, it: str = "it") -> Outcome:
        """A change the platform will not make to an invoice with payments (`held`): a person edits `it`."""
        document = request.document
        return by_hand("supports_update", f"{doc_label(document)} changed in the source, but {self.platform} will not "
                       f"change {held}: edit {it} in {self.platform} by hand to total {money(document.total)}.",
                       before=request.previous)

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        """Put the invoice back to `before` (a canonical document); one already so is not written again."""
        try:
            document = document_from_dict(before)
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            return Outcome(Status.FAILED, error_code="restore_unreadable", message=(
                f"{doc_type} {dest_id} cannot be restored: the saved state is not a complete document ({error!r}); "
                f"restore it in {self.platform} by hand from the ledger's events."))
        try:
            held = self.already_restored(dest_id, document)
        except self.unavailable_errors as gone:
            return Outcome(Status.RETRY, error_code="unavailable", message=str(gone))
        if held is not None:
            number, summary, version = held
            return Outcome(Status.UPDATED, dest_id=dest_id, dest_doc_number=number, version=version, before=summary,
                           after=before, message=f"invoice {document.doc_number} already holds the state it is "
                                                 f"restored to")
        return self._post_one(PostRequest(Action.UPDATE, document, "", dest_id=dest_id))
