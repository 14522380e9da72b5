"""What each billing period holds, period by period, as plain data: the figures the UI shows on each
period's materialization (a run over several periods records every period's own, never the range's).

Read-only SQL over the tables the pipeline writes; nothing here knows Dagster (defs/period_metadata.py
turns these into metadata). Money is Decimal; a credit or a payment counts against the invoices
(`SIGN`), as the reconciliation totals do.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Sequence

import duckdb

from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.model.outcome import BY_HAND_CODES
from bridge_assets.sources import sedona_lines

ZERO = Decimal("0.00")
_SIGNED_TOTAL = "CASE d.doc_type WHEN 'invoice' THEN d.total ELSE -d.total END"
_BY_HAND = sorted(BY_HAND_CODES.values())


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


# --- received lines ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReceivedFile:
    name: str
    sha256: str
    lines: int
    received_at: str
    replaces: str | None            # the sha256 of the earlier version of the same file, if this is a re-export


@dataclasses.dataclass(frozen=True)
class PeriodLines:
    lines: int = 0                  # every row held for the period (export files and SedonaAPI)
    sedona_api_rows: int = 0        # of them, rows written from SedonaAPI pulls (not files)
    files: tuple[ReceivedFile, ...] = ()   # export files only

    @property
    def re_exports(self) -> int:
        return sum(1 for f in self.files if f.replaces)


def received_lines(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> dict[str, PeriodLines]:
    """Per period: its lines, how many came from SedonaAPI, and the export files that hold them (a
    SedonaAPI load is not a file, a new version of an earlier file says so)."""
    out = {p: PeriodLines() for p in periods}
    if sedona_lines.LINES_TABLE not in _tables(con):
        return out
    rows = con.execute(
        f"SELECT l.period, l.file_sha256, any_value(l.file_name), count(*), any_value(f.received_at), "
        f"any_value(f.supersedes) FROM {sedona_lines.LINES_TABLE} l "
        f"LEFT JOIN {sedona_lines.FILES_TABLE} f ON f.file_sha256 = l.file_sha256 "
        "WHERE l.period IN (SELECT unnest(?)) GROUP BY 1, 2 ORDER BY 1, 5, 3", [list(periods)]).fetchall()
    for period, sha, name, lines, received_at, replaces in rows:
        held = out[period]
        api = name.startswith(sedona_lines.FILE_NAME_PREFIX)
        files = held.files if api else held.files + (ReceivedFile(
            name, sha, lines, received_at.isoformat(sep=" ", timespec="seconds") if received_at else "", replaces),)
        out[period] = PeriodLines(held.lines + lines, held.sedona_api_rows + (lines if api else 0), files)
    return out


# --- canonical documents -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PeriodDocuments:
    count: int
    by_source: list[tuple]          # (source, doc_type, documents, total as text)
    by_type: list[tuple]            # (doc_type, documents, subtotal, tax, total)
    lines_by_kind: list[tuple]      # (kind, lines, amount)
    preview: list[tuple]            # (number, type, date, customer, lines, total)
    rejected: int
    rejected_rows: list[tuple]      # (document, file, rows, why)
    signed_total: Decimal


def documents(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> dict[str, PeriodDocuments]:
    """Per period: its canonical documents per source and type, lines per kind, a preview, the rejected."""
    out = {}
    for p in periods:
        by_source = [row[1:] for row in canonical_reads.totals_by_source(con, [p])]
        rejected_rows = con.execute(
            "SELECT source_id, file_name, rows, reasons FROM rejected_documents WHERE period = ? "
            "ORDER BY file_name, rows LIMIT 50", [p]).fetchall()
        rejected = con.execute("SELECT count(*) FROM rejected_documents WHERE period = ?", [p]).fetchall()[0][0]
        signed = con.execute(f"SELECT sum({_SIGNED_TOTAL}) FROM accounting_documents d WHERE d.period = ?",
                             [p]).fetchall()[0][0]
        out[p] = PeriodDocuments(
            count=sum(r[2] for r in by_source), by_source=by_source,
            by_type=[row[1:] for row in canonical_reads.totals_by_type(con, [p])],
            lines_by_kind=canonical_reads.line_totals_by_kind(con, [p]),
            preview=canonical_reads.preview(con, [p], limit=15), rejected=rejected, rejected_rows=rejected_rows,
            signed_total=signed if signed is not None else ZERO)
    return out


# --- the plan ------------------------------------------------------------------------------------


def plan(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """Per period: (destination, action, documents, total) and the first documents that are not skipped."""
    out = {}
    for p in periods:
        actions = con.execute(
            "SELECT destination, action, count(*), CAST(sum(total) AS VARCHAR) FROM posting_plan WHERE period = ? "
            "GROUP BY ALL ORDER BY ALL", [p]).fetchall()
        preview = con.execute(
            "SELECT destination, action, doc_number, doc_type, CAST(total AS VARCHAR), reason FROM posting_plan "
            "WHERE period = ? AND action <> 'skip' ORDER BY destination, txn_date, doc_number LIMIT 20", [p]).fetchall()
        out[p] = (actions, preview)
    return out


# --- the ledger: postings per period and destination -----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Problem:
    doc_number: str
    doc_type: str
    state: str                      # failed | held
    code: str
    message: str


@dataclasses.dataclass(frozen=True)
class DestinationPeriod:
    destination: str
    states: dict[str, int]          # ledger state -> documents (by hand counted apart from failed)
    money_in: Decimal               # the period's documents, signed (what the source says)
    money_posted: Decimal           # of them, what the ledger says this destination holds
    by_hand: list[tuple]            # (doc_type, documents, total): what a person enters by hand
    problems: list[Problem]         # failed (refused) and held documents, failed first
    file_names: list[str]           # the files a file destination wrote the period's documents to

    def count(self, state: str) -> int:
        return self.states.get(state, 0)


_STATES_SQL = """
    SELECT l.destination,
           CASE WHEN l.state = 'failed' AND l.last_error_code IN (SELECT unnest(?)) THEN 'by_hand' ELSE l.state END,
           count(*)
    FROM ledger_postings l WHERE l.period = ? GROUP BY ALL ORDER BY ALL
