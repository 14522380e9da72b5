"""The platform-neutral mirror store: what a destination's `read_back(since)` returned, in one table keyed
by destination, for reconciliation and for SQL beside the source.

`books_mirror` holds one row per (destination, book, doc_type, dest_id) with the columns of
`BooksDocument`; `books_mirror_state` says per destination and book until when the store is known to
be complete (`covers_until`: our clock just before the last read began). A refresh reads changes since
that moment less an overlap (re-reading a document is harmless, missing one is not), with no database
connection open while the platform is asked, then writes them in one short transaction.

QuickBooks Online keeps its own richer mirror (`qbo_mirror`: change data capture, deletes, customers
and items; destinations/qbo/mirror.py), which its BooksView reads; this store is the one a platform
without a mirror of its own gets from `read_back` alone (`store_view`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from typing import Callable, Sequence

import duckdb

from bridge_assets.destinations.base import BooksDocument, BooksView, Destination
from bridge_assets.books.schema import ensure_schema  # the books' tables, made once per process
from bridge_assets.runtime.storage import Database
from bridge_assets.runtime.frames import object_frame

OVERLAP = dt.timedelta(minutes=5)

SCHEMA_DDL = """
CREATE TABLE IF NOT EXISTS books_mirror (
    destination VARCHAR NOT NULL, book VARCHAR NOT NULL, doc_type VARCHAR NOT NULL, dest_id VARCHAR NOT NULL,
    doc_number VARCHAR, txn_date DATE, period VARCHAR, customer VARCHAR,
    total DECIMAL(18,2), balance DECIMAL(18,2),
    status VARCHAR NOT NULL,            -- active | voided | deleted
    version VARCHAR, changed_at TIMESTAMP,
    raw VARCHAR,                        -- the document as the platform gave it (JSON), when it gave one
    mirrored_at TIMESTAMP NOT NULL,
    PRIMARY KEY (destination, book, doc_type, dest_id)
);
CREATE TABLE IF NOT EXISTS books_mirror_state (
    destination VARCHAR NOT NULL, book VARCHAR NOT NULL,
    covers_until TIMESTAMP NOT NULL,    -- our time (UTC) just before the last read: every change before it is in
    documents INTEGER NOT NULL,         -- documents the last read returned
    refreshed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (destination, book)
);
"""

_COLUMNS = ["destination", "book", "doc_type", "dest_id", "doc_number", "txn_date", "period", "customer", "total",
            "balance", "status", "version", "changed_at", "raw", "mirrored_at"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True)
class Refreshed:
    destination: str
    book: str
    since: dt.datetime | None          # None: a full read
    documents: int


def covers_until(con: duckdb.DuckDBPyConnection, destination: str, book: str) -> dt.datetime | None:
    ensure_schema(con)
    row = con.execute("SELECT covers_until FROM books_mirror_state WHERE destination = ? AND book = ?",
                      [destination, book]).fetchone()
    return row[0] if row else None


def refresh(db: Database, destination: Destination, book: str, *, full: bool = False,
            clock: Callable[[], dt.datetime] = _now) -> Refreshed:
    """Read back what changed since the store was last complete (everything the first time, or `full`)."""
    with db.connect() as con:
        known = None if full else covers_until(con, destination.name, book)
    since = None if known is None else known - OVERLAP
    started = clock()
    documents = destination.read_back(since)            # no connection open while the platform answers
    with db.transaction() as con:
        write(con, destination.name, book, documents, mirrored_at=started)
        con.execute("INSERT OR REPLACE INTO books_mirror_state VALUES (?, ?, ?, ?, ?)",
                    [destination.name, book, started, len(documents), clock()])
    return Refreshed(destination.name, book, since, len(documents))


def write(con: duckdb.DuckDBPyConnection, destination: str, book: str, documents: Sequence[BooksDocument], *,
          mirrored_at: dt.datetime) -> None:
    """Insert or replace these documents of one destination's book (money as exact text, never float)."""
    ensure_schema(con)
    if not documents:
        return
    rows = [[destination, book, d.doc_type, d.dest_id, d.doc_number, d.txn_date,
             f"{d.txn_date:%Y-%m}" if d.txn_date else None, d.customer,
             None if d.total is None else str(d.total), None if d.balance is None else str(d.balance),
             d.status, d.version, d.changed_at, None if d.raw is None else json.dumps(d.raw, default=str),
             mirrored_at] for d in documents]
    con.register("_books_rows", object_frame(rows, _COLUMNS))
    try:
        con.execute("INSERT OR REPLACE INTO books_mirror BY NAME SELECT * FROM _books_rows")
    finally:
        con.unregister("_books_rows")


def documents(con: duckdb.DuckDBPyConnection, destination: str, book: str, period: str,
              ids: Sequence[tuple[str, str]]) -> dict[tuple[str, str], BooksDocument]:
    """The book's documents dated in `period`, and the ones named by (doc_type, dest_id)."""
    ensure_schema(con)
    wanted = sorted({f"{doc_type}:{dest_id}" for doc_type, dest_id in ids})
    rows = con.execute(
        "SELECT doc_type, doc_number, dest_id, txn_date, customer, total, balance, status, version, changed_at, raw "
        "FROM books_mirror WHERE destination = ? AND book = ? "
        "AND (period = ? OR doc_type || ':' || dest_id IN (SELECT unnest(?)))",
        [destination, book, period, wanted]).fetchall()
    return {(r[0], r[2]): BooksDocument(*r[:10], raw=json.loads(r[10], parse_float=Decimal) if r[10] else None)
            for r in rows}


def _stale(con: duckdb.DuckDBPyConnection, destination: str, book: str, period: str) -> str | None:
    covers = covers_until(con, destination, book)
    if covers is None:
        return (f"the books of {destination} ({book}) have not been read back yet; read them back, then reconcile "
                f"{period} again")
    latest = con.execute("SELECT max(updated_at) FROM ledger_postings WHERE destination = ? AND period = ?",
                         [destination, period]).fetchall()[0][0]
    if latest is not None and latest >= covers:
        return (f"the books of {destination} were last read back at {covers:%Y-%m-%d %H:%M:%S} UTC, before the "
                f"latest posting for {period} ({latest:%Y-%m-%d %H:%M:%S} UTC); read them back, then reconcile "
                f"{period} again")
    return None


def _totals_only(sent: dict, held: dict) -> str:
    """No field-by-field comparison: the totals are compared (a platform passes its own `what_changed`)."""
    return ""


def store_view(destination: str, book: str, platform: str, *, version_label: str = "version",
               what_changed: Callable[[dict, dict], str] = _totals_only) -> BooksView:
    """A BooksView over this store, for a platform whose read-back lands here."""
    return BooksView(
        destination=destination, book=book, platform=platform, version_label=version_label,
        stale=lambda con, name, period: _stale(con, name, book, period),
        documents=lambda con, period, ids: documents(con, destination, book, period, ids),
        what_changed=what_changed,
    )
