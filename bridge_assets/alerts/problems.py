"""The problems worth telling a person about, found in plain data, and the alerts that tell them.

Three kinds, each with a subject (what the problem is about) and a problem key (the subject plus
what the problem is right now):
- a failed ERROR check: about one check on one period; its key changes when the failing documents
  change, so a new set is a new alert and the same set found again at night is not;
- documents held or failed in the ledger: about one destination, period and state; a document is
  told about once, until it leaves that state (a held credit until it is posted);
- a failed run: about that run, told once;
- a new version of an export file (one that grew after it was first read, or a re-export dropped under
  the same name): about that version, told once.

The orchestration layer (defs/alerts.py) reads Dagster and hands plain values to these functions;
nothing here imports Dagster, so the rules can be tested and read on their own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Iterable, Sequence

import duckdb

from bridge_assets.canonical.reads import documents_table
from bridge_assets.alerts.notify import FIRST_DOCUMENTS, Alert, AlertRecord, Log, announce
from bridge_assets.sources.sedona_export.intake import NewVersion

_ROW_TEXT_LIMIT = 300
_ERROR_TEXT_LIMIT = 600


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_row(row: dict) -> str:
    """One offending row as a short line, the document's number first when the row has one."""
    named = next((k for k in ("doc_number", "document", "invoice_number", "doc_key") if row.get(k) not in (None, "")), None)
    rest = ", ".join(f"{k}: {v}" for k, v in row.items() if k != named and v not in (None, ""))
    line = f"{row[named]} ({rest})" if named and rest else str(row[named]) if named else rest
    return _short(line, _ROW_TEXT_LIMIT)


# ---------------------------------------------------------------------------------------------
# Checks


@dataclasses.dataclass(frozen=True)
class CheckEvaluation:
    """The latest evaluation of one asset check for one period, as Dagster recorded it."""

    asset: str
    check: str
    period: str                       # the partition, or the run's period range; "" for an unpartitioned run
    passed: bool
    error_severity: bool              # ERROR: a failure blocks or must be acted on; WARN only shows in the UI
    description: str                  # what the evaluation found
    guards: str = ""                  # what the check is for (its spec's description)
    failing: tuple[dict, ...] | None = None   # the `failing` metadata: first offending rows
    failing_count: int | None = None
    other_metadata: tuple[tuple[str, str], ...] = ()
    run_id: str = ""

    @property
    def subject(self) -> str:
        return f"check:{self.asset}:{self.check}:{self.period}"

    @property
    def fingerprint(self) -> str:
        """What the failure is made of. The offending rows when the check lists them; otherwise what
        it said and reported. Not the run: the same failure found again tomorrow is the same problem."""
        if self.failing is not None:
            return _digest({"failing": list(self.failing), "count": self.failing_count})
        return _digest({"description": self.description, "metadata": list(self.other_metadata)})


# What a bookkeeper does about each check that can fail; a check not listed gets the general advice.
CHECK_ADVICE = {
    "schema_valid": "The export has values the bridge cannot read as a document (a wrong column mapping or a "
                    "damaged file). Correct the report style or the file in SedonaOffice and drop it in the inbox again.",
    "totals_balance": "Each listed invoice's total differs from its lines plus tax. Correct the invoice in "
                      "SedonaOffice (or the export) and drop the corrected export in the inbox again.",
    "unique_document_numbers": "Two documents share a number. Renumber one in SedonaOffice, or set "
                               "BRIDGE_SEDONA_DOC_PREFIX if two sources collide, then export again.",
    "references_known": "These credits apply to an invoice the bridge has never seen. Export the invoice too "
                        "(or correct the credit's invoice number) and drop the files in the inbox again.",
    "customers_and_items_present": "Fill in the missing customer or item code on the listed documents in "
                                   "SedonaOffice and export again.",
    "dated_within_partition": "The listed documents are dated outside the period they were filed under. "
                              "Correct their dates in SedonaOffice and export again.",
    "rejected_share_within_limit": "Too many documents were rejected for this to be a few bad rows: check the "
                                   "export's columns and report style, fix the file and drop it again (or raise "
                                   "BRIDGE_MAX_REJECTED_SHARE if this share is expected).",
    "period_reconciles": "The books and the ledger disagree for the listed documents (edited by hand, missing or "
                         "extra in the books). Check each one in QuickBooks: undo a hand edit there, or revert and "
                         "re-post the period with the bridge. The check passes at the next reconciliation.",
}
GENERAL_CHECK_ADVICE = ("Open the check in the Dagster UI for the offending rows, correct them at the source, then "
                        "re-run the period.")
