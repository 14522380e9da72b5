"""The SedonaOffice export pipeline as software-defined assets, one monthly partition per billing period.

Assets are thin: they call the domain modules, write DuckDB, and describe what happened in words a
bookkeeper can read in the UI.
"""


import contextlib
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from bridge_assets.ledger import transform
from bridge_assets.sources.sedona_export import inbox
from bridge_assets.sources.sedona_export import intake
from bridge_assets.ledger import store as ledger
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import schema as ledger_schema
from bridge_assets.ledger import posting
from bridge_assets.ledger import held_queue as queue
from bridge_assets.canonical import validation
from bridge_assets.destinations.registry import opened
from bridge_assets.sources.sedona_export.parser import AliasTable

from .decorators import period_asset
from .metadata import documents_metadata, md_table, plan_metadata, postings_metadata, rejected_metadata
from .resources import BridgeResource, ledger_database

KNOWN_DOC_KEYS_SQL = ledger.KNOWN_DOC_KEYS_SQL


def _periods(context: dg.AssetExecutionContext) -> list[str]:
    return list(context.partition_keys)


class ExportFilesConfig(dg.Config):
    files: list[str] = []
    """Files to receive (the folder sensor names the one it saw). Empty: every quiet file in the inbox."""
    min_age_seconds: float | None = None
    """Take only files not written to for this long; unset: BRIDGE_INBOX_QUIET_SECONDS."""
    reread: bool = False
    """Read the files again even if their bytes were received under the same configuration (`bridge reread`)."""


@period_asset("receive", group_name="sedona", kinds={"duckdb", "csv"})
def sedona_export_lines(
    context: dg.AssetExecutionContext, config: ExportFilesConfig, bridge: BridgeResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """Every row of every SedonaOffice "Export Invoice Detail" file received, as text, with its file,
    sha256, row number and parser version. Files are taken from the inbox, recognised by their column
    headers, loaded, then archived; a file that cannot be read is moved to the quarantine folder with
    a `.error.txt` saying why. Receiving the same file twice changes nothing."""
    settings = bridge.settings()
    folders = settings.folders.create()
    db = ledger_database(duckdb)
    aliases = AliasTable.from_toml(settings.header_aliases_file)
    quiet = settings.inbox_quiet_seconds if config.min_age_seconds is None else config.min_age_seconds
    paths = [Path(f) for f in config.files] if config.files else intake.stable_files(folders.inbox, quiet)
    taken = intake.receive_all(db.connect, paths, folders, aliases, reread=config.reread)
    received, refused = taken
    for item in received:
        (context.log.warning if item.supersedes or item.inbox_file != inbox.REMOVED else context.log.info)(item.sentence)
    for item in refused:
        context.log.error(f"{item.file_name} quarantined: {item.reason}")
    for sentence in taken.left:
        context.log.warning(sentence)
    periods = _periods(context)
    with db.connect() as con:
        intake.ensure_schema(con)
        per_period = con.execute(
            f"SELECT period, count(*) AS lines, count(DISTINCT file_sha256) AS files FROM {intake.LINES_TABLE} "
            "WHERE period IN (SELECT unnest(?)) GROUP BY period ORDER BY period",
            [periods],
        ).fetchall()
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(r[1] for r in per_period),
        "lines per period": md_table(["period", "lines", "files"], per_period),
        "files received this run": dg.MetadataValue.json(
            [{"file": r.file_name, "sha256": r.sha256, "periods": list(r.periods), "lines": r.line_rows,
              "ignored rows (blank/total)": r.ignored_rows, "already received": r.already_received,
              "new version of an earlier file (its sha256)": r.supersedes, "read again": r.reread,
              "set aside as a duplicate": r.set_aside, "what happened": r.sentence} for r in received]
        ),
        "files quarantined": dg.MetadataValue.json([{"file": q.file_name, "reason": q.reason, "moved to": q.moved_to} for q in refused]),
        "files left in the inbox (still being written)": dg.MetadataValue.json(taken.left),
    })


CHECK_DESCRIPTIONS = {
    "schema_valid": "Documents and lines match the canonical pandera schemas.",
    "totals_balance": "Every header total equals the sum of its lines plus tax.",
    "unique_document_numbers": "No document number is used twice within a source.",
    "references_known": "Every credit and payment applies to a known document.",
    "customers_and_items_present": "Every document names a customer and every line an item.",
    "dated_within_partition": "No document is dated outside its billing period.",
    "rejected_share_within_limit": "Few enough documents were rejected that the export is trustworthy.",
    "rmr_change_within_limit": "No customer's recurring monthly revenue jumped unexpectedly.",
    "period_not_empty": "The period has documents.",
}


