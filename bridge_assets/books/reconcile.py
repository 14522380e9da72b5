"""Reconciliation per billing period and destination: does what the books hold match what the
source billed and what the ledger says was posted?

Three sides, compared document by document and then totalled per document type and per customer:
- source: `accounting_documents` of the period (the canonical documents);
- ledger: `ledger_postings` of the destination and period; the amount it says was posted is the
  total the destination confirmed (the `after` of the last successful event);
- books: what the destination read back (for QuickBooks Online its mirror, `qbo_mirror`), matched to
  the ledger by the destination's Id, plus every transaction dated in the period that the bridge did
  not post. Reconciliation imports no platform: a destination that reads back hands it a `BooksView`
  (destinations/base.py) saying where its books are stored, how fresh they are and what a person
  changed. File destinations (staging CSV, IIF) cannot be read back: for them only source and ledger
  are compared, and the result says so.

Every difference is listed with a kind:
- `missing`: posted per the ledger, but absent, deleted or voided in the books;
- `extra`: in the books (dated in the period, or with a number the bridge owns) but not posted by
  the bridge; or posted per the ledger while no longer in the source;
- `amount_differs`: the amounts do not agree (source vs ledger, or ledger vs books) without an edit;
- `edited_by_hand`: changed in QuickBooks after posting: its SyncToken moved past the one the
  ledger recorded and what the bridge sent (number, date, customer, lines, tax, total) differs;
  the detail says what changed. A SyncToken moved by a payment being applied is not an edit;
- `not_posted`: in the source but never sent, or with an unknown outcome, or posted in an earlier
  version than the source now holds;
- `failed`: the destination refused it (the ledger says why); listed, not failing: the failed-document
  alert already tells a person, once, and a second alert for the same refusal would only be noise;
- `held`: dated in a closed period and queued; listed, but it does not fail the period: the credit
  queue holds it and it posts once the books reopen (a cancellation's void waits the same way);
- `reverted`: reverted on purpose with `bridge revert` and not released; listed, not failing (a
  revert of an update leaves the restored version in the books, which is then what is compared);
- `by_hand`: the destination cannot take it (an IIF file cannot carry a payment or an update) and the
  ledger already says a person must enter it; listed, not failing, like `failed`;
- `mirror_stale`: the mirror was read before the latest posting, so the books cannot be judged yet.

Documents cancelled at the source (`cancelled_documents`) are expected to be voided or deleted in the
books, not present: they count on no side while the ledger says voided.

A period reconciles when every difference is one of those the ledger already explains (`held`,
`failed`, `by_hand`, `reverted`): what fails it is what only reading the books back, or comparing
the source with the ledger, can find. Totals are signed the way they move receivables: invoices
count up, credit memos and payments down.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from typing import Iterable, Sequence

import duckdb

from bridge_assets.canonical import cancellations
from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.ledger import store as ledger
from bridge_assets.ledger import schema as ledger_schema
from bridge_assets.ledger import number_reuse
from bridge_assets.destinations.base import BooksDocument, BooksView, NeutralBooks
from bridge_assets.destinations.registry import opened
from bridge_assets.books import store
from bridge_assets.books.results import (
    ZERO,
    Compared,
    Difference,
    PeriodReconciliation,
    decimal,
    ensure_schema,
    save,
)
from bridge_assets.model.document import money

__all__ = ["PeriodReconciliation", "destinations_to_reconcile", "read_back_neutral_books", "reconcile", "reconcile_period"]

def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# --- the three sides ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Source:
    doc_key: str
    doc_type: str
    doc_number: str
    customer: str
    total: Decimal
    content_hash: str


@dataclasses.dataclass(frozen=True)
class _Posting:
    doc_key: str
    doc_type: str
    doc_number: str
    state: str
    content_hash: str | None
    dest_id: str | None
    sync_token: str | None
    last_error_code: str | None
    last_error: str | None
    last_posted_at: dt.datetime | None
    reverted_hash: str | None           # set while a revert stands (not yet released)
    after: dict | None

    @property
    def in_destination(self) -> bool:
        """Whether the destination holds a version of it, as far as the ledger knows (a failed or held
        update leaves the version posted before in place)."""
        return bool(self.dest_id and self.content_hash) and self.state not in ("voided", "reverting")

    @property
    def amount(self) -> Decimal | None:
        after = self.after or {}
        for key in ("TotalAmt", "total", "amount"):
            if after.get(key) not in (None, ""):
                return money(decimal(after[key]))
        return None

    @property
    def customer(self) -> str | None:
        after = self.after or {}
        ref = after.get("CustomerRef")
        return (ref.get("name") if isinstance(ref, dict) else None) or after.get("customer_name")


def _sources(con, period: str) -> dict[str, _Source]:
    """The period's current documents; one cancelled at the source is not among them."""
    rows = canonical_reads.current_documents(con, period)
    return {r[0]: _Source(r[0], r[1], r[2], r[3], money(r[4]), r[5]) for r in rows}


