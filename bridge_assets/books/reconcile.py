"""Reconciliation per billing period and destination: does what the books hold match what the
source billed and what the ledger says was posted?

Three sides, compared document by document and then totalled per document type and per customer:
- source: `accounting_documents` of the period (the canonical documents);
- ledger: `ledger_postings` of the destination and period; the amount it says was posted is the
  total the destination confirmed (the `after` of the last successful event);
- books: the QuickBooks mirror (`qbo_mirror`), matched to the ledger by QuickBooks Id, plus every
  transaction dated in the period that the bridge did not post. File destinations (staging CSV, IIF)
  cannot be read back: for them only source and ledger are compared, and the result says so.

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
from typing import Any, Iterable, Sequence

import duckdb
import pandas as pd

from bridge_assets.canonical import cancellations
from bridge_assets.ledger import store as ledger
from bridge_assets.ledger import schema as ledger_schema
from bridge_assets.books import mirror
from bridge_assets.ledger import number_reuse
from bridge_assets.destinations.qbo.payloads import (
    ENTITY_BY_DOC_TYPE,
    decimal,
    differences as changed_fields,
    name_key,
    ref_value,
)
from bridge_assets.destinations.registry import opened
from bridge_assets.model.document import money

KINDS = {
    "missing": "posted per the ledger but missing from the books (absent, deleted or voided there)",
    "extra": "in the books (or the ledger) but not in the source as posted by the bridge",
    "amount_differs": "the amounts disagree",
    "edited_by_hand": "changed in QuickBooks after the bridge posted it",
    "not_posted": "in the source but not posted in its current version",
    "failed": "the destination refused it; the ledger says why",
    "held": "held: dated in a closed period, posts once the books reopen",
    "by_hand": "the destination cannot take it; the ledger asks a person to enter it by hand",
    "reverted": "reverted on purpose in the bridge; not posted again until released",
    "mirror_stale": "the QuickBooks mirror is older than the latest posting",
}
EXPLAINED = frozenset({"held", "failed", "by_hand", "reverted"})   # listed; the period still reconciles
SIGN = {"invoice": 1, "credit_memo": -1, "payment": -1}
DOC_TYPE_BY_ENTITY = {entity: doc_type for doc_type, entity in ENTITY_BY_DOC_TYPE.items()}
ZERO = Decimal("0.00")

SCHEMA_DDL = """
CREATE TABLE IF NOT EXISTS reconciliation_results (
    period VARCHAR NOT NULL, destination VARCHAR NOT NULL, reconciled BOOLEAN NOT NULL,
    differences INTEGER NOT NULL,          -- differences that fail the period
    explained INTEGER NOT NULL,            -- listed but not failing (held)
    difference_amount DECIMAL(18,2) NOT NULL,
    documents INTEGER NOT NULL,
    source_total DECIMAL(18,2) NOT NULL, ledger_total DECIMAL(18,2) NOT NULL,
    destination_total DECIMAL(18,2),       -- NULL when the destination cannot be read back
    books_read_back BOOLEAN NOT NULL, note VARCHAR, checked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (period, destination)
);
CREATE TABLE IF NOT EXISTS reconciliation_differences (
    period VARCHAR NOT NULL, destination VARCHAR NOT NULL, kind VARCHAR NOT NULL, fails BOOLEAN NOT NULL,
    doc_type VARCHAR, doc_key VARCHAR, doc_number VARCHAR, customer VARCHAR,
    source_amount DECIMAL(18,2), ledger_amount DECIMAL(18,2), destination_amount DECIMAL(18,2),
    detail VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS reconciliation_totals (
    period VARCHAR NOT NULL, destination VARCHAR NOT NULL, dimension VARCHAR NOT NULL, "key" VARCHAR NOT NULL,
    documents INTEGER NOT NULL, source_total DECIMAL(18,2), ledger_total DECIMAL(18,2),
    destination_total DECIMAL(18,2)
);
"""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_DDL)


@dataclasses.dataclass(frozen=True)
class Compared:
    """One document seen from the three sides (an amount is None where that side does not have it)."""

    doc_type: str
    doc_key: str | None
    doc_number: str | None
    customer: str
    source_amount: Decimal | None
    ledger_amount: Decimal | None
    destination_amount: Decimal | None


@dataclasses.dataclass(frozen=True)
class Difference:
    kind: str
    doc_type: str | None
    doc_key: str | None
    doc_number: str | None
    customer: str | None
    source_amount: Decimal | None
    ledger_amount: Decimal | None
    destination_amount: Decimal | None
    detail: str                         # the whole sentence: what was found and what to do
    finding: str | None = None          # what was found, briefly (an alert line has little room)

    @property
    def fails(self) -> bool:
        return self.kind not in EXPLAINED

    @property
    def amount(self) -> Decimal:
        """How much money the difference is about (for the plot over periods)."""
        s, l, d = self.source_amount, self.ledger_amount, self.destination_amount
        if self.kind == "missing":
            return abs(l if l is not None else s or ZERO)
        if self.kind == "extra":
            return abs(d if d is not None else l or ZERO)
        if self.kind in ("not_posted", "failed", "held", "by_hand", "reverted"):
            return abs((s or ZERO) - (l or ZERO))
        if self.kind in ("amount_differs", "edited_by_hand"):
            if l is not None and d is not None:
                return abs(l - d)
            return abs((s or ZERO) - (l or ZERO))
        return ZERO

    def failing_row(self) -> dict[str, Any]:
        """The shape the alerting sensor reads from a failed check's `failing` metadata."""
        return {"doc_number": self.doc_number, "kind": self.kind, "doc_type": self.doc_type,
                "customer": self.customer, "source_amount": _text(self.source_amount),
                "ledger_amount": _text(self.ledger_amount), "destination_amount": _text(self.destination_amount),
                "detail": self.finding or self.detail}


@dataclasses.dataclass
class PeriodReconciliation:
    period: str
    destination: str
    books_read_back: bool
    documents: list[Compared]
    differences: list[Difference]
    checked_at: dt.datetime
    note: str | None = None

    @property
    def failing(self) -> list[Difference]:
        return [d for d in self.differences if d.fails]

    @property
    def reconciled(self) -> bool:
        return not self.failing

    def _total(self, side: str) -> Decimal | None:
        values = [(SIGN.get(c.doc_type, 1), getattr(c, side)) for c in self.documents]
        if side == "destination_amount" and not self.books_read_back:
            return None
        return money(sum((sign * v for sign, v in values if v is not None), ZERO))

    @property
    def source_total(self) -> Decimal:
        return self._total("source_amount")

    @property
    def ledger_total(self) -> Decimal:
        return self._total("ledger_amount")

    @property
    def destination_total(self) -> Decimal | None:
        return self._total("destination_amount")

    @property
    def difference_amount(self) -> Decimal:
        return money(sum((d.amount for d in self.failing), ZERO))

    def by_doc_type(self) -> list[tuple[str, int, Decimal | None, Decimal | None, Decimal | None]]:
        """(doc type, documents, source, ledger, books), amounts unsigned."""
        return _grouped(self.documents, lambda c: c.doc_type, signed=False, books=self.books_read_back)

    def by_customer(self) -> list[tuple[str, int, Decimal | None, Decimal | None, Decimal | None]]:
        """(customer, documents, source, ledger, books), invoices less credits and payments."""
        names: dict[str, str] = {}
        for c in self.documents:
            names.setdefault(name_key(c.customer), c.customer)
        return _grouped(self.documents, lambda c: names[name_key(c.customer)], signed=True, books=self.books_read_back)

    def explained_note(self) -> str:
        """" (2 held document(s) waiting for the books to reopen)" or "" when nothing is explained away."""
        counts = {kind: sum(1 for d in self.differences if d.kind == kind) for kind in EXPLAINED}
        words = {"held": "held document(s) waiting for the books to reopen",
                 "failed": "document(s) the destination refused (see the failed documents)",
                 "by_hand": "document(s) the destination cannot take, to enter by hand",
                 "reverted": "document(s) reverted on purpose"}
        parts = [f"{counts[kind]} {words[kind]}" for kind in ("held", "failed", "by_hand", "reverted") if counts[kind]]
        return f" ({'; '.join(parts)})" if parts else ""

    def summary(self) -> str:
        if self.reconciled:
            return f"{self.period} {self.destination}: reconciles{self.explained_note()}"
        kinds: dict[str, int] = {}
        for d in self.failing:
            kinds[d.kind] = kinds.get(d.kind, 0) + 1
        listed = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(kinds.items()))
        return f"{self.period} {self.destination}: does not reconcile ({listed}; {self.difference_amount} at stake)"