@period_asset(
    "canonical",
    kinds={"duckdb", "pandas"},
    deps=[sedona_export_lines, "sedona_api_documents", "servicetrade_invoices"],
    check_specs=[
        dg.AssetCheckSpec(name, asset="accounting_documents", blocking=name in validation.BLOCKING_CHECKS,
                          description=text)
        for name, text in CHECK_DESCRIPTIONS.items()
    ],
)
def accounting_documents(
    context: dg.AssetExecutionContext, bridge: BridgeResource, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """The canonical documents of the period from every source (SedonaOffice export files and
    SedonaAPI, ServiceTrade): invoices, credits and payments with their lines, Decimal money, a content
    hash each, validated with pandera. A document with any bad row is rejected whole and
    listed with its reasons; everything else flows. This is the only input the posting side reads."""
    settings = bridge.settings()
    periods = _periods(context)
    db = ledger_database(duckdb)
    done = transform.transform(db, periods, settings)
    outcomes, result = done.outcomes, done.result
    with db.connect() as con:
        metadata = documents_metadata(con, periods) | rejected_metadata(con, periods)
    if result is None:
        context.log.info(f"nothing changed for {', '.join(periods)} since the transform of {done.since:%Y-%m-%d %H:%M} "
                         f"UTC (the same files, pulls, settings and code): its {done.documents} documents, "
                         f"{done.rejected} rejected and check results stand; nothing was mapped again")
    else:
        context.log.info(f"{result.documents} documents mapped for {', '.join(periods)} ({result.sedona.documents} "
                         f"SedonaOffice invoices and credits, {result.sedona_payments} SedonaOffice payments, "
                         f"{result.servicetrade.documents} ServiceTrade invoices); {result.rejected} rejected")
    checks = [
        dg.AssetCheckResult(
            check_name=o.name, passed=o.passed,
            severity=dg.AssetCheckSeverity.ERROR if o.blocking else dg.AssetCheckSeverity.WARN,
            description=o.description,
            metadata={"failing": dg.MetadataValue.json(o.failing), "failing_count": o.failing_count},
        )
        for o in outcomes
    ]
    for o in outcomes:
        if not o.passed:
            (context.log.error if o.blocking else context.log.warning)(f"check {o.name}: {o.description}")
    return dg.MaterializeResult(metadata=metadata, check_results=checks)


@period_asset("posting", kinds={"duckdb"}, deps=[accounting_documents])
def posting_plan(context: dg.AssetExecutionContext, bridge: BridgeResource, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """What would be done for each document and destination: create, update, skip, hold or by_hand, with the
    reason and the payload. Nothing is sent here; this is the preview."""
    settings = bridge.settings()
    periods = _periods(context)
    db = ledger_database(duckdb)
    summaries = []
    with contextlib.ExitStack() as stack:
        # The destinations themselves: their capabilities plan what they lack as `by_hand`. Their close dates
        # are asked before the transaction: a destination may need the network to say where its books close.
        destinations = [stack.enter_context(opened(name, settings)) for name in settings.destinations]
        closed = [destination.book_close_date() for destination in destinations]
        with db.transaction() as con:
            for destination, closed_through in zip(destinations, closed):
                summaries.append(planning.plan_periods(con, destination, periods, closed_through=closed_through))
    with db.connect() as con:
        metadata = plan_metadata(con, periods)
    return dg.MaterializeResult(metadata=metadata)


@period_asset(
    "posting",
    kinds={"duckdb"},
    deps=[posting_plan],
    # Safe only because posting is idempotent (the ledger); the single retry layer (no run retries).
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
)
def quickbooks_postings(context: dg.AssetExecutionContext, bridge: BridgeResource, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Executes the plan through each configured destination (accountant staging CSV, QuickBooks
    Desktop IIF, ...) and records every attempt and outcome in the ledger. Documents left `sending`
    by an interrupted run are resolved first, so nothing is ever posted twice."""
    settings = bridge.settings()
    periods = _periods(context)
    db = ledger_database(duckdb)
    reports = []
    for name in settings.destinations:
        with opened(name, settings) as destination:
            report = posting.execute_plan(db, destination, periods, context.run.run_id, progress=context.log.info)
        reports.append(report)
        context.log.info(report.describe())     # what was done, not what was planned
        for doc_number, code, message in report.failures[:20]:
            context.log.warning(f"{name}: {doc_number} {code}: {message}")
    with db.connect() as con:
        metadata = postings_metadata(con, periods, reports)
    return dg.MaterializeResult(metadata=metadata)


@period_asset("posting", kinds={"duckdb"}, deps=[quickbooks_postings])
def credit_queue(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Documents held because their date is in a closed accounting period, per destination, with the
    reason. They are not lost: when the books reopen (the close date moves before their date), the
    replay sensor requests one run that posts them. Documents held because their number was reused for
    another customer or period are listed too; they wait for a person (`bridge held`, held_document_decision)."""
    periods = _periods(context)
    db = ledger_database(duckdb)
    with db.connect() as con:
        ledger_schema.ensure_schema(con)
        rows = con.execute(queue.HELD_SQL, [periods]).fetchall()
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        "held documents": md_table(["destination", "period", "document", "type", "date", "total", "why"],
                                   [(d, p, n, t, date, total, why) for d, p, _, n, t, date, total, why in rows[:50]]),
    })

