"""A posted document whose number now carries another customer, or another billing period, waits for a person.

SedonaOffice reuses invoice numbers now and then (a number freed and given to a new invoice, a clerk
re-keying a document under an old number), and a date is sometimes corrected into another month. Sent as
an update, either would rewrite an invoice already in the books: another customer's name on it, or an
August invoice moved into November after August was reconciled. So the plan never does that by itself:

- `document_versions` remembers, for every content hash planned, whose document it was (customer, total,
  date, period): so the version the books hold can be compared with the newest source data;
- the plan (ledger/plan.py) holds such an update with the reason code `number_reused` and a sentence naming
  both versions; the ledger records the hold once (not again every night while nothing changes), and the
  replay sensor for closed books leaves it alone (queue.py);
- a person decides, per destination and content hash (`held_decisions`): `release` lets the next run of
  its period apply exactly that content as an ordinary update, once; `reject` keeps the books as they are
  and refuses that content (a later, different content is judged again). Deciding twice does nothing.

Commands: `bridge held list|release|reject` (commands/held.py) and the `held_document_decision` job in the UI.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Sequence

import duckdb

from bridge_assets.canonical.reads import documents_table
from bridge_assets.ledger.schema import ensure_schema
from bridge_assets.ledger import store as ledger

REASON_CODE = "number_reused"
DECISIONS = ("release", "reject")
PAST = {"release": "released", "reject": "rejected"}   # the ledger event's outcome


# Columns the plan adds per document (ledger/plan.py joins `l` = ledger_postings, `d` = the document):
# whether an update would move the posted document to another customer or period, and the person's word.
PLAN_JOINS = """
    LEFT JOIN document_versions v ON v.doc_key = d.doc_key AND v.content_hash = l.content_hash
    LEFT JOIN held_decisions h ON h.destination = $destination AND h.doc_key = d.doc_key
         AND h.content_hash = d.content_hash
"""
PLAN_COLUMNS = """
    v.customer_name AS posted_customer, v.total AS posted_total, coalesce(v.period, l.period) AS posted_period,
    h.decision, h.decided_at,
    coalesce(l.dest_id IS NOT NULL AND l.content_hash IS NOT NULL AND l.content_hash <> d.content_hash
             AND l.state IN ('posted', 'held', 'failed')
             AND (v.customer_key <> d.customer_key
                  OR coalesce(v.period, CASE WHEN l.state = 'posted' THEN l.period END) <> d.period
                  -- held for this very content: stays held until a person decides, whatever is known of the past
                  OR (l.state = 'held' AND l.last_error_code = '""" + REASON_CODE + """' AND l.failed_hash = d.content_hash)),
             false) AS reused
"""
# The sentence a bookkeeper reads (plan, ledger, alert), naming both versions and both commands.
HOLD_REASON_SQL = """
    replace(doc_type, '_', ' ') || ' ' || doc_number || ' was posted'
    || coalesce(' for ' || posted_customer, '') || ' (' || coalesce(CAST(posted_total AS VARCHAR) || ', ', '')
    || posted_period || '); the newest source data has it for ' || customer_name || ' (' || CAST(total AS VARCHAR)
    || ', ' || period || '): the number may have been reused for another '
    || CASE WHEN posted_customer IS NOT NULL AND posted_customer <> customer_name THEN 'customer' ELSE 'period' END
    || '. Confirm the new version with `bridge held release ' || doc_key
    || '` or keep the posted one with `bridge held reject ' || doc_key || '`'
"""
REJECTED_REASON_SQL = """
    'kept as posted: a person refused this version on ' || strftime(decided_at, '%Y-%m-%d %H:%M')
    || ' UTC (number reused; the books keep what was posted). A later change in the source is judged again'
"""
RELEASED_REASON_SQL = """
    'a person confirmed this version on ' || strftime(decided_at, '%Y-%m-%d %H:%M')
    || ' UTC (number reused for another customer or period): it is applied as an update'