def _grouped(documents: Iterable[Compared], key, *, signed: bool, books: bool) -> list[tuple]:
    groups: dict[str, list[Compared]] = {}
    for c in documents:
        groups.setdefault(key(c), []).append(c)

    def total(items: list[Compared], side: str) -> Decimal | None:
        if side == "destination_amount" and not books:
            return None
        return money(sum(((SIGN.get(c.doc_type, 1) if signed else 1) * getattr(c, side)
                          for c in items if getattr(c, side) is not None), ZERO))

    return [(name, len(items), total(items, "source_amount"), total(items, "ledger_amount"),
             total(items, "destination_amount")) for name, items in sorted(groups.items())]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


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


@dataclasses.dataclass(frozen=True)
class _InBooks:
    entity: str
    id: str
    doc_number: str | None
    customer: str | None
    total: Decimal | None
    sync_token: str | None
    last_updated: dt.datetime | None
    status: str
    raw: dict | None


def _sources(con, period: str) -> dict[str, _Source]:
    """The period's current documents; one cancelled at the source is not among them."""
    rows = con.execute(
        "SELECT doc_key, doc_type, doc_number, customer_name, total, content_hash FROM accounting_documents "
        f"WHERE period = ? AND doc_key NOT IN (SELECT doc_key FROM {cancellations.TABLE})", [period]).fetchall()
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


