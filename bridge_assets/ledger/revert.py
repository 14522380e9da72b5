"""Reverting what the bridge did in a destination, for a run or for a period: previewed, then done once.

What a revert undoes (ARCHITECTURE promise 6):
- a document the run created is voided (invoice) or deleted (credit memo, payment);
- a document the run updated is restored to the state the destination held before the run's first update
  of it (the `before` of that event in `ledger_events`); a document the run created and then updated is
  simply voided or deleted;
- a period revert undoes every document of the period (optionally of one source, by the `doc_key` prefix)
  that the bridge holds in the destination: each is voided or deleted.
Order: payments, then credit memos, then invoices (something still applied to an invoice would be unlinked
behind the bookkeeper's back, or refused), within a type by period and number.

Preview (`preview_revert`) reads only the ledger and the canonical documents, sends nothing and changes no
ledger row; it stores the plan (`revert_plans`, `revert_steps`, `revert_left_out`) so that a confirmed
revert (`execute_revert`) does exactly what was shown, never something decided later.

Execution keeps the posting discipline (posting.py):
1. Rows left `reverting` by an interrupted revert are settled first. The destinations' undo operations read
   before they write (a voided invoice, a deleted credit memo, a document already holding its restored
   state is recognised as done and nothing is sent), so asking again is the look-up, never a second void
   or restore.
2. Per batch: each ledger row is checked against the preview (a document changed since is left alone and
   the plan says why), marked `reverting`, committed; then the destination is called for each document with
   no database connection open, and the answers are recorded (`reverted` with a new generation, an event
   with before/after per document) in one short transaction.

A reverted document is not posted again by a normal run while its source content is unchanged (that would
silently undo the bookkeeper's revert); `release` lets the next run post it again, and a document that
changes in the source posts by itself (ledger/plan.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import uuid
from decimal import Decimal
from typing import Callable, Iterable, Sequence

import duckdb

from bridge_assets.ledger.schema import ensure_schema
from bridge_assets.ledger import store as ledger
from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.destinations.base import Destination, Outcome, Status
from bridge_assets.runtime.storage import Database

Progress = Callable[[str], None]

SOURCES = ("sedona", "servicetrade")
TYPE_ORDER = {"payment": 0, "credit_memo": 1, "invoice": 2}
KIND = {"invoice": "invoice", "credit_memo": "credit memo", "payment": "payment"}
BATCH = 25          # documents marked `reverting` per commit
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
# A left-out reason that starts so: an earlier revert found the destination cannot do it (an IIF file cannot
# void what QuickBooks Desktop imported); it was recorded once, with what to do by hand, and is not retried.
BY_HAND = "left to do by hand (the destination cannot): "



class RevertError(Exception):
    """A revert cannot be previewed or run as asked; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class RevertStep:
    order: int
    doc_key: str
    doc_type: str
    doc_number: str
    period: str
    customer: str | None
    total: Decimal | None           # the source document's total (what the bridge posted, unless changed since)
    action: str                     # void | delete | restore
    dest_id: str
    before: dict | None             # restore: the state put back
    restored_hash: str | None       # restore: the content that state is, when the ledger knows it
    expected_state: str             # the ledger row at preview time; executing checks it still holds
    expected_hash: str | None
    reason: str
    state: str = "planned"
    message: str | None = None


@dataclasses.dataclass(frozen=True)
class LeftOut:
    doc_key: str
    doc_type: str
    doc_number: str
    reason: str

    @property
    def by_hand(self) -> bool:
        return self.reason.startswith(BY_HAND)