BLOCKED_NOTE = " Nothing in this period is posted until the check passes."


def check_alert(evaluation: CheckEvaluation, blocking: bool) -> Alert:
    rows = list(evaluation.failing or ())
    count = evaluation.failing_count if evaluation.failing_count is not None else len(rows)
    shown = [describe_row(r) for r in rows[:FIRST_DOCUMENTS]]
    kind = "Blocking check" if blocking else "Check"
    detail = evaluation.description
    if evaluation.guards and evaluation.guards not in detail:
        detail = f"{detail} (the check: {evaluation.guards})" if detail else evaluation.guards
    advice = CHECK_ADVICE.get(evaluation.check, GENERAL_CHECK_ADVICE) + (BLOCKED_NOTE if blocking else "")
    return Alert(
        key=f"{evaluation.subject}:{evaluation.fingerprint}",
        period=evaluation.period,
        what_failed=f"{kind} {evaluation.check} failed on {evaluation.asset}",
        detail=detail,
        documents=tuple(shown),
        more_documents=max(count - len(shown), 0),
        what_to_do=advice,
        reference=f"run {evaluation.run_id}" if evaluation.run_id else "",
    )


def raise_check_alerts(record: AlertRecord, evaluations: Iterable[CheckEvaluation], blocking_checks: set[tuple[str, str]],
                       log: Log) -> list[Alert]:
    """One alert per failed ERROR check and period, again only when its failing documents change;
    a passing evaluation closes the problem (so a later failure is told again)."""
    raised = []
    for evaluation in evaluations:
        if evaluation.passed or not evaluation.error_severity:
            for stale in record.resolve(evaluation.subject):
                log.info(f"alert dropped before it was sent, the check passes now: {stale.headline}")
            continue
        alert = check_alert(evaluation, (evaluation.asset, evaluation.check) in blocking_checks)
        if record.raise_alert(alert, evaluation.subject):
            announce(alert, log)
            raised.append(alert)
    return raised


# ---------------------------------------------------------------------------------------------
# The ledger: held and failed documents


@dataclasses.dataclass(frozen=True)
class ProblemDocument:
    destination: str
    period: str
    state: str                 # held | failed
    doc_key: str
    doc_number: str
    doc_type: str
    content_hash: str          # the content the hold or failure was about
    error_code: str
    error: str
    txn_date: str
    total: str

    @property
    def mark(self) -> str:
        """Changes when the document becomes a different problem: new content, or a new reason."""
        return _digest([self.destination, self.doc_key, self.state, self.content_hash, self.error_code])

    def line(self) -> str:
        about = ", ".join(x for x in (self.doc_type, self.txn_date, f"total {self.total}" if self.total else "") if x)
        reason = f"{self.error_code}: {self.error}" if self.error_code and self.error else self.error or self.error_code
        return _short(f"{self.doc_number} ({about}): {reason}" if reason else f"{self.doc_number} ({about})",
                      _ROW_TEXT_LIMIT)


PROBLEM_DOCUMENTS_SQL = f"""
    SELECT l.destination, l.period, l.state, l.doc_key, l.doc_number, l.doc_type,
           coalesce(l.failed_hash, l.content_hash, ''), coalesce(l.last_error_code, ''), coalesce(l.last_error, ''),
           coalesce(strftime(d.txn_date, '%Y-%m-%d'), ''), coalesce(CAST(d.total AS VARCHAR), '')
    FROM ledger_postings l LEFT JOIN {documents_table()} d USING (doc_key)
    WHERE l.state IN ('held', 'failed')
    ORDER BY l.destination, l.period, l.state, d.txn_date NULLS LAST, l.doc_number
"""