def _books(con, realm_id: str, period: str, ids: Iterable[tuple[str, str]]) -> dict[tuple[str, str], _InBooks]:
    wanted = sorted({f"{entity}:{i}" for entity, i in ids})
    rows = con.execute(
        "SELECT entity, id, doc_number, customer_name, total, sync_token, last_updated, status, raw FROM qbo_mirror "
        "WHERE realm_id = ? AND entity IN ('Invoice', 'CreditMemo', 'Payment') "
        "AND (period = ? OR entity || ':' || id IN (SELECT unnest(?)))", [realm_id, period, wanted]).fetchall()
    return {(r[0], r[1]): _InBooks(r[0], r[1], r[2], r[3], None if r[4] is None else money(r[4]), r[5], r[6], r[7],
                                   mirror.load_raw(r[8])) for r in rows}


def _period_of(row: _InBooks) -> str | None:
    date = (row.raw or {}).get("TxnDate")
    return str(date)[:7] if date else None


# --- comparing ------------------------------------------------------------------------------------


def _token_moved(recorded: str | None, current: str | None) -> bool:
    if recorded is None or current is None:
        return False
    try:
        return int(current) > int(recorded)
    except ValueError:
        return current != recorded


def _what_changed(before: dict, now: dict, fields: Sequence[str]) -> str:
    parts = []
    for field in fields:
        if field == "TotalAmt":
            parts.append(f"total {money(decimal(before.get('TotalAmt')))} -> {money(decimal(now.get('TotalAmt')))}")
        elif field == "TotalTax":
            was = (before.get("TxnTaxDetail") or {}).get("TotalTax")
            is_ = (now.get("TxnTaxDetail") or {}).get("TotalTax")
            parts.append(f"tax {money(decimal(was))} -> {money(decimal(is_))}")
        elif field == "CustomerRef":
            was, is_ = before.get("CustomerRef") or {}, now.get("CustomerRef") or {}
            parts.append(f"customer {was.get('name') or ref_value(was)} -> {is_.get('name') or ref_value(is_)}")
        elif field in ("TxnDate", "DueDate", "DocNumber", "PaymentRefNum"):
            label = {"TxnDate": "date", "DueDate": "due date", "DocNumber": "number",
                     "PaymentRefNum": "reference number"}[field]
            parts.append(f"{label} {before.get(field)} -> {now.get(field)}")
        elif field == "Line":
            parts.append("lines changed")
        elif field == "PrivateNote":
            parts.append("memo changed")
        else:
            parts.append(f"{field} changed")
    return "; ".join(parts)


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