@dataclasses.dataclass(frozen=True)
class RevertPlan:
    plan_id: str
    destination: str
    run_id: str | None
    period: str | None
    source: str | None
    created_at: dt.datetime
    status: str
    steps: tuple[RevertStep, ...]
    left_out: tuple[LeftOut, ...]

    @property
    def scope(self) -> str:
        what = f"run {self.run_id}" if self.run_id else f"period {self.period}"
        if self.source:
            what += f" ({self.source} documents only)"
        return f"{what} in {self.destination}"

    def totals(self) -> list[tuple[str, str, int, Decimal]]:
        """(action, document type, documents, total) in execution order."""
        sums: dict[tuple[str, str], list] = {}
        for step in self.steps:
            entry = sums.setdefault((step.action, step.doc_type), [0, Decimal("0.00")])
            entry[0] += 1
            entry[1] += step.total or Decimal("0.00")
        return [(action, doc_type, n, total) for (action, doc_type), (n, total)
                in sorted(sums.items(), key=lambda i: (TYPE_ORDER.get(i[0][1], 3), i[0][0]))]


@dataclasses.dataclass
class RevertReport:
    plan_id: str
    destination: str
    outcomes: dict[str, int] = dataclasses.field(default_factory=dict)   # reverted | failed | held | retry | skipped | by_hand
    settled: dict[str, int] = dataclasses.field(default_factory=dict)    # rows an interrupted revert left
    failures: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)   # doc_number, code, message
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)         # doc_number, why
    by_hand: list[tuple[str, str]] = dataclasses.field(default_factory=list)         # doc_number, what to do
    files: list[str] = dataclasses.field(default_factory=list)

    def count(self, bucket: dict[str, int], outcome: str) -> None:
        bucket[outcome] = bucket.get(outcome, 0) + 1


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _undo_action(doc_type: str) -> str:
    """QuickBooks keeps a voided invoice (its number stays taken); credit memos and payments are deleted."""
    return "void" if doc_type == "invoice" else "delete"


def _check_scope(run_id: str | None, period: str | None, source: str | None) -> None:
    if bool(run_id) == bool(period):
        raise RevertError("say what to revert: a run id (--run) or a billing period YYYY-MM (--period), not both")
    if period and not _PERIOD.match(period):
        raise RevertError(f"period {period!r} is not a billing period; write it as YYYY-MM (e.g. 2026-09)")
    if source and source not in SOURCES:
        raise RevertError(f"source {source!r} is not one the bridge posts from; use one of: {', '.join(SOURCES)}")


# --- preview ------------------------------------------------------------------------------------------


def preview_revert(con: duckdb.DuckDBPyConnection, destination: str | Destination, run_id: str | None = None,
                   period: str | None = None, source: str | None = None) -> RevertPlan:
    """What reverting the run (or the period) in `destination` would do, stored as a plan. Sends nothing and
    changes no ledger row. Call inside a transaction."""
    name = destination if isinstance(destination, str) else destination.name
    _check_scope(run_id, period, source)
    ensure_schema(con)
    if run_id:
        known = con.execute("SELECT count(*) FROM ledger_events WHERE run_id = ?", [run_id]).fetchall()[0][0]
        if not known:
            raise RevertError(f"the ledger has no run {run_id!r}; copy the run id from the Dagster UI (Runs) or from "
                              f"the output of the run that posted, and try again")
        steps, left_out = _run_steps(con, name, run_id, source)
    else:
        steps, left_out = _period_steps(con, name, period, source)
    steps, by_hand = _not_left_by_hand(con, name, steps)
    left_out += by_hand
    steps.sort(key=lambda s: (TYPE_ORDER.get(s.doc_type, 3), s.period, s.doc_number, s.doc_key))
    steps = [dataclasses.replace(s, order=i + 1) for i, s in enumerate(steps)]
    plan = RevertPlan(f"rv-{uuid.uuid4().hex[:12]}", name, run_id, period, source, _now(), "previewed",
                      tuple(steps), tuple(sorted(left_out, key=lambda l: (l.doc_type, l.doc_number))))
    _store(con, plan)
    return plan


_LEDGER_COLUMNS = "l.doc_key, l.doc_type, l.doc_number, l.period, l.state, l.dest_id, l.content_hash, l.last_run_id"