def problem_documents(con: duckdb.DuckDBPyConnection) -> list[ProblemDocument]:
    return [ProblemDocument(*row) for row in con.execute(PROBLEM_DOCUMENTS_SQL).fetchall()]


SOURCE_NAMES = {"sedona": "SedonaOffice", "servicetrade": "ServiceTrade"}


def _sources(documents: Sequence[ProblemDocument]) -> str:
    """Where the listed documents come from, in the names the bookkeeper uses (doc_key = source:type:id)."""
    found = sorted({SOURCE_NAMES.get(d.doc_key.split(":", 1)[0], d.doc_key.split(":", 1)[0]) for d in documents})
    return " or ".join(found) or "the source"


def _ledger_alert(subject: str, destination: str, period: str, state: str, new: Sequence[ProblemDocument],
                  in_state: int) -> Alert:
    shown = [d.line() for d in new[:FIRST_DOCUMENTS]]
    source = _sources(new)
    others = in_state - len(new)
    besides = f" ({others} more already reported are still {state})" if others else ""
    if state == "held" and all(d.error_code == "number_reused" for d in new):
        what = f"{len(new)} document(s) held for {destination}: a posted number now carries another customer or period"
        detail = (f"Applying the newest {source} data would rewrite what the books hold{besides}; each line names "
                  "both versions.")
        advice = ("A person decides, once per version: `bridge held release <doc_key>` applies the new version, "
                  "`bridge held reject <doc_key>` keeps the posted one (in the UI: the held_document_decision job).")
    elif state == "held":
        what = f"{len(new)} document(s) held for {destination}: its books are closed for their dates"
        detail = (f"{destination} refuses documents dated on or before its book-close date, so these wait in the "
                  f"credit queue{besides}.")
        advice = (f"Nothing is lost: held documents post once, by themselves, when {destination}'s books are reopened "
                  "for their dates (move the book-close date back; the replay sensor then runs the period). If a "
                  f"document belongs in a later period, correct its date in {source} and send it again.")
    else:
        what = f"{len(new)} document(s) failed to post to {destination}"
        detail = f"{destination} refused them; each line gives its reason{besides}."
        advice = (f"Fix what each reason names: the document in {source} (then send it again), or the customer, "
                  f"item or setting in {destination}. A corrected document is posted by the next run, exactly once; "
                  "a temporary refusal is tried again by the next run.")
    return Alert(key=f"{subject}:{_digest(sorted(d.mark for d in new))}", period=period, what_failed=what,
                 detail=detail, documents=tuple(shown), more_documents=len(new) - len(shown), what_to_do=advice,
                 reference=f"{'credit_queue' if state == 'held' else 'quickbooks_postings'} for {period} in the "
                           f"Dagster UI, or ledger_postings in the bridge database")


def raise_ledger_alerts(record: AlertRecord, documents: Iterable[ProblemDocument], log: Log) -> list[Alert]:
    """One alert per destination, period and state for the documents not told about yet; a document
    that leaves the state (posted, reverted) is forgotten, so it is told again if it comes back."""
    groups: dict[tuple[str, str, str], list[ProblemDocument]] = {}
    for document in documents:
        groups.setdefault((document.destination, document.period, document.state), []).append(document)
    raised = []
    for (destination, period, state), members in groups.items():
        subject = f"ledger:{destination}:{period}:{state}"
        by_mark = {d.mark: d for d in members}
        new = [by_mark[m] for m in record.new_members(subject, by_mark)]
        record.observed(subject)
        if not new:
            continue
        alert = _ledger_alert(subject, destination, period, state, new, len(members))
        if record.raise_alert(alert, subject, supersedes=False):
            announce(alert, log)
            raised.append(alert)
        record.told_members(subject, (d.mark for d in new))
    for subject in record.open_subjects("ledger:"):
        destination, period, state = subject.split(":", 3)[1:]
        if (destination, period, state) not in groups:
            record.resolve(subject)
            log.info(f"no documents {state} for {destination} in {period} any more")
    return raised


# ---------------------------------------------------------------------------------------------
# Failed runs


@dataclasses.dataclass(frozen=True)
class FailedRun:
    run_id: str
    job_name: str
    period: str
    message: str                                  # Dagster's summary of the failure
    step_errors: tuple[tuple[str, str], ...] = ()  # (step, the error as the step raised it)