def _cancelled(con, doc_keys: Iterable[str]) -> dict[str, str]:
    """{doc_key: why} for documents cancelled at the source."""
    return dict(con.execute(f"SELECT doc_key, reason FROM {cancellations.TABLE} WHERE doc_key IN (SELECT unnest(?))",
                            [list(doc_keys)]).fetchall())


def _postings(con, destination: str, period: str) -> dict[str, _Posting]:
    rows = con.execute(
        "SELECT doc_key, doc_type, doc_number, state, content_hash, dest_id, sync_token, last_error_code, last_error, "
        "last_posted_at, reverted_hash FROM ledger_postings WHERE destination = ? AND period = ?",
        [destination, period]).fetchall()
    after = _last_held(con, destination, [r[0] for r in rows])
    return {r[0]: _Posting(*r, after=after.get(r[0])) for r in rows}


def _last_held(con, destination: str, doc_keys: list[str]) -> dict[str, dict]:
    """What the destination said it holds after the last success for each document: a create or an
    update, or a revert (a restored document holds its earlier content again)."""
    if not doc_keys:
        return {}
    found = con.execute(
        """SELECT doc_key, after FROM (
               SELECT doc_key, after, row_number() OVER (PARTITION BY doc_key ORDER BY event_id DESC) AS n
               FROM ledger_events
               WHERE destination = ? AND outcome IN ('created', 'updated', 'reverted') AND after IS NOT NULL
                 AND doc_key IN (SELECT unnest(?)))
           WHERE n = 1""", [destination, doc_keys]).fetchall()
    return {key: json.loads(text, parse_float=Decimal) for key, text in found}


# --- comparing ------------------------------------------------------------------------------------


def _token_moved(recorded: str | None, current: str | None) -> bool:
    if recorded is None or current is None:
        return False
    try:
        return int(current) > int(recorded)
    except ValueError:
        return current != recorded