def _run_steps(con: duckdb.DuckDBPyConnection, name: str, run_id: str,
               source: str | None) -> tuple[list[RevertStep], list[LeftOut]]:
    rows = con.execute(
        f"""
        WITH run AS (
            SELECT doc_key, bool_or(outcome = 'created') AS created,
                   min(event_id) FILTER (WHERE outcome = 'updated') AS first_update, max(event_id) AS last_event
            FROM ledger_events
            WHERE destination = $d AND run_id = $r AND action IN ('create', 'update')
              AND outcome IN ('created', 'updated')
              AND ($s IS NULL OR starts_with(doc_key, $s || ':'))
            GROUP BY doc_key
        )
        SELECT {_LEDGER_COLUMNS}, r.created, u.before,
               (SELECT e.content_hash FROM ledger_events e
                WHERE e.destination = $d AND e.doc_key = r.doc_key AND e.outcome IN ('created', 'updated')
                  AND e.action IN ('create', 'update') AND e.event_id < r.first_update
                ORDER BY e.event_id DESC LIMIT 1) AS restored_hash,
               (SELECT string_agg(DISTINCT e.run_id, ', ') FROM ledger_events e
                WHERE e.destination = $d AND e.doc_key = r.doc_key AND e.outcome IN ('created', 'updated')
                  AND e.action IN ('create', 'update') AND e.event_id > r.last_event) AS later_runs,
               d.customer_name, d.total
        FROM run r
        JOIN ledger_postings l ON l.destination = $d AND l.doc_key = r.doc_key
        LEFT JOIN ledger_events u ON u.event_id = r.first_update
        LEFT JOIN {canonical_reads.documents_table()} d ON d.doc_key = r.doc_key
        """,
        {"d": name, "r": run_id, "s": source},
    ).fetchall()
    steps, left_out = [], []
    for (doc_key, doc_type, number, period, state, dest_id, posted_hash, last_run, created, before, restored_hash,
         later_runs, customer, total) in rows:
        kind = KIND.get(doc_type, doc_type)
        blocked = _blocked(state, last_run)
        if blocked:
            left_out.append(LeftOut(doc_key, doc_type, number, blocked))
            continue
        later = f" (this also undoes the later change by run {later_runs})" if later_runs else ""
        if created:
            if dest_id is None or state == "voided":
                left_out.append(LeftOut(doc_key, doc_type, number, _gone(state, name)))
                continue
            action = _undo_action(doc_type)
            steps.append(RevertStep(0, doc_key, doc_type, number, period, customer, total, action, dest_id, None, None,
                                    state, posted_hash, f"created by the run: {action} the {kind}{later}"))
            continue
        if dest_id is None or state == "voided":
            left_out.append(LeftOut(doc_key, doc_type, number, _gone(state, name)))
        elif restored_hash is not None and posted_hash == restored_hash:
            left_out.append(LeftOut(doc_key, doc_type, number,
                                    f"{name} already holds what it held before run {run_id} (state {state})"))
        elif before is None:
            left_out.append(LeftOut(doc_key, doc_type, number,
                                    f"the ledger has no record of its state before run {run_id}, so it cannot be "
                                    f"restored automatically; put it back by hand from the ledger events"))
        else:
            steps.append(RevertStep(0, doc_key, doc_type, number, period, customer, total, "restore", dest_id,
                                    json.loads(before), restored_hash, state, posted_hash,
                                    f"updated by the run: restore the {kind} as it was before{later}"))
    return steps, left_out