RUN_DOCUMENTS_SQL = f"""
    SELECT l.destination, l.period, l.state, l.doc_key, l.doc_number, l.doc_type,
           coalesce(l.sending_hash, l.failed_hash, ''), coalesce(l.last_error_code, ''), coalesce(l.last_error, ''),
           coalesce(strftime(d.txn_date, '%Y-%m-%d'), ''), coalesce(CAST(d.total AS VARCHAR), '')
    FROM ledger_postings l LEFT JOIN {documents_table()} d USING (doc_key)
    WHERE l.last_run_id = ? AND l.state IN ('sending', 'failed')
    ORDER BY l.state DESC, l.destination, l.doc_number
"""


def documents_left_by_run(con: duckdb.DuckDBPyConnection, run_id: str) -> list[ProblemDocument]:
    """Documents the run left in flight (`sending`) or failed: the ones a person may want to look at."""
    return [ProblemDocument(*row) for row in con.execute(RUN_DOCUMENTS_SQL, [run_id]).fetchall()]


def run_failure_alert(run: FailedRun, documents: Sequence[ProblemDocument] | None) -> Alert:
    errors = "; ".join(f"step {step}: {_short(error, _ERROR_TEXT_LIMIT)}" for step, error in run.step_errors)
    detail = errors or _short(run.message, _ERROR_TEXT_LIMIT)
    shown: list[str] = []
    more = 0
    if documents is None:
        detail += " (The ledger could not be read while another run was writing; the run's documents are not listed.)"
    elif documents:
        shown = [f"{d.line()} [{d.state} for {d.destination}]" for d in documents[:FIRST_DOCUMENTS]]
        more = len(documents) - len(shown)
    return Alert(
        key=f"run:{run.run_id}",
        period=run.period,
        what_failed=f"Run of {run.job_name} failed",
        detail=detail,
        documents=tuple(shown),
        more_documents=more,
        what_to_do=("Open the run in the Dagster UI for the full error and fix what it names, then re-execute it "
                    "from the failed step. Posting is idempotent: documents left in flight are settled first and "
                    "nothing is posted twice."),
        reference=f"run {run.run_id} of {run.job_name}",
    )


def raise_run_failure_alert(record: AlertRecord, run: FailedRun, documents: Sequence[ProblemDocument] | None,
                            log: Log) -> Alert | None:
    alert = run_failure_alert(run, documents)
    if record.raise_alert(alert):
        announce(alert, log)
        return alert
    return None


# ---------------------------------------------------------------------------------------------
# New versions of export files


def new_version_alert(version: NewVersion) -> Alert:
    return Alert(
        key=f"file-version:{version.sha256}",
        period=", ".join(p for p in version.periods.split(",") if p),
        what_failed=f"{version.file_name} was received again with different content: a new version replaced the earlier one",
        detail=(f"The version received {version.received_at:%Y-%m-%d %H:%M} UTC (sha256 {version.sha256[:12]}) follows the "
                f"one received {version.earlier_received_at:%Y-%m-%d %H:%M} UTC (sha256 {version.earlier_sha256[:12]}): "
                "its documents update the earlier ones. Either the file grew after it was first read (a writer that "
                "paused), or a corrected export was dropped under the same name."),
        what_to_do=("If the file was still being written when first read, nothing is lost: every line of the final "
                    "version was received, and documents already posted were updated. Raise BRIDGE_INBOX_QUIET_SECONDS "
                    "above the longest pause of the writer, or have it write under a .part name and rename when done. "
                    "If it is a re-export, check that the changes were meant."),
        reference=f"export_files in the bridge database; both versions are in the archive ({version.sha256[:12]}_"
                  f"{version.file_name} and {version.earlier_sha256[:12]}_{version.file_name})",
    )


def raise_version_alerts(record: AlertRecord, versions: Iterable[NewVersion], log: Log) -> list[Alert]:
    """One alert per new version of a file, once."""
    raised = []
    for version in versions:
        alert = new_version_alert(version)
        if record.raise_alert(alert):
            announce(alert, log)
            raised.append(alert)
    return raised
