"""The credit queue: documents held because the books are closed for their date, and when to replay them.

It also lists documents held for a person (number reused, see number_reuse.py); those are never replayed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Sequence

import duckdb

from bridge_assets.canonical.reads import documents_table

HELD_SQL = f"""
    SELECT l.destination, l.period, l.doc_key, l.doc_number, l.doc_type, d.txn_date, CAST(d.total AS VARCHAR), l.last_error
    FROM ledger_postings l JOIN {documents_table()} d USING (doc_key)
    WHERE l.state = 'held' AND l.period IN (SELECT unnest(?))
    ORDER BY l.destination, l.period, d.txn_date, l.doc_number
"""


@dataclasses.dataclass(frozen=True)
class HeldPeriod:
    destination: str
    period: str
    documents: int
    earliest: dt.date
    latest: dt.date


def held_periods(con: duckdb.DuckDBPyConnection) -> list[HeldPeriod]:
    rows = con.execute(
        f"""SELECT l.destination, l.period, count(*), min(d.txn_date), max(d.txn_date)
           FROM ledger_postings l JOIN {documents_table()} d USING (doc_key)
           -- a document held because its number was reused waits for a person, not for the books to reopen
           WHERE l.state = 'held' AND coalesce(l.last_error_code, '') <> 'number_reused'
           GROUP BY ALL ORDER BY ALL"""
    ).fetchall()
    return [HeldPeriod(*r) for r in rows]


def ready_to_replay(held: Sequence[HeldPeriod], book_close: dict[str, dt.date | None]) -> list[HeldPeriod]:
    """Periods with at least one held document now dated after its destination's close date."""
    return [h for h in held if book_close.get(h.destination) is None or h.latest > book_close[h.destination]]