def _period_steps(con: duckdb.DuckDBPyConnection, name: str, period: str,
                  source: str | None) -> tuple[list[RevertStep], list[LeftOut]]:
    rows = con.execute(
        f"""SELECT {_LEDGER_COLUMNS}, d.customer_name, d.total
            FROM ledger_postings l LEFT JOIN {canonical_reads.documents_table()} d ON d.doc_key = l.doc_key
            WHERE l.destination = $d AND l.period = $p AND ($s IS NULL OR starts_with(l.doc_key, $s || ':'))""",
        {"d": name, "p": period, "s": source},
    ).fetchall()
    steps, left_out = [], []
    for doc_key, doc_type, number, doc_period, state, dest_id, posted_hash, last_run, customer, total in rows:
        blocked = _blocked(state, last_run)
        if blocked:
            left_out.append(LeftOut(doc_key, doc_type, number, blocked))
        elif dest_id is None or state == "voided":
            left_out.append(LeftOut(doc_key, doc_type, number, _gone(state, name)))
        else:
            action = _undo_action(doc_type)
            steps.append(RevertStep(0, doc_key, doc_type, number, doc_period, customer, total, action, dest_id, None,
                                    None, state, posted_hash,
                                    f"posted by the bridge for {period}: {action} the {KIND.get(doc_type, doc_type)}"))
    return steps, left_out


def _not_left_by_hand(con: duckdb.DuckDBPyConnection, name: str,
                      steps: list[RevertStep]) -> tuple[list[RevertStep], list[LeftOut]]:
    """Steps an earlier revert already found the destination cannot do (same document as posted, same
    action) are not tried again: they are left out, with what to do by hand."""
    recorded = {doc_key: (dest_id, expected_hash, action, message) for doc_key, dest_id, expected_hash, action, message
                in con.execute("""SELECT s.doc_key, s.dest_id, s.expected_hash, s.action, s.message
                                  FROM revert_steps s JOIN revert_plans p USING (plan_id)
                                  WHERE p.destination = ? AND s.state = 'by_hand' ORDER BY s.updated_at""",
                               [name]).fetchall()}
    kept, left_out = [], []
    for step in steps:
        done = recorded.get(step.doc_key)
        if done and done[:3] == (step.dest_id, step.expected_hash, step.action):
            left_out.append(LeftOut(step.doc_key, step.doc_type, step.doc_number, BY_HAND + (done[3] or "")))
        else:
            kept.append(step)
    return kept, left_out


def _blocked(state: str, last_run: str | None) -> str | None:
    if state == "sending":
        return (f"an attempt to post it (run {last_run}) has an unknown outcome; run the bridge once for its period "
                f"to settle it, then preview the revert again")
    if state == "reverting":
        return "an interrupted revert is undoing it; that is finished first when any revert runs"
    return None


def _gone(state: str, name: str) -> str:
    if state == "reverted":
        return "already reverted"
    if state == "voided":
        return f"already voided in {name} (cancelled at the source)"
    return f"not in {name} (ledger state {state}): nothing to undo"


def _store(con: duckdb.DuckDBPyConnection, plan: RevertPlan) -> None:
    now = plan.created_at
    con.execute("INSERT INTO revert_plans (plan_id, destination, run_id, period, source, created_at, status) "
                "VALUES (?, ?, ?, ?, ?, ?, 'previewed')",
                [plan.plan_id, plan.destination, plan.run_id, plan.period, plan.source, now])
    if plan.steps:
        con.executemany(
            "INSERT INTO revert_steps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'planned', NULL, ?)",
            [[plan.plan_id, s.order, s.doc_key, s.doc_type, s.doc_number, s.period, s.customer, s.total, s.action,
              s.dest_id, json.dumps(s.before, sort_keys=True, default=str) if s.before is not None else None,
              s.restored_hash, s.expected_state, s.expected_hash, s.reason, now]
             for s in plan.steps])
    if plan.left_out:
        con.executemany("INSERT INTO revert_left_out VALUES (?, ?, ?, ?, ?)",
                        [[plan.plan_id, l.doc_key, l.doc_type, l.doc_number, l.reason] for l in plan.left_out])


