"""The posting plan: per document and destination, what would be done and why. Nothing is sent.

The plan is a preview a bookkeeper can read (create / update / skip / hold / by_hand, with a reason and
the payload; `by_hand`: what the destination lacks the capability for, and what a person does instead).
Execution re-checks every action against the ledger at send time, so a stale plan can never
cause a second post.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Sequence

import duckdb

from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.destinations.base import Destination, by_hand_for
from bridge_assets.ledger.schema import ensure_schema
from bridge_assets.ledger import store as ledger
from bridge_assets.ledger import number_reuse


@dataclasses.dataclass(frozen=True)
class PlanSummary:
    destination: str
    periods: tuple[str, ...]
    counts: dict[str, int]
    totals: dict[str, str]


# What the plan does with each document of the period, by its ledger state: the first match wins.
_PLAN_ACTION_SQL = """
                CASE
                    -- A revert is the bookkeeper's decision: never undone silently by a nightly run (see revert.py).
                    WHEN state = 'reverting' THEN 'skip'
                    WHEN state = 'reverted' AND reverted_hash = content_hash THEN 'skip'
                    -- another customer or period under a posted number: a person decides (number_reuse.py)
                    WHEN reused AND decision = 'reject' THEN 'skip'
                    WHEN reused AND decision IS NULL THEN 'hold'
                    WHEN $closed IS NOT NULL AND txn_date <= $closed AND coalesce(state, '') <> 'posted' THEN 'hold'
                    WHEN $closed IS NOT NULL AND txn_date <= $closed AND posted_hash IS DISTINCT FROM content_hash THEN 'hold'
                    WHEN state IS NULL THEN 'create'
                    WHEN state = 'sending' THEN coalesce(sending_action, 'create')
                    WHEN state = 'posted' AND posted_hash = content_hash THEN 'skip'
                    WHEN state = 'posted' THEN 'update'
                    WHEN state = 'failed' AND failed_hash = content_hash AND last_error_code IN (SELECT unnest($needs_person))
                         THEN 'skip'
                    WHEN state IN ('failed', 'held') AND dest_id IS NOT NULL AND posted_hash IS NOT NULL
                         AND posted_hash = content_hash THEN 'skip'
                    WHEN state IN ('failed', 'held') AND dest_id IS NOT NULL THEN 'update'
                    WHEN state = 'reverted' AND dest_id IS NOT NULL THEN 'update'
                    WHEN state = 'reverted' THEN 'create'
                    WHEN state = 'voided' THEN 'create'
                    ELSE 'create'
                END"""

# The sentence a bookkeeper reads beside each action.
_PLAN_REASON_SQL = """
            CASE
                WHEN action = 'hold' AND reused THEN {hold_reason}
                WHEN action = 'skip' AND reused THEN {rejected_reason}
                WHEN action = 'update' AND reused THEN {released_reason}
                WHEN action = 'hold' THEN 'dated ' || strftime(txn_date, '%m/%d/%Y') || ', on or before the closed date '
                     || strftime(CAST($closed AS DATE), '%m/%d/%Y') || '; posts when the period reopens'
                WHEN state = 'reverting' THEN 'a revert of it was interrupted; the next `bridge revert` (or revert_job) finishes '
                     || 'it first, and it is not posted meanwhile'
                WHEN state = 'reverted' AND action = 'skip' THEN 'reverted, and unchanged in the source since, so it is not posted '
                     || 'again; to post it again run `bridge revert --release --doc ' || doc_key || '` (a changed document '
                     || 'posts by itself)'
                WHEN state IS NULL THEN 'new document'
                WHEN state = 'sending' THEN 'an earlier attempt''s outcome is unknown; it is resolved (looked up) before anything is sent'
                WHEN action = 'skip' AND state = 'failed' THEN 'needs a person, not a retry: ' || coalesce(last_error, last_error_code)
                WHEN action = 'skip' THEN 'unchanged since posted' || coalesce(' on ' || strftime(last_posted_at, '%Y-%m-%d %H:%M'), '')
                WHEN state = 'posted' THEN 'content changed since it was posted (was ' || left(posted_hash, 12) || ', now ' || left(content_hash, 12) || ')'
                WHEN state = 'failed' THEN 'retry after failure: ' || coalesce(last_error, 'no reason recorded')
                WHEN state = 'held' THEN 'was held: ' || coalesce(last_error, 'period closed') || '; trying again'
                WHEN state = 'reverted' THEN 'was reverted; ' || CASE WHEN reverted_hash IS NULL THEN 'released'
                     ELSE 'changed in the source since' END || ', so it is posted again'
                WHEN state = 'voided' THEN 'was voided as cancelled at the source; it is current again, so it is posted afresh'
                ELSE 'retry'
            END"""

# One statement plans every document of the periods against the ledger ($destination, $periods,
# $closed, $now and $needs_person bound as parameters).
_PLAN_SQL = (
    """
        INSERT INTO _plan
        WITH joined AS (
            SELECT d.*, l.state, l.content_hash AS posted_hash, l.dest_id, coalesce(l.generation, 0) AS generation,
                   l.last_error, l.last_error_code, l.failed_hash, l.last_posted_at, l.sending_action, l.reverted_hash,
                   {reuse_columns}
            FROM accounting_documents d
            LEFT JOIN ledger_postings l ON l.destination = $destination AND l.doc_key = d.doc_key
            {reuse_joins}
            WHERE d.period IN (SELECT unnest($periods))
              AND d.doc_key NOT IN (SELECT doc_key FROM cancelled_documents)
        ), decided AS (
            SELECT *,
                {action} AS action
            FROM joined
        )
        SELECT period, $destination, doc_key, doc_type, doc_number, customer_key, total, txn_date, action,
            {reason},
            content_hash, posted_hash, state, dest_id, generation,
            {rid}, $now,
            CASE WHEN action = 'hold' AND reused THEN '{reused_code}' WHEN action = 'hold' THEN 'period_closed' END
        FROM decided
