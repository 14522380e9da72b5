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
from bridge_assets.ledger import figures
from bridge_assets.canonical import validation
from bridge_assets.destinations.registry import opened
from bridge_assets.sources.sedona_export.parser import AliasTable

from .decorators import asset_key, period_asset
from .metadata import duckdb_table, table
from .partitions import billing_periods
from .period_metadata import (documents_metadata, evaluations, lines_metadata, plan_metadata, postings_metadata,
                              postings_verdict, record, Verdict)
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


@period_asset("receive", group_name="sedona", kinds={"duckdb", "csv"}, source="sedona_export", destination="none")
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
        # Each period's own lines and files on its own materialization; the run's files on all of them.
        record(context, {p: lines_metadata(held) for p, held in figures.received_lines(con, periods).items()})
        where = duckdb_table(con, db.path, intake.LINES_TABLE)
    return dg.MaterializeResult(metadata={
        **where,
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
    destination="none",
    deps=[sedona_export_lines, asset_key("sedona_api_documents"), asset_key("servicetrade_invoices")],
    check_specs=[
        dg.AssetCheckSpec(name, asset=asset_key("accounting_documents"), blocking=name in validation.BLOCKING_CHECKS,
                          description=text, partitions_def=billing_periods)
        for name, text in CHECK_DESCRIPTIONS.items()
    ],
)
def accounting_documents(context: dg.AssetExecutionContext, bridge: BridgeResource, duckdb: DuckDBResource):
    """The canonical documents of the period from every source (SedonaOffice export files and
    SedonaAPI, ServiceTrade): invoices, credits and payments with their lines, Decimal money, a content
    hash each, validated with pandera. A document with any bad row is rejected whole and
    listed with its reasons; everything else flows. This is the only input the posting side reads.
    Every check is evaluated per period, on that period's documents."""
    settings = bridge.settings()
    periods = _periods(context)
    db = ledger_database(duckdb)
    done = transform.transform(db, periods, settings)
    if done.skipped:
        context.log.info(f"nothing changed for {', '.join(periods)} since the transform of {done.since:%Y-%m-%d %H:%M} "
                         f"UTC (the same files, pulls, settings and code): its documents, rejections and check "
                         f"results stand; nothing was mapped again")
    verdicts: dict[str, dict[str, Verdict]] = {name: {} for name in CHECK_DESCRIPTIONS}
    for period, outcomes in done.outcomes.items():
        for o in outcomes:
            verdicts[o.name][period] = Verdict(
                o.passed, o.description, dg.AssetCheckSeverity.ERROR if o.blocking else dg.AssetCheckSeverity.WARN,
                {"failing": dg.MetadataValue.json(o.failing), "failing_count": o.failing_count})
            if not o.passed:
                (context.log.error if o.blocking else context.log.warning)(f"check {o.name} ({period}): {o.description}")
    with db.connect() as con:
        held = figures.documents(con, periods)
        where = duckdb_table(con, db.path, "accounting_documents")
    for period, documents in held.items():
        sources = ", ".join(f"{n} {source} {doc_type}" for source, doc_type, n, _ in documents.by_source)
        context.log.info(f"{period}: {documents.count} documents ({sources or 'none'}); {documents.rejected} rejected")
    record(context, {p: documents_metadata(documents) for p, documents in held.items()})
    yield dg.MaterializeResult(metadata=where)
    for name, by_period in verdicts.items():
        yield from evaluations(context, name, by_period)


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
        record(context, {p: plan_metadata(*planned) for p, planned in figures.plan(con, periods).items()})
        where = duckdb_table(con, db.path, "posting_plan")
    return dg.MaterializeResult(metadata=where)


POSTINGS_CHECK = "postings_clean"
POSTINGS_CHECK_DESCRIPTION = ("Every document of the period is posted (or skipped unchanged) in every destination: "
                              "ERROR when a destination refused one, WARN when one is held; names each document and "
                              "what to do. Documents a destination cannot take at all (by hand) are listed, not failed.")


@period_asset(
    "posting",
    kinds={"duckdb"},
    deps=[posting_plan],
    # Safe only because posting is idempotent (the ledger); the single retry layer (no run retries).
    retry_policy=dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL),
    check_specs=[dg.AssetCheckSpec(POSTINGS_CHECK, asset=asset_key("quickbooks_postings"), description=POSTINGS_CHECK_DESCRIPTION,
                                   partitions_def=billing_periods)],
)
def quickbooks_postings(context: dg.AssetExecutionContext, bridge: BridgeResource, duckdb: DuckDBResource):
    """Executes the plan through each configured destination (accountant staging CSV, QuickBooks
    Desktop IIF, ...) and records every attempt and outcome in the ledger. Documents left `sending`
    by an interrupted run are resolved first, so nothing is ever posted twice. Check `postings_clean`
    says per period whether a document failed (ERROR) or is held (WARN), naming it."""
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
    written = [str(f) for r in reports for f in r.files]
    with db.connect() as con:
        ledger_schema.ensure_schema(con)
        held = figures.postings(con, periods, settings.destinations)
        where = duckdb_table(con, db.path, "ledger_postings")
    record(context, {p: postings_metadata(destinations, written) for p, destinations in held.items()})
    yield dg.MaterializeResult(metadata={
        **where,
        "this run": dg.MetadataValue.json([
            {"destination": r.destination, "outcomes": r.outcomes, "resolved from earlier runs": r.resolved,
             "skipped": r.skipped, "already done by another run": r.already_done, "held": r.held,
             "files": r.files} for r in reports
        ]),
    })
    yield from evaluations(context, POSTINGS_CHECK, {p: postings_verdict(d) for p, d in held.items()})


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
    by_period: dict[str, list[tuple]] = {p: [] for p in periods}
    for d, p, _, n, t, date, total, why in rows:
        by_period[p].append((d, n, t, date, total, why))
    record(context, {p: {
        "dagster/row_count": len(held),
        "held documents": table(["destination", "document", "type", "date", "total", "why"], held[:50]),
        **{f"{name}: held": sum(1 for h in held if h[0] == name) for name in sorted({h[0] for h in held})},
    } for p, held in by_period.items()})
    return dg.MaterializeResult()
