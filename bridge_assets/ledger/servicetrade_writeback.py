"""Telling ServiceTrade what happened to each invoice it handed over (a use case: it reads the ledger).

ServiceTrade's integration contract: an invoice in `pending_accounting` is delivered to accounting and
then set `processed` (with the accounting system's document number) or `failed` with a private comment
saying why. The books destination (`BRIDGE_SERVICETRADE_BOOKS`, default the first destination) decides:

- posted there -> `processed`, invoice number = the number the books hold;
- failed there, or refused before posting (rejected by the mapping) -> `failed` + a private comment
  with the sentence a bookkeeper can act on ("Customer 'Smith, J' not found in QuickBooks and
  auto-create is off ...");
- held (the books are closed for its date) -> stays `pending_accounting` with a private comment saying
  so; it posts, and is set `processed`, when the period reopens;
- anything else (outcome not known yet, not planned) -> stays pending, the reason recorded in the ledger.

So no invoice is left pending by a finished run without a recorded reason. Each write-back is
recorded (`servicetrade_writebacks`, and an event in `ledger_events`) and not repeated while nothing
changed: the same status, reason and content are never written twice. A crash between ServiceTrade's
answer and the record is harmless: setting the status an invoice already has changes nothing, and a
comment is never posted twice (the client looks first).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Callable, Sequence

import duckdb

from bridge_assets.ledger import schema as ledger_schema
from bridge_assets.canonical.reads import documents_table
from bridge_assets.ledger import store as ledger
from bridge_assets.sources.servicetrade import sync as servicetrade_sync
from bridge_assets.sources.servicetrade.client import PENDING, ServiceTradeClient, ServiceTradeError
from bridge_assets.runtime.schema_once import made_once
from bridge_assets.runtime.storage import Database

SOURCE = "servicetrade"
TABLE = "servicetrade_writebacks"
SCHEMA_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    invoice_id VARCHAR PRIMARY KEY, doc_key VARCHAR, outcome VARCHAR NOT NULL, invoice_number VARCHAR,
    reason VARCHAR NOT NULL, content_hash VARCHAR, written_at TIMESTAMP NOT NULL, run_id VARCHAR
);
"""

PROCESSED, FAILED, NOTED, WAITING = "processed", "failed", "noted", "waiting"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Its own table and every table the decision reads."""
    servicetrade_sync.ensure_schema(con)
    ledger_schema.ensure_schema(con)          # and the canonical tables under it
    made_once(con, "servicetrade_writeback", lambda made: made.execute(SCHEMA_DDL))


@dataclasses.dataclass(frozen=True)
class Writeback:
    invoice_id: str
    period: str
    doc_key: str | None
    doc_number: str | None
    outcome: str                 # processed | failed | noted | waiting
    invoice_number: str | None   # for processed: the books' document number
    reason: str
    content_hash: str | None


@dataclasses.dataclass
class WritebackReport:
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    unchanged: int = 0
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)   # invoice id, message
    done: list[Writeback] = dataclasses.field(default_factory=list)


# Every invoice ServiceTrade still shows as waiting for accounting (or failed by us), with what the
# books destination's ledger row and the mapping say about it.
_DECIDE_SQL = f"""
WITH inv AS (
    SELECT s.invoice_id, s.period, s.status FROM servicetrade_invoices s
    WHERE s.period IN (SELECT unnest($periods)) AND s.status IN ($pending, 'failed')
), doc AS (
    SELECT source_id AS invoice_id, doc_key, doc_number, content_hash FROM {documents_table()} WHERE source = $source
), rej AS (
    SELECT source_id AS invoice_id, any_value(doc_key) AS doc_key, string_agg(reasons, '; ') AS reasons
    FROM rejected_documents WHERE starts_with(doc_key, $source || ':') GROUP BY 1
), can AS (
    SELECT source_id AS invoice_id, doc_key FROM cancelled_documents WHERE source = $source
)
SELECT i.invoice_id, i.period, i.status, coalesce(d.doc_key, r.doc_key, c.doc_key) AS doc_key, d.doc_number,
       d.content_hash, r.reasons, c.doc_key IS NOT NULL AS cancelled,
       l.state, l.dest_doc_number, l.last_error, l.last_error_code, l.content_hash AS posted_hash,
       w.outcome AS last_outcome, w.reason AS last_reason, w.content_hash AS last_hash