"""
    .replace("{action}", _PLAN_ACTION_SQL.strip())
    .replace("{reason}", _PLAN_REASON_SQL.strip())
    .replace("{rid}", ledger.request_id_sql("$destination", "doc_key", "content_hash", "generation"))
    .replace("{reuse_columns}", number_reuse.PLAN_COLUMNS)
    .replace("{reuse_joins}", number_reuse.PLAN_JOINS)
    .replace("{hold_reason}", number_reuse.HOLD_REASON_SQL)
    .replace("{rejected_reason}", number_reuse.REJECTED_REASON_SQL)
    .replace("{released_reason}", number_reuse.RELEASED_REASON_SQL)
    .replace("{reused_code}", number_reuse.REASON_CODE)
)


def plan_periods(
    con: duckdb.DuckDBPyConnection,
    destination: str | Destination,
    periods: Sequence[str],
    *,
    closed_through: dt.date | None = None,
) -> PlanSummary:
    """Replace the plan of `destination` for `periods` (inside the caller's transaction). Given the
    destination itself (not only its name), an action it lacks the capability for is planned `by_hand`
    with the capability's code and the sentence saying what a person does; nothing is sent for it."""
    target = None if isinstance(destination, str) else destination
    destination = destination if target is None else target.name
    ensure_schema(con)
    periods = tuple(sorted(set(periods)))
    number_reuse.remember_versions(con, periods)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    con.execute("CREATE OR REPLACE TEMP TABLE _plan AS SELECT * FROM posting_plan WHERE false")
    con.execute(
        _PLAN_SQL,
        {"destination": destination, "periods": list(periods), "closed": closed_through, "now": now,
         "needs_person": list(ledger.NEEDS_A_PERSON)},
    )
    _replace_changed(con, destination, periods)
    _plan_cancelled(con, destination, periods, closed_through, now)
    if target is not None:
        _plan_by_hand(con, target, periods)
    return summarise(con, destination, periods)


# Every column but `planned_at`: a row equal in all of them is the same plan, kept as it is.
_COMPARED = ("period", "doc_type", "doc_number", "customer_key", "total", "txn_date", "action", "reason", "content_hash",
             "posted_hash", "ledger_state", "dest_id", "generation", "request_id", "hold_code")


def _replace_changed(con: duckdb.DuckDBPyConnection, destination: str, periods: Sequence[str]) -> None:
    """Make the plan of `destination` for `periods` the one in `_plan`, writing only what changed: a re-plan
    of unchanged documents writes nothing (deleting and inserting 400,000 keyed rows costs DuckDB more at
    commit than planning them). `planned_at` is when the document was first planned as it is planned now."""
    same = " AND ".join(f"n.{c} IS NOT DISTINCT FROM p.{c}" for c in _COMPARED)
    con.execute(f"""DELETE FROM posting_plan p WHERE p.destination = $destination AND p.period IN (SELECT unnest($periods))
                    AND NOT EXISTS (SELECT 1 FROM _plan n WHERE n.doc_key = p.doc_key AND {same})""",
                {"destination": destination, "periods": list(periods)})
    con.execute("""INSERT INTO posting_plan SELECT * FROM _plan n WHERE NOT EXISTS (
                       SELECT 1 FROM posting_plan p WHERE p.destination = n.destination AND p.doc_key = n.doc_key)""")
    con.execute("DROP TABLE _plan")


def _plan_by_hand(con: duckdb.DuckDBPyConnection, destination: Destination, periods: Sequence[str]) -> None:
    """Planned creates, updates and voids the destination lacks the capability for become `by_hand`: the
    code of the missing capability in `hold_code`, the destination's sentence in `reason` (posting records
    it once in the ledger, as the adapter's refusal would be, without sending anything). A row whose earlier
    outcome is unknown is left as planned: it is resolved first."""
    where = "destination = ? AND period IN (SELECT unnest(?)) AND coalesce(ledger_state, '') <> 'sending'"
    pairs = con.execute(f"SELECT DISTINCT action, doc_type FROM posting_plan WHERE {where} "
                        "AND action IN ('create', 'update', 'void')", [destination.name, list(periods)]).fetchall()
    lacking = [f"{action}|{doc_type}" for action, doc_type in pairs
               if destination.capabilities.lacks(action, doc_type) is not None]
    if not lacking:
        return
    rows = con.execute(f"SELECT doc_key, action, doc_type, doc_number FROM posting_plan WHERE {where} "
                       "AND action || '|' || doc_type IN (SELECT unnest(?))",
                       [destination.name, list(periods), lacking]).fetchall()
    documents = canonical_reads.load_documents(con, [key for key, action, _, _ in rows if action != "void"])
    updates = [key for key, action, _, _ in rows if action == "update"]
    previous = ledger.last_sent(con, destination.name, updates)
    was = dict(con.execute(      # the total last posted: the version the ledger says the destination holds
        "SELECT v.doc_key, v.total FROM document_versions v JOIN ledger_postings l ON l.doc_key = v.doc_key "
        "AND l.content_hash = v.content_hash WHERE l.destination = ? AND v.doc_key IN (SELECT unnest(?))",
        [destination.name, updates]).fetchall())
    decided = []
    for doc_key, action, doc_type, doc_number in rows:
        outcome = by_hand_for(destination, action, doc_type, doc_number,
                              document=documents.get(doc_key), previous=previous.get(doc_key),
                              was_total=was.get(doc_key))
        decided.append([outcome.error_code, outcome.message, destination.name, doc_key])
    con.executemany("UPDATE posting_plan SET action = 'by_hand', hold_code = ?, reason = ? "
                    "WHERE destination = ? AND doc_key = ?", decided)


def _plan_cancelled(con: duckdb.DuckDBPyConnection, destination: str, periods: Sequence[str],
                    closed_through: dt.date | None, now: dt.datetime) -> None:
    """Documents cancelled at the source: void (or delete) once where they were posted, skip otherwise.

    The void's request id is derived from `void:` + the content, never equal to the create's, so a
    destination that replays answers by request id cannot hand back the original create."""
    con.execute(
        """
        INSERT OR REPLACE INTO posting_plan
        WITH joined AS (
            SELECT c.*, l.state, l.content_hash AS posted_hash, l.dest_id, coalesce(l.generation, 0) AS generation,
                   l.last_error, l.last_error_code, l.failed_hash, l.sending_action
            FROM cancelled_documents c
            LEFT JOIN ledger_postings l ON l.destination = $destination AND l.doc_key = c.doc_key
            WHERE c.acted_in_period IN (SELECT unnest($periods))
        ), decided AS (
            SELECT *,
                CASE
                    WHEN state = 'voided' THEN 'skip'
                    WHEN state = 'failed' AND last_error_code IN (SELECT unnest($needs_person)) AND sending_action IS NULL
                         AND failed_hash = 'void:' || content_hash THEN 'skip'
                    WHEN state = 'sending' THEN coalesce(sending_action, 'void')
                    WHEN dest_id IS NULL THEN 'skip'
                    WHEN $closed IS NOT NULL AND txn_date <= $closed THEN 'hold'
                    ELSE 'void'
                END AS action
            FROM joined
        )
        SELECT acted_in_period, $destination, doc_key, doc_type, doc_number, customer_key, total, txn_date, action,
            CASE
                WHEN state = 'voided' THEN 'already voided: ' || reason
                WHEN action = 'skip' AND state = 'failed' THEN 'needs a person, not a retry: ' || coalesce(last_error, last_error_code)
                WHEN action = 'skip' THEN 'cancelled before it was posted, so nothing is sent: ' || reason
                WHEN action = 'hold' THEN 'cancelled (' || reason || '), but dated on or before the closed date '
                     || strftime(CAST($closed AS DATE), '%m/%d/%Y') || '; voided when the period reopens'
                WHEN state = 'sending' THEN 'an earlier attempt''s outcome is unknown; it is resolved before anything is sent'
                ELSE 'void: ' || reason
            END,
            'void:' || content_hash, posted_hash, state, dest_id, generation,
            {rid}, $now, CASE WHEN action = 'hold' THEN 'period_closed' END
        FROM decided
        """.replace("{rid}", ledger.request_id_sql("$destination", "doc_key", "'void:' || content_hash", "generation")),
        {"destination": destination, "periods": list(periods), "closed": closed_through, "now": now,
         "needs_person": list(ledger.NEEDS_A_PERSON)},
    )


def summarise(con: duckdb.DuckDBPyConnection, destination: str, periods: Sequence[str]) -> PlanSummary:
    rows = con.execute(
        "SELECT action, count(*), CAST(sum(total) AS VARCHAR) FROM posting_plan "
        "WHERE destination = ? AND period IN (SELECT unnest(?)) GROUP BY action ORDER BY action",
        [destination, list(periods)],
    ).fetchall()
    return PlanSummary(
        destination, tuple(periods), {a: n for a, n, _ in rows}, {a: t for a, _, t in rows}
    )