def _ledger_vs_books(p: _Posting, m: _InBooks | None, compared: Compared) -> Difference | None:
    diff = _differ(compared)
    label = _label(compared.doc_type, compared.doc_number)
    where = f"QuickBooks Id {p.dest_id}"
    if p.state == "voided" or (p.state == "reverted" and not p.dest_id):
        if m is not None and m.status == "active" and (m.total or ZERO) != 0:
            return diff("extra", f"{label} was voided or reverted by the bridge but is still open in QuickBooks "
                                 f"({where}, total {m.total}); void or delete it there",
                        f"voided by the bridge, still open in QuickBooks ({where})")
        return None
    if not p.in_destination:
        return None
    if m is None:
        return diff("missing", f"{label} was posted ({where}) but QuickBooks has no such object (was the company "
                               f"restored from a backup?); re-enter it, or revert it in the bridge so it is posted afresh",
                    f"posted, not in QuickBooks ({where})")
    if m.status == "deleted":
        when = f" on {m.last_updated:%Y-%m-%d %H:%M} UTC" if m.last_updated else ""
        return diff("missing", f"{label} was deleted in QuickBooks{when} ({where}) after the bridge posted it; "
                               f"re-enter it, or revert it in the bridge if the deletion was right",
                    f"deleted in QuickBooks{when} ({where})")
    if m.status == "voided":
        return diff("missing", f"{label} was voided in QuickBooks ({where}) after the bridge posted it; "
                               f"re-enter it, or revert it in the bridge if the void was right",
                    f"voided in QuickBooks ({where})")
    moved = _token_moved(p.sync_token, m.sync_token)
    fields = changed_fields(p.after, m.raw) if p.after and m.raw else []
    if fields:
        what = _what_changed(p.after, m.raw, fields)
        if moved:
            when = f" at {m.last_updated:%Y-%m-%d %H:%M} UTC" if m.last_updated else ""
            return diff("edited_by_hand", f"{label} was changed in QuickBooks after posting ({where}, SyncToken "
                                          f"{p.sync_token} -> {m.sync_token}{when}): {what}. Undo the change in "
                                          f"QuickBooks, or correct the source so the bridge posts the same",
                        f"changed in QuickBooks after posting: {what}")
        return diff("amount_differs", f"{label} in QuickBooks ({where}) differs from what the bridge posted: {what}",
                    f"differs in QuickBooks: {what}")
    if compared.ledger_amount is not None and m.total is not None and compared.ledger_amount != m.total:
        return diff("amount_differs", f"{label}: QuickBooks holds {m.total} ({where}) but the ledger says "
                                      f"{compared.ledger_amount} was posted",
                    f"QuickBooks holds {m.total}, the ledger says {compared.ledger_amount}")
    return None


