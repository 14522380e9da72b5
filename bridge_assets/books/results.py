"""Reconciliation results: the kinds of difference, the compared documents, a period's result with its
totals per document type and customer, and their three tables (`reconciliation_results`,
`reconciliation_differences`, `reconciliation_totals`). The comparing is in reconcile.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal
from typing import Any, Iterable, Sequence

import duckdb

from bridge_assets.books.schema import ensure_schema  # the books' tables, made once per process
from bridge_assets.model.document import money
from bridge_assets.runtime.frames import object_frame

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
ZERO = Decimal("0.00")
_NAME_SEPARATOR = re.compile(r"\s*:\s*")


def name_key(text: str) -> str:
    """Customer names grouped without regard to case, repeated spaces or ':' (shown as ' - ')."""
    return " ".join(_NAME_SEPARATOR.sub(" - ", text).split()).casefold()


def decimal(value: Any) -> Decimal:
    return Decimal("0") if value is None or value == "" else Decimal(str(value))

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


# --- saving ---------------------------------------------------------------------------------------


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """One statement per table: DuckDB writes a registered frame far faster than row by row. Money goes
    in as exact text and is cast by the column's DECIMAL type, never through float."""
    if not rows:
        return
    frame = object_frame([[str(v) if isinstance(v, Decimal) else v for v in row] for row in rows], columns)
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
