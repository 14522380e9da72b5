"""Executing a posting plan through a destination, exactly once.

Order of work on every run:
1. Resolve rows left `sending` by an earlier run (crash, timeout): a destination that honours request
   ids gets the same request again (it answers with the original response); any other is asked to
   find the document by number first. Never a blind second create.
2. Record what the plan left `by_hand` (the destination lacks the capability) once, sending nothing.
3. For each batch of planned creates and updates: re-check the ledger (the plan may be stale), write
   `sending` and commit, send, record the outcomes and commit. No database connection is open while
   the destination is being talked to.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable, Sequence

from bridge_assets.ledger import schema as ledger_schema
from bridge_assets.ledger import store as ledger
from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.destinations.base import BY_HAND_CODES, Action, Destination, Outcome, PostRequest, Status
from bridge_assets.model.document import AccountingDocument, content_hash
from bridge_assets.runtime.storage import Database

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclasses.dataclass
class PostingReport:
    destination: str
    periods: tuple[str, ...]
    resolved: dict[str, int] = dataclasses.field(default_factory=dict)
    outcomes: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped: int = 0                   # unchanged since posted (by the plan, or found so when about to send)
    already_done: int = 0              # planned, but another run posted (or voided) it first: nothing sent
    held: int = 0                      # held by the plan (closed period), nothing sent
    # (an action the destination lacks is planned `by_hand` and counted `failed` in `outcomes`, nothing sent)
    files: list[str] = dataclasses.field(default_factory=list)
    failures: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)  # doc_number, code, message

    def count(self, bucket: dict[str, int], status: Status) -> None:
        bucket[status.value] = bucket.get(status.value, 0) + 1

    def describe(self) -> str:
        """What this run did in the destination (never what was planned)."""
        done = [f"{n} {word}" for word, n in sorted(self.outcomes.items())]
        if self.resolved:
            done.append("settled from an interrupted run: " + ", ".join(f"{n} {w}" for w, n in sorted(self.resolved.items())))
        if self.already_done:
            done.append(f"{self.already_done} already done by another run (nothing sent)")
        if self.skipped:
            done.append(f"{self.skipped} unchanged (nothing sent)")
        if self.held:
            done.append(f"{self.held} held")
        return f"{self.destination}: " + ("; ".join(done) if done else "nothing to do")


class ContentHashMismatch(RuntimeError):
    """The stored hash does not match the document rebuilt from its canonical JSON: a bug, never posted."""


def _requests_for(
    rows: Sequence[tuple[str, str, str]], documents: dict[str, AccountingDocument],
    postings: dict[str, ledger.PostingRow], previous: dict[str, dict], destination: str,
) -> list[tuple[ledger.Sending, PostRequest]]:
    out = []
    for doc_key, action_text, _ in rows:
        document = documents[doc_key]
        row = postings.get(doc_key)
        action = Action(action_text)
        generation = row.generation if row else 0
        rid = ledger.request_id(destination, doc_key, document.content_hash, generation)
        sending = ledger.Sending(doc_key, document.period, document.doc_type, document.doc_number,
                                 document.content_hash, action, rid)
        out.append((sending, PostRequest(
            action=action, document=document, request_id=rid,
            dest_id=row.dest_id if row else None, version=row.sync_token if row else None,
            previous=previous.get(doc_key),
        )))
    return out


def _current_action(row: ledger.PostingRow | None, content: str) -> Action | None:
    """What the ledger says to do now (None = nothing): the guard against a stale plan."""
    if row is None:
        return Action.CREATE
    if row.state == "posted" and row.content_hash == content:
        return None
    if row.state == "voided":
        return Action.CREATE          # cancelled, then current again: a new document in the destination
    if row.state == "reverting" or (row.state == "reverted" and row.reverted_hash == content):
        return None   # reverted by the bookkeeper after this plan was made: not posted again silently
    return Action.UPDATE if row.dest_id else Action.CREATE


def resolve_unknown_outcomes(db: Database, destination: Destination, run_id: str, report: PostingReport,
                             progress: Progress = lambda _: None) -> None:
    """Protocol step 4: settle every row still `sending` before anything new is sent."""
    name = destination.name
    with db.connect() as con:
        ledger_schema.ensure_schema(con)
        stuck = ledger.rows(con, name, state="sending")
    if not stuck:
        return
    progress(f"{name}: resolving {len(stuck)} document(s) whose earlier outcome is unknown")
    # Periods in order, invoices first: a credit or payment is linked to its invoice by the destination's id.
    order = {"invoice": 0, "credit_memo": 1, "payment": 2}
    resend: list[tuple[ledger.Sending, ledger.PostingRow]] = []
    voids = {k: r for k, r in stuck.items() if r.sending_action == Action.VOID.value}
    if voids:
        _resolve_voids(db, destination, run_id, voids, report)
    for doc_key, row in sorted(stuck.items(), key=lambda i: (i[1].period, order.get(i[1].doc_type, 3), i[0])):
        if doc_key in voids:
            continue
        sending = ledger.Sending(doc_key, row.period, row.doc_type, row.doc_number, row.sending_hash or "",
                                 Action(row.sending_action or "create"), row.request_id or "")
        found = None if destination.capabilities.honours_request_id else destination.find(row.doc_type, row.doc_number)
        landed = found is not None and (
            sending.action is Action.CREATE
            or (found.after or {}).get("content_hash") in (None, row.sending_hash)
        )
        if landed:
            with db.transaction() as con:
                ledger.record_outcomes(con, name, run_id, [(sending, dataclasses.replace(
                    found, message="resolved after an interrupted run: found in the destination"))])
            report.count(report.resolved, found.status)
        else:
            resend.append((sending, row))
    if resend:
        _resend(db, destination, run_id, resend, report)


def _resolve_voids(db: Database, destination: Destination, run_id: str, stuck: dict[str, ledger.PostingRow],
                   report: PostingReport) -> None:
    """A void whose outcome is unknown is simply asked again: voiding a voided invoice (or deleting a
    deleted credit) is recognised by the destination as already done."""
    with db.connect() as con:
        reasons = dict(con.execute("SELECT doc_key, reason FROM cancelled_documents WHERE doc_key IN (SELECT unnest(?))",
                                   [list(stuck)]).fetchall())
    order = {"payment": 0, "credit_memo": 1, "invoice": 2}
    for doc_key, row in sorted(stuck.items(), key=lambda i: (i[1].period, order.get(i[1].doc_type, 3), i[0])):
        sending = ledger.Sending(doc_key, row.period, row.doc_type, row.doc_number, row.sending_hash or "",
                                 Action.VOID, row.request_id or "")
        destination.begin_run(run_id, row.period)
        try:
            outcome = destination.void_or_delete(row.doc_type, row.dest_id or "", row.sync_token)
        finally:
            report.files.extend(destination.end_run())
        _record_void(db, destination, run_id, sending, outcome, reasons.get(doc_key, "cancelled at the source"), report,
                     bucket=report.resolved)


def _resend(db: Database, destination: Destination, run_id: str,
            resend: list[tuple[ledger.Sending, ledger.PostingRow]], report: PostingReport) -> None:
    """Not found (or a destination that replays by request id): the same requests again, in one
    destination run per period and in batches, exactly as a normal run would send them."""
    name = destination.name
    keys = [s.doc_key for s, _ in resend]
    with db.connect() as con:
        documents = canonical_reads.load_documents(con, keys)
        previous = ledger.last_sent(con, name, keys)
    superseded, by_period = [], {}
    for sending, row in resend:
        document = documents.get(sending.doc_key)
        if document is None or document.content_hash != row.sending_hash:
            # The source moved on since the crash; the normal plan will send the current content.
            # A definitive record means this request id is never reused for other content.
            superseded.append((sending, Outcome(
                Status.FAILED, error_code="superseded",
                message="the interrupted attempt was not found in the destination and the document has changed since; "
                        "the current version is planned instead")))
            continue
        by_period.setdefault(sending.period, []).append((sending, PostRequest(
            sending.action, document, sending.request_id, dest_id=row.dest_id, version=row.sync_token,
            previous=previous.get(sending.doc_key))))
    if superseded:
        with db.transaction() as con:
            ledger.record_outcomes(con, name, run_id, superseded)
        for _ in superseded:
            report.count(report.resolved, Status.FAILED)
    size = max(1, destination.capabilities.batch_size)
    for period, pairs in by_period.items():
        destination.begin_run(run_id, period)
        try:
            for start in range(0, len(pairs), size):
                chunk = pairs[start:start + size]
                outcomes = destination.post([r for _, r in chunk])
                with db.transaction() as con:
                    ledger.record_outcomes(con, name, run_id, list(zip([s for s, _ in chunk], outcomes)))
                for outcome in outcomes:
                    report.count(report.resolved, outcome.status)
        finally:
            report.files.extend(destination.end_run())


def execute_plan(db: Database, destination: Destination, periods: Sequence[str], run_id: str,
                 progress: Progress = lambda _: None) -> PostingReport:
    name = destination.name
    periods = tuple(sorted(set(periods)))
    report = PostingReport(name, periods)
    resolve_unknown_outcomes(db, destination, run_id, report, progress)
    batch_size = max(1, destination.capabilities.batch_size)

    for period in periods:
        with db.connect() as con:
            planned = con.execute(
                "SELECT doc_key, action, content_hash FROM posting_plan WHERE destination = ? AND period = ? "
                "AND action IN ('create', 'update') ORDER BY CASE doc_type WHEN 'invoice' THEN 0 WHEN 'credit_memo' THEN 1 ELSE 2 END, txn_date, doc_number",
                [name, period],
            ).fetchall()
            report.skipped += con.execute(
                "SELECT count(*) FROM posting_plan WHERE destination = ? AND period = ? AND action IN ('skip')",
                [name, period],
            ).fetchall()[0][0]
            held = con.execute(
                "SELECT doc_key, doc_type, doc_number, content_hash, reason, coalesce(hold_code, 'period_closed') "
                "FROM posting_plan WHERE destination = ? AND period = ? AND action = 'hold'", [name, period],
            ).fetchall()
        if held:
            with db.transaction() as con:
                report.held += ledger.mark_held(con, name, run_id, [
                    (ledger.Sending(key, period, doc_type, number, digest, Action.CREATE, ""), reason, code)
                    for key, doc_type, number, digest, reason, code in held])
        _record_by_hand(db, name, run_id, period, report)
        voids = _planned_voids(db, name, period)
        if not planned and not voids:
            continue
        destination.begin_run(run_id, period)
        try:
            # Cancellations first, payments before credits before invoices: a destination refuses to void
            # an invoice that a payment or credit still applies to.
            if voids:
                sent = _void(db, destination, run_id, voids, report)
                progress(f"{name} {period}: {sent} of {len(voids)} cancelled document(s) voided or deleted"
                         + (f", {len(voids) - sent} already were" if sent < len(voids) else ""))
            done = sent = 0
            for start in range(0, len(planned), batch_size):
                chunk = planned[start:start + batch_size]
                sent += _post_batch(db, destination, run_id, chunk, report)
                done += len(chunk)
                if done == len(planned) or done % max(batch_size, 1000) < batch_size:
                    # What was sent, not what was planned: another run may have posted some meanwhile.
                    progress(f"{name} {period}: {sent} document(s) sent of {done}/{len(planned)} planned"
                             + (f", {done - sent} already posted or changed since the plan (nothing sent)"
                                if sent < done else ""))
        finally:
            report.files.extend(destination.end_run())
    return report


def _post_batch(db: Database, destination: Destination, run_id: str, chunk: Sequence[tuple[str, str, str]],
                report: PostingReport) -> int:
    """Send what the ledger still says to send of `chunk`; returns how many requests were sent."""
    name = destination.name
    keys = [k for k, _, _ in chunk]
    with db.transaction() as con:
        documents = canonical_reads.load_documents(con, keys)
        postings = ledger.rows(con, name, keys)
        # Re-check against the ledger now: the plan may be older than another run's postings.
        live = []
        for doc_key, _, planned_hash in chunk:
            document = documents.get(doc_key)
            if document is None or document.content_hash != planned_hash:
                continue  # the document changed after planning; the next plan picks it up
            if content_hash(document) != document.content_hash:
                raise ContentHashMismatch(
                    f"{doc_key}: stored content hash {document.content_hash[:12]} does not match the document "
                    f"({content_hash(document)[:12]}); nothing was sent. Report this as a bug."
                )
            action = _current_action(postings.get(doc_key), document.content_hash)
            if action is None:
                report.already_done += 1      # planned, but another run got there first
                continue
            live.append((doc_key, action.value, planned_hash))
        previous = ledger.last_sent(con, name, [k for k, a, _ in live if a == "update"])
        pairs = _requests_for(live, documents, postings, previous, name)
        ledger.mark_sending(con, name, run_id, [s for s, _ in pairs])
    if not pairs:
        return 0
    outcomes = destination.post([r for _, r in pairs])
    if len(outcomes) != len(pairs):
        raise RuntimeError(f"destination {name} answered {len(outcomes)} outcomes for {len(pairs)} requests")
    with db.transaction() as con:
        ledger.record_outcomes(con, name, run_id, list(zip([s for s, _ in pairs], outcomes)))
    for (sending, request), outcome in zip(pairs, outcomes):
        report.count(report.outcomes, outcome.status)
        if outcome.status in (Status.FAILED, Status.HELD):
            report.failures.append((request.document.doc_number, outcome.error_code or "", outcome.message or ""))
    return len(pairs)


# The action a `by_hand` plan row stands for, by the code of the capability the destination lacks.
_BY_HAND_ACTION = {BY_HAND_CODES["supports_update"]: Action.UPDATE, BY_HAND_CODES["supports_void"]: Action.VOID,
                   BY_HAND_CODES["links_payments"]: Action.CREATE}


def _record_by_hand(db: Database, name: str, run_id: str, period: str, report: PostingReport) -> None:
    """Record each `by_hand` row of the plan once, as the adapter's refusal would be recorded (failed, with
    the capability's code and the plan's sentence; the plan skips it after), without asking the destination.
    The ledger is re-checked first: a row another run recorded or posted is left alone."""
    with db.transaction() as con:
        rows = con.execute(
            """SELECT p.doc_key, coalesce(c.period, p.period), p.doc_type, p.doc_number, p.content_hash, p.request_id,
                      p.hold_code, p.reason
               FROM posting_plan p LEFT JOIN cancelled_documents c USING (doc_key)
               WHERE p.destination = ? AND p.period = ? AND p.action = 'by_hand' ORDER BY p.doc_number""",
            [name, period]).fetchall()
        if not rows:
            return
        keys = [r[0] for r in rows]
        postings = ledger.rows(con, name, keys)
        current = canonical_reads.content_hashes(con, keys)
        previous = ledger.last_sent(con, name, keys)
        results = []
        for doc_key, doc_period, doc_type, number, digest, rid, code, sentence in rows:
            action, row = _BY_HAND_ACTION[code], postings.get(doc_key)
            if row is not None and row.state == "failed" and row.failed_hash == digest and row.last_error_code == code:
                report.already_done += 1
                continue
            if action is Action.VOID:
                if row is None or row.state == "voided" or not row.dest_id:
                    report.already_done += 1
                    continue
            elif current.get(doc_key) != digest:
                continue                      # changed after planning; the next plan picks it up
            elif _current_action(row, digest) is None:
                report.already_done += 1
                continue
            results.append((ledger.Sending(doc_key, doc_period, doc_type, number, digest, action, rid), Outcome(
                Status.FAILED, error_code=code, message=sentence,
                before=previous.get(doc_key) if action is Action.UPDATE else None)))
        ledger.mark_sending(con, name, run_id, [sending for sending, _ in results])
        ledger.record_outcomes(con, name, run_id, results)
    for sending, outcome in results:
        report.count(report.outcomes, outcome.status)
        report.failures.append((sending.doc_number, outcome.error_code or "", outcome.message or ""))


def _planned_voids(db: Database, name: str, period: str) -> list[tuple]:
    with db.connect() as con:
        return con.execute(
            """SELECT p.doc_key, p.doc_type, p.doc_number, p.content_hash, p.request_id, p.reason, c.period
               FROM posting_plan p JOIN cancelled_documents c USING (doc_key)
               WHERE p.destination = ? AND p.period = ? AND p.action = 'void'
               ORDER BY CASE p.doc_type WHEN 'payment' THEN 0 WHEN 'credit_memo' THEN 1 ELSE 2 END, p.doc_number""",
            [name, period],
        ).fetchall()


def _void(db: Database, destination: Destination, run_id: str, voids: Sequence[tuple], report: PostingReport) -> int:
    """Void (invoice) or delete (credit memo, payment) each cancelled document once, with the reason in
    the ledger. The ledger is re-checked first: a document already voided is never sent again."""
    name = destination.name
    sent = 0
    for doc_key, doc_type, doc_number, planned_hash, rid, reason, doc_period in voids:
        with db.transaction() as con:
            row = ledger.rows(con, name, [doc_key]).get(doc_key)
            if row is None or row.state == "voided" or not row.dest_id:
                report.already_done += 1
                continue
            sending = ledger.Sending(doc_key, doc_period, doc_type, doc_number, planned_hash, Action.VOID, rid)
            ledger.mark_sending(con, name, run_id, [sending])
        outcome = destination.void_or_delete(doc_type, row.dest_id, row.sync_token)
        sent += 1
        _record_void(db, destination, run_id, sending, outcome, reason, report)
    return sent


def _record_void(db: Database, destination: Destination, run_id: str, sending: ledger.Sending, outcome: Outcome,
                 reason: str, report: PostingReport, bucket: dict[str, int] | None = None) -> None:
    """Record one void's outcome with the cancellation's reason; counted in `bucket` (default: this run's outcomes)."""
    if outcome.status is Status.VOIDED:
        outcome = dataclasses.replace(outcome, message=f"{reason}" + (f" ({outcome.message})" if outcome.message else ""))
    with db.transaction() as con:
        ledger.record_outcomes(con, destination.name, run_id, [(sending, outcome)])
    report.count(report.outcomes if bucket is None else bucket, outcome.status)
    if outcome.status in (Status.FAILED, Status.HELD):
        report.failures.append((sending.doc_number, outcome.error_code or "", outcome.message or ""))