def _brief(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _label(doc_type: str | None, number: str | None) -> str:
    kind = {"invoice": "Invoice", "credit_memo": "Credit memo", "payment": "Payment"}.get(doc_type or "", "Document")
    return f"{kind} {number}" if number else kind


def _differ(compared: Compared):
    """A maker of this document's differences: kind, the whole sentence, and the brief finding."""
    def diff(kind: str, detail: str, finding: str) -> Difference:
        return Difference(kind, compared.doc_type, compared.doc_key, compared.doc_number, compared.customer,
                          compared.source_amount, compared.ledger_amount, compared.destination_amount, detail, finding)
    return diff


def _source_vs_ledger(s: _Source | None, p: _Posting | None, compared: Compared,
                      cancelled: str | None = None, kept: bool = False) -> Difference | None:
    diff = _differ(compared)
    label = _label(compared.doc_type, compared.doc_number)
    if cancelled is not None and p is not None:
        if p.state == "posted":
            return diff("extra", f"{label} was cancelled at the source ({cancelled}) but is still posted; the next "
                                 f"run voids it (if it does not, see the ledger's last error)",
                        "cancelled at the source, still posted")
        if p.state == "held":
            return diff("held", f"{label} was cancelled at the source ({cancelled}); its void waits: "
                                f"{p.last_error or 'its date is in a closed period'}",
                        "cancelled at the source; the void waits for the books to reopen")
        if p.state == "failed" and p.dest_id:
            return diff("extra", f"{label} was cancelled at the source ({cancelled}) but voiding it failed: "
                                 f"{p.last_error or 'see the ledger'}",
                        f"cancelled at the source, voiding it failed: {p.last_error_code or 'see the ledger'}")
        return None
    if s is not None and p is not None and p.state == "reverted" and p.reverted_hash == s.content_hash:
        return diff("reverted", f"{label} was reverted on purpose in the bridge; it is not posted again until "
                                f"released (`bridge revert --release --doc {p.doc_key}`), or until it changes in the "
                                f"source", "reverted on purpose, not released")
    if kept and p is not None and p.state == "posted":
        return diff("by_hand", f"{label}: a person kept the version the books hold and refused the source's newer "
                               f"content (its number was reused for another customer or period); if that document is "
                               f"real, enter it by hand under another number", "kept as posted by a person")
    if s is not None and p is not None and p.state == "failed" and p.last_error_code in ledger.NEEDS_A_PERSON:
        return diff("by_hand", f"{label} cannot be sent to this destination; enter it by hand: "
                               f"{p.last_error or p.last_error_code}", f"to enter by hand ({p.last_error_code})")
    if s is not None and p is None:
        return diff("not_posted", f"{label} is in the source but the ledger has no record of posting it; "
                                  f"run the period (posting_plan and quickbooks_postings) to send it",
                    "in the source, never posted")
    if s is not None and p.state == "held":
        return diff("held", f"{label} is held: {p.last_error or 'its date is in a closed period'}",
                    "held: its books are closed")
    if s is not None and p.state == "failed":
        return diff("failed", f"{label} is in the source but posting it failed: {p.last_error or 'see the ledger'}",
                    f"posting failed: {_brief(p.last_error or p.last_error_code or 'see the ledger')}")
    if s is not None and p.state != "posted":
        why = {
            "sending": "its last attempt has an unknown outcome; the next run settles it",
            "voided": "the bridge voided it (cancelled at the source, or reverted); the next run posts it afresh",
            "reverted": "it was reverted and since released or changed in the source; the next run posts it",
            "reverting": "a revert of it did not finish; run the revert again",
        }.get(p.state, f"its ledger state is {p.state}")
        return diff("not_posted", f"{label} is in the source but not posted: {why}", f"not posted, {p.state}")
    if s is None and p is not None and p.state == "posted":
        return diff("extra", f"{label} was posted by the bridge but is no longer in the source for this period; "
                             f"revert it, or check whether the source document was removed or re-dated",
                    "posted, no longer in the source")
    if s is not None and p.content_hash != s.content_hash:
        return diff("not_posted", f"{label} changed in the source after it was posted (the books hold an earlier "
                                  f"version); the next run updates it", "changed in the source since it was posted")
    if s is not None and compared.ledger_amount is not None and compared.ledger_amount != s.total:
        return diff("amount_differs", f"{label}: the destination confirmed {compared.ledger_amount} but the source "
                                      f"says {s.total} (did QuickBooks compute the tax itself? see QBO_TAX_OVERRIDE)",
                    "the destination confirmed another total than the source's")
    return None


def _ledger_vs_books(p: _Posting, m: BooksDocument | None, compared: Compared, view: BooksView) -> Difference | None:
    diff = _differ(compared)
    label = _label(compared.doc_type, compared.doc_number)
    books, where = view.platform, view.where(p.dest_id)
    if p.state == "voided" or (p.state == "reverted" and not p.dest_id):
        if m is not None and m.status == "active" and (m.total or ZERO) != 0:
            return diff("extra", f"{label} was voided or reverted by the bridge but is still open in {books} "
                                 f"({where}, total {m.total}); void or delete it there",
                        f"voided by the bridge, still open in {books} ({where})")
        return None
    if not p.in_destination:
        return None
    if m is None:
        return diff("missing", f"{label} was posted ({where}) but {books} has no such object (was the company "
                               f"restored from a backup?); re-enter it, or revert it in the bridge so it is posted afresh",
                    f"posted, not in {books} ({where})")
    if m.status == "deleted":
        when = f" on {m.changed_at:%Y-%m-%d %H:%M} UTC" if m.changed_at else ""
        return diff("missing", f"{label} was deleted in {books}{when} ({where}) after the bridge posted it; "
                               f"re-enter it, or revert it in the bridge if the deletion was right",
                    f"deleted in {books}{when} ({where})")
    if m.status == "voided":
        return diff("missing", f"{label} was voided in {books} ({where}) after the bridge posted it; "
                               f"re-enter it, or revert it in the bridge if the void was right",
                    f"voided in {books} ({where})")
    what = view.what_changed(p.after, m.raw) if p.after and m.raw else ""
    if what:
        if _token_moved(p.sync_token, m.version):
            when = f" at {m.changed_at:%Y-%m-%d %H:%M} UTC" if m.changed_at else ""
            return diff("edited_by_hand", f"{label} was changed in {books} after posting ({where}, {view.version_label} "
                                          f"{p.sync_token} -> {m.version}{when}): {what}. Undo the change in "
                                          f"{books}, or correct the source so the bridge posts the same",
                        f"changed in {books} after posting: {what}")
        return diff("amount_differs", f"{label} in {books} ({where}) differs from what the bridge posted: {what}",
                    f"differs in {books}: {what}")
    if compared.ledger_amount is not None and m.total is not None and compared.ledger_amount != m.total:
        return diff("amount_differs", f"{label}: {books} holds {m.total} ({where}) but the ledger says "
                                      f"{compared.ledger_amount} was posted",
                    f"{books} holds {m.total}, the ledger says {compared.ledger_amount}")
    return None


def reconcile_period(con: duckdb.DuckDBPyConnection, period: str, destination: str, *,
                     view: BooksView | None = None) -> PeriodReconciliation:
    """Compare source, ledger and (when `view` says how the destination's books were read back) the books."""
    ledger_schema.ensure_schema(con)
    ensure_schema(con)
    sources = _sources(con, period)
    postings = _postings(con, destination, period)
    stale = view.stale(con, destination, period) if view is not None else None
    reads_back_now = view is not None and not stale
    result = PeriodReconciliation(period, destination, reads_back_now, [], [], _now(), note=stale)
    if view is None:
        result.note = (f"{destination} is a file destination: it cannot be read back, so only the source and the "
                       f"ledger are compared")
    books: dict[tuple[str, str], BooksDocument] = {}
    if reads_back_now:
        books = view.documents(con, period, [(p.doc_type, p.dest_id) for p in postings.values() if p.dest_id])

    cancelled = _cancelled(con, [k for k in postings if k not in sources])
    kept = number_reuse.kept_posted(con, destination, list(postings))
    for key in sorted(set(sources) | set(postings)):
        s, p = sources.get(key), postings.get(key)
        m = books.get((p.doc_type, p.dest_id)) if (reads_back_now and p is not None and p.dest_id) else None
        compared = _compared(key, s, p, m)
        result.documents.append(compared)
        found = _source_vs_ledger(s, p, compared, cancelled.get(key), s is not None and (key, s.content_hash) in kept)
        if found is not None:
            result.differences.append(found)
        if reads_back_now and p is not None:
            found = _ledger_vs_books(p, m, compared, view)
            if found is not None:
                result.differences.append(found)

    if reads_back_now:
        result.differences += _extra_in_books(con, destination, period, books, result, view)
    if stale:
        result.differences.append(Difference("mirror_stale", None, None, None, None, None, None, None, stale))
    return result


def _compared(key: str, s: _Source | None, p: _Posting | None, m: BooksDocument | None) -> Compared:
    """One document's three amounts: the source's, the ledger's (what the destination confirmed) and the books'."""
    ledger_amount = None
    if p is not None and (p.state == "posted" or p.in_destination):
        ledger_amount = p.amount
        if ledger_amount is None and s is not None and s.content_hash == p.content_hash:
            ledger_amount = s.total
    in_books = m.total if m is not None and m.status == "active" else None
    customer = (s.customer if s else None) or (p.customer if p else None) or (m.customer if m else None) \
        or "(unknown customer)"
    return Compared(s.doc_type if s else p.doc_type, key, s.doc_number if s else p.doc_number, customer,
                    s.total if s else None, ledger_amount, in_books)


def _extra_in_books(con, destination: str, period: str, books: dict[tuple[str, str], BooksDocument],
                    result: PeriodReconciliation, view: BooksView) -> list[Difference]:
    """Transactions in the books, dated in the period, that the bridge did not post."""
    posted_ids = set(con.execute(
        "SELECT doc_type, dest_id FROM ledger_postings WHERE destination = ? AND dest_id IS NOT NULL",
        [destination]).fetchall())
    owned = set(con.execute(
        "SELECT doc_type, doc_number FROM ledger_postings WHERE destination = ?", [destination]).fetchall())
    owned |= canonical_reads.numbers(con)
    found, in_books = [], view.platform
    for (doc_type, dest_id), m in sorted(books.items()):
        if (doc_type, dest_id) in posted_ids or m.status != "active":
            continue
        if m.txn_date is None or f"{m.txn_date:%Y-%m}" != period or not m.total:
            continue   # another period; or moves no money: a $0 payment applying a credit memo, an empty invoice
        label = _label(doc_type, m.doc_number)
        if (doc_type, m.doc_number) in owned:
            detail = (f"{label} in {in_books} (Id {dest_id}, total {m.total}) carries a number of a source document, "
                      f"but it is not the one the bridge posted: a duplicate entered by hand? delete it in {in_books} "
                      f"or tell the bridge it is this document")
            finding = f"a second {label.lower()} in {in_books} (Id {dest_id}), not posted by the bridge"
        elif doc_type == "payment":
            continue   # payments received in the books themselves are the bookkeeper's, not the bridge's
        else:
            detail = (f"{label} (Id {dest_id}, total {m.total}) was entered in {in_books}, not by the bridge; "
                      f"if it belongs in the source, enter it there so the books and the billing agree")
            finding = f"entered in {in_books}, not by the bridge (Id {dest_id})"
        customer = m.customer or "(unknown customer)"
        result.documents.append(Compared(doc_type, None, m.doc_number, customer, None, None, m.total))
        found.append(Difference("extra", doc_type, None, m.doc_number, customer, None, None, m.total, detail, finding))
    return found


def read_back_neutral_books(db, names: Iterable[str], settings) -> list[tuple[str, str]]:
    """Read back, into the neutral store, the books of every destination without a mirror of its own
    (`NeutralBooks`: the ERPs), so reconciliation compares what they hold now. Returns (destination, what
    happened) per destination read; one that cannot be read is named, and reconciliation then says its books
    were not read back (or are stale) instead of failing."""
    done = []
    for name in names:
        try:
            with opened(name, settings) as destination:
                view = destination.books_view() if destination.capabilities.reads_back else None
                if isinstance(view, NeutralBooks):
                    refreshed = store.refresh(db, destination, view.book)
                    how = "everything" if refreshed.since is None else f"what changed since {refreshed.since:%Y-%m-%d %H:%M}"
                    done.append((name, f"{refreshed.documents} document(s) read back ({how})"))
        except Exception as problem:          # the platform is down or refuses: reconciliation says so
            done.append((name, f"its books could not be read back ({type(problem).__name__}: {problem})"))
    return done


def destinations_to_reconcile(names: Iterable[str], settings) -> dict[str, BooksView | None]:
    """{destination: how its books are read back, or None when it cannot be read back}."""
    out: dict[str, BooksView | None] = {}
    for name in names:
        with opened(name, settings) as destination:
            view = destination.books_view() if destination.capabilities.reads_back else None
            if isinstance(view, NeutralBooks):     # read back into the neutral store, not a mirror of its own
                view = store.store_view(name, view.book, view.platform, version_label=view.version_label,
                                        what_changed=view.what_changed)
            out[name] = view
    return out


def reconcile(con: duckdb.DuckDBPyConnection, periods: Sequence[str],
              destinations: dict[str, BooksView | None]) -> list[PeriodReconciliation]:
    """Every period for every destination ({name: how its books are read back, or None when they cannot
    be}), saved. Call inside a transaction."""
    results = [reconcile_period(con, period, name, view=view)
               for period in sorted(set(periods)) for name, view in destinations.items()]
    save(con, results)
    return results