"""
_MONEY_SQL = f"""
    SELECT l.destination, sum({_SIGNED_TOTAL}) FILTER (WHERE l.state = 'posted')
    FROM ledger_postings l JOIN accounting_documents d USING (doc_key) WHERE l.period = ? GROUP BY ALL
"""
_BY_HAND_SQL = """
    SELECT l.destination, d.doc_type, count(*), sum(d.total) FROM ledger_postings l JOIN accounting_documents d
    USING (doc_key) WHERE l.period = ? AND l.state = 'failed' AND l.last_error_code IN (SELECT unnest(?))
    GROUP BY ALL ORDER BY ALL
"""
_PROBLEMS_SQL = """
    SELECT destination, doc_number, doc_type, state, coalesce(last_error_code, ''), coalesce(last_error, '')
    FROM ledger_postings WHERE period = ? AND (state = 'held' OR (state = 'failed'
         AND coalesce(last_error_code, '') NOT IN (SELECT unnest(?))))
    ORDER BY destination, state, doc_number
"""
_FILES_SQL = """
    SELECT DISTINCT destination, split_part(dest_id, '#', 1) FROM ledger_postings
    WHERE period = ? AND dest_id LIKE '%#%' ORDER BY ALL
"""


def postings(con: duckdb.DuckDBPyConnection, periods: Sequence[str],
             destinations: Sequence[str]) -> dict[str, list[DestinationPeriod]]:
    """Per period, per destination: documents per ledger state, money in and posted, what is by hand,
    the failed and held documents with their reasons, and the files written."""
    out: dict[str, list[DestinationPeriod]] = {}
    has_ledger = "ledger_postings" in _tables(con)
    for p in periods:
        states, money, by_hand, problems, files = {}, {}, {}, {}, {}
        if has_ledger:
            for dest, state, n in con.execute(_STATES_SQL, [_BY_HAND, p]).fetchall():
                states.setdefault(dest, {})[state] = n
            money = dict(con.execute(_MONEY_SQL, [p]).fetchall())
            for dest, doc_type, n, total in con.execute(_BY_HAND_SQL, [p, _BY_HAND]).fetchall():
                by_hand.setdefault(dest, []).append((doc_type, n, total))
            for dest, *row in con.execute(_PROBLEMS_SQL, [p, _BY_HAND]).fetchall():
                problems.setdefault(dest, []).append(Problem(*row))
            for dest, name in con.execute(_FILES_SQL, [p]).fetchall():
                files.setdefault(dest, []).append(name)
        money_in = con.execute(f"SELECT sum({_SIGNED_TOTAL}) FROM accounting_documents d WHERE d.period = ?",
                               [p]).fetchall()[0][0] if "accounting_documents" in _tables(con) else None
        out[p] = [DestinationPeriod(
            destination=d, states=states.get(d, {}), money_in=money_in if money_in is not None else ZERO,
            money_posted=money.get(d) or ZERO, by_hand=by_hand.get(d, []),
            problems=sorted(problems.get(d, []), key=lambda x: (x.state != "failed", x.doc_number)),
            file_names=files.get(d, [])) for d in destinations]
    return out