def reconcile_period(con: duckdb.DuckDBPyConnection, period: str, destination: str, *,
                     realm_id: str | None = None) -> PeriodReconciliation:
    """Compare source, ledger and (when `realm_id` names the mirrored QuickBooks company) the books."""
    ledger_schema.ensure_schema(con)
    ensure_schema(con)
    mirror.ensure_schema(con)
    reads_back = realm_id is not None
    sources = _sources(con, period)
    postings = _postings(con, destination, period)

    stale = None
    if reads_back:
        known = mirror.state(con, realm_id)
        missing_entities = [e for e in mirror.TRANSACTIONS if e not in known]
        latest = con.execute("SELECT max(updated_at) FROM ledger_postings WHERE destination = ? AND period = ?",
                             [destination, period]).fetchall()[0][0]
        if missing_entities:
            stale = (f"the QuickBooks mirror of company {realm_id} has not read {', '.join(missing_entities)} yet; "
                     f"materialize the quickbooks_mirror asset, then reconcile {period} again")
        else:
            covers = min(known[e][1] for e in mirror.TRANSACTIONS)
            if latest is not None and latest >= covers:
                stale = (f"the QuickBooks mirror was last read at {covers:%Y-%m-%d %H:%M:%S} UTC, before the latest "
                         f"posting for {period} ({latest:%Y-%m-%d %H:%M:%S} UTC); materialize quickbooks_mirror, "
                         f"then reconcile {period} again")
    reads_back_now = reads_back and not stale
    result = PeriodReconciliation(period, destination, reads_back_now, [], [], _now(), note=stale)
    if not reads_back:
        result.note = (f"{destination} is a file destination: it cannot be read back, so only the source and the "
                       f"ledger are compared")

    books: dict[tuple[str, str], _InBooks] = {}
    if reads_back_now:
        ids = [(ENTITY_BY_DOC_TYPE[p.doc_type], p.dest_id) for p in postings.values()
               if p.dest_id and p.doc_type in ENTITY_BY_DOC_TYPE]
        books = _books(con, realm_id, period, ids)

    cancelled = _cancelled(con, [k for k in postings if k not in sources])
    kept = number_reuse.kept_posted(con, destination, list(postings))
    for key in sorted(set(sources) | set(postings)):
        s, p = sources.get(key), postings.get(key)
        doc_type = s.doc_type if s else p.doc_type
        entity = ENTITY_BY_DOC_TYPE.get(doc_type)
        m = books.get((entity, p.dest_id)) if (reads_back_now and p is not None and p.dest_id) else None
        ledger_amount = None
        if p is not None and (p.state == "posted" or p.in_destination):
            ledger_amount = p.amount
            if ledger_amount is None and s is not None and s.content_hash == p.content_hash:
                ledger_amount = s.total
        in_books = None
        if reads_back_now and m is not None and m.status == "active":
            in_books = m.total
        customer = (s.customer if s else None) or (p.customer if p else None) or (m.customer if m else None) \
            or "(unknown customer)"
        compared = Compared(doc_type, key, s.doc_number if s else p.doc_number, customer,
                            s.total if s else None, ledger_amount, in_books)
        result.documents.append(compared)
        found = _source_vs_ledger(s, p, compared, cancelled.get(key), s is not None and (key, s.content_hash) in kept)
        if found is not None:
            result.differences.append(found)
        if reads_back_now and p is not None:
            found = _ledger_vs_books(p, m, compared)
            if found is not None:
                result.differences.append(found)

    if reads_back_now:
        result.differences += _extra_in_books(con, destination, period, books, result)
    if stale:
        result.differences.append(Difference("mirror_stale", None, None, None, None, None, None, None, stale))
    return result


def _extra_in_books(con, destination: str, period: str, books: dict[tuple[str, str], _InBooks],
                    result: PeriodReconciliation) -> list[Difference]:
    """Transactions in the books, dated in the period, that the bridge did not post."""
    posted_ids = {(ENTITY_BY_DOC_TYPE.get(t), i) for t, i in con.execute(
        "SELECT doc_type, dest_id FROM ledger_postings WHERE destination = ? AND dest_id IS NOT NULL",
        [destination]).fetchall()}
    owned = {(ENTITY_BY_DOC_TYPE.get(t), n) for t, n in con.execute(
        "SELECT doc_type, doc_number FROM ledger_postings WHERE destination = ? "
        "UNION SELECT doc_type, doc_number FROM accounting_documents", [destination]).fetchall()}
    found = []
    for (entity, entity_id), m in sorted(books.items()):
        if (entity, entity_id) in posted_ids or m.status != "active" or _period_of(m) != period:
            continue
        if not m.total:
            continue   # moves no money: a $0 payment applying a credit memo, an empty invoice
        doc_type = DOC_TYPE_BY_ENTITY[entity]
        label = _label(doc_type, m.doc_number)
        if (entity, m.doc_number) in owned:
            detail = (f"{label} in QuickBooks (Id {entity_id}, total {m.total}) carries a number of a source document, "
                      f"but it is not the one the bridge posted: a duplicate entered by hand? delete it in QuickBooks "
                      f"or tell the bridge it is this document")
            finding = f"a second {label.lower()} in QuickBooks (Id {entity_id}), not posted by the bridge"
        elif entity == "Payment":
            continue   # payments received in QuickBooks itself are the bookkeeper's, not the bridge's
        else:
            detail = (f"{label} (Id {entity_id}, total {m.total}) was entered in QuickBooks, not by the bridge; "
                      f"if it belongs in the source, enter it there so the books and the billing agree")
            finding = f"entered in QuickBooks, not by the bridge (Id {entity_id})"
        customer = m.customer or "(unknown customer)"
        result.documents.append(Compared(doc_type, None, m.doc_number, customer, None, None, m.total))
        found.append(Difference("extra", doc_type, None, m.doc_number, customer, None, None, m.total, detail, finding))
    return found