FROM inv i
LEFT JOIN doc d USING (invoice_id)
LEFT JOIN rej r USING (invoice_id)
LEFT JOIN can c USING (invoice_id)
LEFT JOIN ledger_postings l ON l.destination = $books AND l.doc_key = d.doc_key
LEFT JOIN {TABLE} w USING (invoice_id)
ORDER BY i.period, i.invoice_id
"""


def decide(con: duckdb.DuckDBPyConnection, periods: Sequence[str], books_destination: str) -> tuple[list[Writeback], int]:
    """What to write back for `periods`, and how many invoices need nothing new."""
    ensure_schema(con)
    rows = con.execute(_DECIDE_SQL, {"periods": list(periods), "books": books_destination, "pending": PENDING,
                                     "source": SOURCE}).fetchall()
    todo, unchanged = [], 0
    for (invoice_id, period, status, doc_key, doc_number, digest, rejected, cancelled, state, dest_number,
         last_error, last_code, posted_hash, last_outcome, last_reason, last_hash) in rows:
        if cancelled:
            continue
        if rejected and not doc_number:
            item = Writeback(invoice_id, period, doc_key, None, FAILED, None,
                             f"not posted: {rejected}. Correct the invoice in ServiceTrade and send it to accounting again.",
                             None)
        elif state == "posted" and posted_hash == digest:
            item = Writeback(invoice_id, period, doc_key, doc_number, PROCESSED, dest_number or doc_number,
                             f"posted to {books_destination} as {dest_number or doc_number}", digest)
        elif state == "failed":
            item = Writeback(invoice_id, period, doc_key, doc_number, FAILED, None,
                             f"{books_destination} refused it: {last_error or last_code or 'no reason given'}", digest)
        elif state == "held" and last_code == "number_reused":
            item = Writeback(invoice_id, period, doc_key, doc_number, NOTED, None,
                             f"waiting for a person in accounting: {last_error}", digest)
        elif state == "held":
            item = Writeback(invoice_id, period, doc_key, doc_number, NOTED, None,
                             f"waiting: {last_error or 'the books are closed for its date'}. It stays pending and is "
                             f"posted when the period reopens.", digest)
        elif state == "sending":
            item = Writeback(invoice_id, period, doc_key, doc_number, WAITING, None,
                             f"the outcome in {books_destination} is not known yet; the next run settles it", digest)
        else:
            item = Writeback(invoice_id, period, doc_key, doc_number, WAITING, None,
                             f"not posted to {books_destination} yet (ledger state {state or 'none'})", digest)
        if status == (item.outcome if item.outcome in (PROCESSED, FAILED) else PENDING) and \
                (last_outcome, last_reason, last_hash) == (item.outcome, item.reason, item.content_hash):
            unchanged += 1
            continue
        if item.outcome == WAITING and (last_outcome, last_reason) == (WAITING, item.reason):
            unchanged += 1
            continue
        todo.append(item)
    return todo, unchanged


def execute(db: Database, client: ServiceTradeClient, items: Sequence[Writeback], run_id: str | None,
            progress: Callable[[str], None] = lambda _: None) -> WritebackReport:
    """Write each decision to ServiceTrade, then record it. A ServiceTrade error on one invoice is
    reported and the rest go on; that invoice is tried again next run."""
    report = WritebackReport()
    for n, item in enumerate(items, 1):
        try:
            if item.outcome == PROCESSED:
                client.set_processed(item.invoice_id, invoice_number=item.invoice_number)
            elif item.outcome == FAILED:
                client.set_failed(item.invoice_id, item.reason)
            elif item.outcome == NOTED:
                client.add_private_note(item.invoice_id, item.reason)
        except ServiceTradeError as problem:
            report.errors.append((item.invoice_id, str(problem)))
            continue
        with db.transaction() as con:
            record(con, item, run_id)
        report.counts[item.outcome] = report.counts.get(item.outcome, 0) + 1
        report.done.append(item)
        if n % 200 == 0:
            progress(f"ServiceTrade write-back: {n}/{len(items)} looked at, {len(report.done)} written, "
                     f"{len(report.errors)} refused by ServiceTrade")
    return report


def record(con: duckdb.DuckDBPyConnection, item: Writeback, run_id: str | None) -> None:
    """Inside the caller's transaction; the tables exist (`decide` made them)."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    con.execute(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [item.invoice_id, item.doc_key, item.outcome, item.invoice_number, item.reason, item.content_hash,
                 now, run_id])
    if item.outcome in (PROCESSED, FAILED):
        servicetrade_sync.set_status(con, item.invoice_id, item.outcome)
    ledger.record_source_writeback(con, SOURCE, run_id, [(
        item.doc_key or f"{SOURCE}:unknown:{item.invoice_id}", item.outcome, item.content_hash, item.reason,
        {"invoice_id": item.invoice_id, "status": item.outcome if item.outcome in (PROCESSED, FAILED) else PENDING,
         "invoice_number": item.invoice_number})])