_STEP_COLUMNS = ("step_no, doc_key, doc_type, doc_number, period, customer, total, action, dest_id, before_json, "
                 "restored_hash, expected_state, expected_hash, reason, state, message")


def _step(row: Sequence) -> RevertStep:
    (order, doc_key, doc_type, number, period, customer, total, action, dest_id, before, restored_hash,
     expected_state, expected_hash, reason, state, message) = row
    return RevertStep(order, doc_key, doc_type, number, period, customer, total, action, dest_id,
                      json.loads(before) if before else None, restored_hash, expected_state, expected_hash, reason,
                      state, message)


def load_plan(con: duckdb.DuckDBPyConnection, plan_id: str) -> RevertPlan:
    ensure_schema(con)
    found = con.execute("SELECT plan_id, destination, run_id, period, source, created_at, status FROM revert_plans "
                        "WHERE plan_id = ?", [plan_id]).fetchall()
    if not found:
        raise RevertError(f"there is no revert plan {plan_id!r}; preview the revert first (without confirming) and "
                          f"use the plan id it prints")
    steps = con.execute(f"SELECT {_STEP_COLUMNS} FROM revert_steps WHERE plan_id = ? ORDER BY step_no",
                        [plan_id]).fetchall()
    left_out = con.execute("SELECT doc_key, doc_type, doc_number, reason FROM revert_left_out WHERE plan_id = ? "
                           "ORDER BY doc_type, doc_number", [plan_id]).fetchall()
    return RevertPlan(*found[0], tuple(_step(r) for r in steps), tuple(LeftOut(*r) for r in left_out))


def unsettled(con: duckdb.DuckDBPyConnection, destination: str) -> int:
    """How many documents an interrupted revert left `reverting` in `destination` (finished first by any
    revert, even one with nothing new to do)."""
    ensure_schema(con)
    return con.execute("SELECT count(*) FROM ledger_postings WHERE destination = ? AND state = 'reverting'",
                       [destination]).fetchall()[0][0]


# --- execution ----------------------------------------------------------------------------------------


def execute_revert(db: Database, destination: Destination, plan_id: str, run_id: str,
                   progress: Progress = lambda _: None) -> RevertReport:
    """Carry out a previewed plan through `destination`, exactly once (see the module docstring)."""
    name = destination.name
    with db.transaction() as con:
        plan = load_plan(con, plan_id)
        if plan.destination != name:
            raise RevertError(f"revert plan {plan_id} is for destination {plan.destination}, not {name}; run it "
                              f"with --destination {plan.destination}")
        interrupted = [(pid, _step(r)) for pid, *r in con.execute(
            f"""SELECT s.plan_id, {', '.join('s.' + c.strip() for c in _STEP_COLUMNS.split(','))}
                FROM revert_steps s JOIN revert_plans p USING (plan_id)
                JOIN ledger_postings l ON l.destination = p.destination AND l.doc_key = s.doc_key
                WHERE p.destination = ? AND s.state = 'reverting' AND l.state = 'reverting'
                ORDER BY p.created_at, s.step_no""", [name]).fetchall()]
    report = RevertReport(plan_id, name)
    if interrupted:
        progress(f"{name}: settling {len(interrupted)} document(s) an interrupted revert left unfinished")
        _carry_out(db, destination, run_id, interrupted, report, settling=True, progress=progress)
    todo = [(plan_id, s) for s in plan.steps if s.state == "planned"]
    if todo:
        progress(f"{name}: reverting {len(todo)} document(s) ({plan.scope}, plan {plan_id})")
        _carry_out(db, destination, run_id, todo, report, settling=False, progress=progress)
    with db.transaction() as con:
        open_steps = con.execute("SELECT count(*) FROM revert_steps WHERE plan_id = ? AND state IN ('planned', "
                                 "'reverting')", [plan_id]).fetchall()[0][0]
        con.execute("UPDATE revert_plans SET status = ?, executed_at = ?, executed_by = ? WHERE plan_id = ?",
                    ["incomplete" if open_steps else "executed", _now(), run_id, plan_id])
    return report