# --- saving ---------------------------------------------------------------------------------------


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """One statement per table: DuckDB writes a registered frame far faster than row by row. Money goes
    in as exact text and is cast by the column's DECIMAL type, never through float."""
    if not rows:
        return
    frame = pd.DataFrame([[str(v) if isinstance(v, Decimal) else v for v in row] for row in rows],
                         columns=list(columns), dtype=object)
    con.register("_reconciliation_rows", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _reconciliation_rows")
    finally:
        con.unregister("_reconciliation_rows")


def save(con: duckdb.DuckDBPyConnection, results: Sequence[PeriodReconciliation]) -> None:
    """Replace the stored results of these periods and destinations (call inside a transaction)."""
    ensure_schema(con)
    for r in results:
        for table in ("reconciliation_results", "reconciliation_differences", "reconciliation_totals"):
            con.execute(f"DELETE FROM {table} WHERE period = ? AND destination = ?", [r.period, r.destination])
    _insert(con, "reconciliation_results",
            ["period", "destination", "reconciled", "differences", "explained", "difference_amount", "documents",
             "source_total", "ledger_total", "destination_total", "books_read_back", "note", "checked_at"],
            [[r.period, r.destination, r.reconciled, len(r.failing), len(r.differences) - len(r.failing),
              r.difference_amount, len(r.documents), r.source_total, r.ledger_total, r.destination_total,
              r.books_read_back, r.note, r.checked_at] for r in results])
    _insert(con, "reconciliation_differences",
            ["period", "destination", "kind", "fails", "doc_type", "doc_key", "doc_number", "customer",
             "source_amount", "ledger_amount", "destination_amount", "detail"],
            [[r.period, r.destination, d.kind, d.fails, d.doc_type, d.doc_key, d.doc_number, d.customer,
              d.source_amount, d.ledger_amount, d.destination_amount, d.detail] for r in results for d in r.differences])
    _insert(con, "reconciliation_totals",
            ["period", "destination", "dimension", "key", "documents", "source_total", "ledger_total",
             "destination_total"],
            [[r.period, r.destination, dimension, *row] for r in results
             for dimension, rows in (("doc_type", r.by_doc_type()), ("customer", r.by_customer())) for row in rows])


def destinations_to_reconcile(names: Iterable[str], settings) -> dict[str, str | None]:
    """{destination: realm id of its QuickBooks mirror, or None when it cannot be read back}."""
    out: dict[str, str | None] = {}
    for name in names:
        with opened(name, settings) as destination:
            reads_back = destination.capabilities.reads_back and getattr(destination, "realm_id", None)
            out[name] = str(destination.realm_id) if reads_back else None
    return out


def reconcile(con: duckdb.DuckDBPyConnection, periods: Sequence[str],
              destinations: dict[str, str | None]) -> list[PeriodReconciliation]:
    """Every period for every destination ({name: realm id of its mirror, or None when it cannot be
    read back}), saved. Call inside a transaction."""
    results = [reconcile_period(con, period, name, realm_id=realm)
               for period in sorted(set(periods)) for name, realm in destinations.items()]
    save(con, results)
    return results