"""


class DecisionError(Exception):
    """A decision that cannot be taken: the message says why and what to do instead."""


@dataclasses.dataclass(frozen=True)
class Decided:
    destination: str
    doc_key: str
    period: str
    decision: str
    done_now: bool          # False: the same decision was already taken for this content (nothing changed)
    what: str


def remember_versions(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> None:
    """Whose document each content hash of `periods` is; called by every plan, so every version ever
    sent is known when a later version of the same number is compared with it."""
    ensure_schema(con)
    con.execute(
        f"""INSERT INTO document_versions
           SELECT d.doc_key, d.content_hash, any_value(d.period), any_value(d.customer_key), any_value(d.customer_name),
                  any_value(d.total), any_value(d.txn_date), $now
           FROM {documents_table()} d
           WHERE d.period IN (SELECT unnest($periods)) AND NOT EXISTS (
               SELECT 1 FROM document_versions v WHERE v.doc_key = d.doc_key AND v.content_hash = d.content_hash)
           GROUP BY d.doc_key, d.content_hash""",
        {"periods": list(periods), "now": _now()},
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def held(con: duckdb.DuckDBPyConnection, destination: str | None = None) -> list[tuple]:
    """Documents waiting for a person: (destination, doc_key, period, doc_number, reason)."""
    ensure_schema(con)
    return con.execute(
        """SELECT destination, doc_key, period, doc_number, last_error FROM ledger_postings
           WHERE state = 'held' AND last_error_code = ? AND (? IS NULL OR destination = ?)
           ORDER BY period, destination, doc_number""", [REASON_CODE, destination, destination]).fetchall()


def decide(con: duckdb.DuckDBPyConnection, document: str, decision: str, run_id: str, *,
           destination: str | None = None) -> list[Decided]:
    """Record a person's decision about a document held because its number was reused, in one destination
    or every destination that holds it. `document` is a doc_key or a document number. Call inside a
    transaction. Taking the same decision again for the same content changes nothing."""
    ensure_schema(con)
    if decision not in DECISIONS:
        raise DecisionError(f"decision {decision!r} is neither release (apply the new version) nor reject "
                            f"(keep the posted one)")
    rows = con.execute(
        """SELECT l.destination, l.doc_key, l.period, l.state, l.last_error_code, l.failed_hash, h.decision, h.decided_at
           FROM ledger_postings l
           LEFT JOIN held_decisions h ON h.destination = l.destination AND h.doc_key = l.doc_key
                AND h.content_hash = l.failed_hash
           WHERE (l.doc_key = $doc OR l.doc_number = $doc) AND ($dest IS NULL OR l.destination = $dest)
             AND (l.state = 'held' AND l.last_error_code = $code OR h.decision IS NOT NULL)
           ORDER BY l.destination, l.doc_key""",
        {"doc": document, "dest": destination, "code": REASON_CODE}).fetchall()
    if not rows:
        raise DecisionError(_not_held(con, document, destination))
    out = []
    for dest, doc_key, period, state, code, digest, earlier, decided_at in rows:
        if earlier is not None:
            out.append(Decided(dest, doc_key, period, earlier, False,
                               f"already decided ({earlier}) on {decided_at:%Y-%m-%d %H:%M} UTC; nothing changed"))
            continue
        what = (f"{PAST[decision]} by a person: " + ("the next run of " + period + " applies the new version as an update"
                                               if decision == "release" else "the books keep the posted version"))
        con.execute("INSERT INTO held_decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [dest, doc_key, digest, decision, _now(), run_id, what])
        ledger.record_decision(con, dest, run_id, doc_key, digest, decision, PAST[decision], what)
        out.append(Decided(dest, doc_key, period, decision, True, what))
    return out


def _not_held(con: duckdb.DuckDBPyConnection, document: str, destination: str | None) -> str:
    where = f" in {destination}" if destination else ""
    found = con.execute(
        "SELECT destination, state, coalesce(last_error_code, '') FROM ledger_postings "
        "WHERE (doc_key = ? OR doc_number = ?) AND (? IS NULL OR destination = ?) ORDER BY 1",
        [document, document, destination, destination]).fetchall()
    if not found:
        return (f"{document} is not in the ledger{where}; name a held document by its doc_key "
                f"(e.g. sedona:invoice:101349) or number (see `bridge held list`)")
    states = ", ".join(f"{d}: {s}" + (f" ({c})" if c else "") for d, s, c in found)
    return (f"{document} is not held for a person{where} ({states}); only a document held because its number was "
            f"reused for another customer or period takes a decision (a document held by closed books posts by "
            f"itself when they reopen)")


def kept_posted(con: duckdb.DuckDBPyConnection, destination: str, doc_keys: Sequence[str]) -> set[tuple[str, str]]:
    """{(doc_key, content_hash)} of source versions a person refused, keeping what the books hold."""
    ensure_schema(con)
    return set(con.execute(
        "SELECT doc_key, content_hash FROM held_decisions WHERE destination = ? AND decision = 'reject' "
        "AND doc_key IN (SELECT unnest(?))", [destination, list(doc_keys)]).fetchall())


def released_waiting(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str]]:
    """Released documents not applied yet: (period, destination, doc_key, content_hash). A run of each
    period applies them (the released-documents sensor asks for one). Reads only (the sensor's
    connection is read-only): raises duckdb.CatalogException before any decision was ever taken."""
    return con.execute(
        """SELECT l.period, l.destination, l.doc_key, h.content_hash FROM ledger_postings l
           JOIN held_decisions h ON h.destination = l.destination AND h.doc_key = l.doc_key
                AND h.content_hash = l.failed_hash AND h.decision = 'release'
           WHERE l.state = 'held' AND l.last_error_code = ? ORDER BY ALL""", [REASON_CODE]).fetchall()