def _carry_out(db: Database, destination: Destination, run_id: str, steps: list[tuple[str, RevertStep]],
               report: RevertReport, *, settling: bool, progress: Progress) -> None:
    """Steps in order; one destination run per stretch of the same period (file destinations write one file
    per run and period)."""
    stretches: list[list[tuple[str, RevertStep]]] = []
    for item in steps:
        if stretches and stretches[-1][-1][1].period == item[1].period:
            stretches[-1].append(item)
        else:
            stretches.append([item])
    done, total = 0, len(steps)
    for stretch in stretches:
        destination.begin_run(run_id, stretch[0][1].period)
        try:
            for start in range(0, len(stretch), BATCH):
                _carry_out_batch(db, destination, run_id, stretch[start:start + BATCH], report, settling)
                done += len(stretch[start:start + BATCH])
                if done == total or done % 100 < BATCH:
                    progress(f"{destination.name}: {done}/{total} documents looked at "
                             f"({'settling' if settling else 'reverting'}; what was done is summed up at the end)")
        finally:
            report.files.extend(destination.end_run())


def _carry_out_batch(db: Database, destination: Destination, run_id: str, batch: list[tuple[str, RevertStep]],
                     report: RevertReport, settling: bool) -> None:
    name = destination.name
    live: list[tuple[str, RevertStep, ledger.PostingRow]] = []
    with db.transaction() as con:
        current = ledger.rows(con, name, [s.doc_key for _, s in batch])
        skipped: list[tuple[str, RevertStep, str]] = []
        for plan_id, step in batch:
            row = current.get(step.doc_key)
            why = _still_due(step, row, settling)
            if why:
                skipped.append((plan_id, step, why))
            else:
                live.append((plan_id, step, row))
        fresh = [_reverting(step) for _, step, _ in live if not settling]
        ledger.mark_reverting(con, name, run_id, fresh)
        _set_steps(con, [(pid, s.order, "reverting", None) for pid, s, _ in live if not settling])
        _set_steps(con, [(pid, s.order, "skipped", why) for pid, s, why in skipped])
    for _, step, why in skipped:
        report.count(report.outcomes, "skipped")
        report.skipped.append((step.doc_number, why))
    answered: list[tuple[str, RevertStep, Outcome]] = []
    try:
        for plan_id, step, row in live:
            # No database connection is open here: the destination may take seconds (or retries) to answer.
            if step.action == "restore":
                outcome = destination.restore(step.doc_type, row.dest_id or step.dest_id, step.before or {})
            else:
                outcome = destination.void_or_delete(step.doc_type, row.dest_id or step.dest_id, row.sync_token)
            answered.append((plan_id, step, outcome))
    finally:
        # One short transaction per batch (opening the database file costs more than the write). Should this
        # process die before it, the rows stay `reverting` and the next revert settles them by asking again.
        if answered:
            _record(db, name, run_id, answered, report, settling)


def _record(db: Database, name: str, run_id: str, answered: list[tuple[str, RevertStep, Outcome]],
            report: RevertReport, settling: bool) -> None:
    with db.transaction() as con:
        source_hashes = canonical_reads.content_hashes(con, [step.doc_key for _, step, _ in answered])
        ledger.record_reverted(con, name, run_id, [
            (dataclasses.replace(_reverting(step), source_hash=source_hashes.get(step.doc_key)), outcome)
            for _, step, outcome in answered])
        changes = []
        for plan_id, step, outcome in answered:
            word = _outcome_word(outcome)
            changes.append((plan_id, step.order, "reverting" if word == "retry" else word, outcome.message))
        _set_steps(con, changes)
    for _, step, outcome in answered:
        word = _outcome_word(outcome)
        report.count(report.settled if settling else report.outcomes, word)
        if word == "by_hand":
            report.by_hand.append((step.doc_number, outcome.message or ""))
        elif word in ("failed", "held", "retry"):
            report.failures.append((step.doc_number, outcome.error_code or word, outcome.message or ""))


def _still_due(step: RevertStep, row: ledger.PostingRow | None, settling: bool) -> str | None:
    """Why the step is not carried out now (None: it is)."""
    if row is None:
        return "no longer in the ledger"
    if settling:
        return None if row.state == "reverting" else f"already settled (now {row.state})"
    if row.state == "reverted" and (step.expected_state != "reverted" or row.dest_id is None):
        return "already reverted"
    if row.state == "reverting":
        return "its outcome is still unknown after an interrupted revert; run the revert again to settle it"
    if row.state != step.expected_state or row.dest_id != step.dest_id or row.content_hash != step.expected_hash:
        return (f"changed in the ledger since the preview (now {row.state}); preview the revert again to see what "
                f"undoing it means now")
    return None


def _reverting(step: RevertStep) -> ledger.Reverting:
    return ledger.Reverting(step.doc_key, step.action, step.expected_state, step.restored_hash)


def _outcome_word(outcome: Outcome) -> str:
    if outcome.status in (Status.VOIDED, Status.UPDATED):
        return "reverted"
    if outcome.status is Status.FAILED and outcome.error_code in ledger.NEEDS_A_PERSON:
        return "by_hand"        # the destination can never do it: recorded once, not retried
    return {Status.RETRY: "retry", Status.HELD: "held"}.get(outcome.status, "failed")


def _set_steps(con: duckdb.DuckDBPyConnection, changes: Sequence[tuple[str, int, str, str | None]]) -> None:
    now = _now()
    for plan_id, step_no, state, message in changes:
        con.execute("UPDATE revert_steps SET state = ?, message = coalesce(?, message), updated_at = ? "
                    "WHERE plan_id = ? AND step_no = ?", [state, message, now, plan_id, step_no])


# --- release --------------------------------------------------------------------------------------------


def release(con: duckdb.DuckDBPyConnection, destination: str, run_id: str, *, reverted_run: str | None = None,
            period: str | None = None, source: str | None = None, docs: Iterable[str] = ()) -> list[str]:
    """Let the next normal run post reverted documents again: those a run posted (`reverted_run`), those of
    a period (optionally one source), or named ones (doc_key or document number). Returns the doc_keys
    released. Call inside a transaction."""
    ensure_schema(con)
    docs = list(docs)
    if sum(map(bool, (reverted_run, period, docs))) != 1:
        raise RevertError("say what to release: a run id (--run), a billing period (--period) or documents (--doc)")
    if period and not _PERIOD.match(period):
        raise RevertError(f"period {period!r} is not a billing period; write it as YYYY-MM (e.g. 2026-09)")
    if source and source not in SOURCES:
        raise RevertError(f"source {source!r} is not one the bridge posts from; use one of: {', '.join(SOURCES)}")
    sql = "SELECT doc_key FROM ledger_postings WHERE destination = $d AND state = 'reverted' AND reverted_hash IS NOT NULL"
    params: dict = {"d": destination}
    if reverted_run:
        sql += (" AND doc_key IN (SELECT doc_key FROM ledger_events WHERE destination = $d AND run_id = $r "
                "AND outcome IN ('created', 'updated'))")
        params["r"] = reverted_run
    elif period:
        sql += " AND period = $p"
        params["p"] = period
    else:
        sql += " AND (doc_key IN (SELECT unnest($k)) OR doc_number IN (SELECT unnest($k)))"
        params["k"] = docs
    if source:
        sql += " AND starts_with(doc_key, $s || ':')"
        params["s"] = source
    keys = [k for (k,) in con.execute(sql + " ORDER BY doc_key", params).fetchall()]
    ledger.release_reverted(con, destination, run_id, keys)
    return keys
