"""Reading the books back and reconciling them: the QuickBooks mirror, reconciliation per billing
period with its check, the webhook sensor that refreshes the mirror, and the sensor that reconciles
the periods a refresh found changed.

Thin, like the other assets: `mirror.py`, `reconcile.py` and `webhooks.py` do the work.
"""


import hashlib
import json

import dagster as dg
from dagster_duckdb import DuckDBResource

from bridge_assets.destinations.qbo import mirror
from bridge_assets.books import reconcile
from bridge_assets.destinations.qbo import webhooks
from bridge_assets.destinations.registry import opened

from .decorators import JOB_TAGS, asset_key, bridge_asset, bridge_asset_sensor, bridge_sensor, period_asset
from .metadata import duckdb_table, plotted_money, table
from .partitions import RANGE_END, RANGE_START, billing_periods
from .period_metadata import Verdict, evaluations, record
from .resources import BridgeResource, ledger_database

# Offending rows shown per failed check; the count says how many there are in all.
FAILING_SHOWN = 20


class MirrorConfig(dg.Config):
    full_read: bool = False
    """Read every object again instead of only the changes (change data capture)."""


@bridge_asset("books", kinds={"duckdb"}, deps=[asset_key("quickbooks_postings")], source="none", destination="qbo")
def quickbooks_mirror(context: dg.AssetExecutionContext, config: MirrorConfig, bridge: BridgeResource,
                      duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Invoice, CreditMemo, Payment, Customer and Item read back from QuickBooks Online into DuckDB
    (table `qbo_mirror`), so the books can be queried with SQL beside the source. The first run reads
    everything; later runs read only what changed (change data capture), including voids and
    deletions, and read everything again when changes cannot be trusted to be complete (more than 30
    days since the last read, or 1,000 changes at once). A signed QuickBooks webhook refreshes it."""
    settings = bridge.settings()
    if "qbo" not in settings.destinations:
        return dg.MaterializeResult(metadata={
            "note": "QuickBooks Online is not among BRIDGE_DESTINATIONS; there are no books to read back",
            "changes": 0})
    db = ledger_database(duckdb)
    with opened("qbo", settings) as destination:
        try:
            report = mirror.refresh(db, destination.client, destination.realm_id, full=config.full_read,
                                    progress=context.log.info)
        except mirror.MirrorError as problem:
            raise dg.Failure(description=str(problem)) from problem
    with db.connect() as con:
        counts = mirror.entity_counts(con, report.realm_id)
    changes = report.changes
    return dg.MaterializeResult(metadata={
        "company": report.realm_id,
        "reads": table(["entity", "how", "why", "objects returned", "requests"],
                          [(r.entity, r.mode, r.reason, r.objects, r.requests) for r in report.reads]),
        "objects in the mirror": table(["entity", "status", "objects", "total"], counts),
        "changes": len(changes),
        "changed": table(["entity", "document or name", "period", "change"],
                            [(c.entity, c.label, c.period or "", c.change) for c in changes[:50]]),
        # Read by reconcile_after_books_change_sensor: which billing periods to reconcile again.
        "changed periods": dg.MetadataValue.json(report.changed_periods),
    })


CHECK_DESCRIPTION = ("The books agree with the source and the ledger: nothing missing, extra, different in amount "
                     "or edited by hand in QuickBooks after posting.")


@period_asset(
    "books",
    kinds={"duckdb"},
    deps=[asset_key("quickbooks_postings"), quickbooks_mirror],
    check_specs=[dg.AssetCheckSpec("period_reconciles", asset=asset_key("reconciliation"), description=CHECK_DESCRIPTION,
                                   partitions_def=billing_periods)],
)
def reconciliation(context: dg.AssetExecutionContext, bridge: BridgeResource, duckdb: DuckDBResource):
    """Per billing period and destination: the source's totals (accounting_documents), the ledger's
    (what it says was posted) and the books' (the QuickBooks mirror), per document type and per
    customer, with every difference listed: missing, extra, amount differs, edited by hand in the
    books after posting, not posted, held. File destinations cannot be read back: for them source
    and ledger are compared, and what they cannot take is named in their row. Tables
    `reconciliation_results`, `reconciliation_differences`, `reconciliation_totals`."""
    settings = bridge.settings()
    periods = sorted(context.partition_keys)
    db = ledger_database(duckdb)
    for name, what in reconcile.read_back_neutral_books(db, settings.destinations, settings):   # Xero's, the ERPs', ...
        context.log.info(f"{name}: {what}")
    targets = reconcile.destinations_to_reconcile(settings.destinations, settings)
    with db.transaction() as con:
        results = reconcile.reconcile(con, periods, targets)
        where = duckdb_table(con, db.path, "reconciliation_results")
    for result in results:
        (context.log.info if result.reconciled else context.log.error)(result.summary())
    # Each period's own figures on its own materialization, so the UI plots them over periods.
    record(context, {p: _period_metadata([r for r in results if r.period == p]) for p in periods})
    yield dg.MaterializeResult(metadata=where)
    yield from evaluations(context, "period_reconciles",
                          {p: _verdict([r for r in results if r.period == p]) for p in periods})


def _money(value) -> str:
    return "" if value is None else str(value)


def _plain_words(r: reconcile.PeriodReconciliation) -> str:
    """Why a row's totals differ though it reconciles, in a bookkeeper's words: what the destination cannot
    take (entered by hand), what is held, failed or reverted, with how many and how much."""
    words = {"by_hand": "entered by hand in {dest} (it cannot take them)", "held": "held (books closed)",
             "failed": "refused by {dest}", "reverted": "reverted on purpose"}
    groups: dict[tuple[str, str], list] = {}
    for d in r.differences:
        if d.kind in words:
            groups.setdefault((d.kind, d.doc_type or "document"), []).append(d)
    parts = []
    for (kind, doc_type), items in sorted(groups.items()):
        amount = sum((abs(x.source_amount if x.source_amount is not None else x.ledger_amount or 0) for x in items), 0)
        label = {"invoice": "invoices", "credit_memo": "credit memos", "payment": "payments"}.get(doc_type, doc_type)
        parts.append(f"{label} {words[kind].format(dest=r.destination)}: {len(items)}, {amount:,.2f}")
    return "; ".join(parts)


def _period_metadata(results: list[reconcile.PeriodReconciliation]) -> dict:
    failing = [d for r in results for d in r.failing]
    listed = [(r.destination, d) for r in results for d in r.differences]
    by_customer = []
    for r in results:
        rows = r.by_customer()
        # Customers whose sides disagree first, then the largest.
        rows.sort(key=lambda row: (len({v for v in row[2:] if v is not None}) <= 1, -abs(row[2] or 0), row[0]))
        by_customer += [(r.destination, name, n, _money(s), _money(l), _money(d)) for name, n, s, l, d in rows[:40]]
    metadata = {
        "reconciled": all(r.reconciled for r in results),
        # Numbers the UI plots over periods. Money as whole cents: exact, and never a float.
        "differences": len(failing),
        "difference_cents": int(sum((r.difference_amount for r in results), 0) * 100),
        "destinations": table(
            ["destination", "reconciles", "documents", "source total", "ledger total", "why source and ledger differ",
             "books total", "differences", "held or by hand", "note"],
            [(r.destination, "yes" if r.reconciled else "NO", len(r.documents), _money(r.source_total),
              _money(r.ledger_total), _plain_words(r), _money(r.destination_total) if r.books_read_back else "(a file)",
              len(r.failing), len(r.differences) - len(r.failing), r.note or "") for r in results]),
        "by document type": table(
            ["destination", "type", "documents", "source", "ledger", "books"],
            [(r.destination, t, n, _money(s), _money(l), _money(d)) for r in results for t, n, s, l, d in r.by_doc_type()]),
        "by customer (net of credits)": table(
            ["destination", "customer", "documents", "source", "ledger", "books"], by_customer),
        "differences list": table(
            ["destination", "kind", "document", "customer", "source", "ledger", "books", "what to do"],
            [(dest, d.kind, d.doc_number or "", d.customer or "", _money(d.source_amount), _money(d.ledger_amount),
              _money(d.destination_amount), d.detail) for dest, d in listed[:50]]),
    }
    for r in results:      # per destination: its own documents and money, plotted over periods
        metadata[f"{r.destination}: documents"] = len(r.documents)
        metadata[f"{r.destination}: differences"] = len(r.failing)
        metadata[f"{r.destination}: money in (source)"] = plotted_money(r.source_total)
        metadata[f"{r.destination}: money posted (ledger)"] = plotted_money(r.ledger_total)
        if r.books_read_back:
            metadata[f"{r.destination}: money in the books"] = plotted_money(r.destination_total)
    return metadata


def _verdict(results: list[reconcile.PeriodReconciliation]) -> Verdict:
    failing = [(r, d) for r in results for d in r.failing]
    bad = [r for r in results if not r.reconciled]
    if not bad:
        notes = [f"{r.destination} {r.period}{r.explained_note()}" for r in results if r.explained_note()]
        description = (f"{', '.join(sorted({r.period for r in results}))} reconcile"
                       f"{': ' + '; '.join(notes) if notes else ''}.")
    else:
        first = failing[0][1]
        description = (
            f"{'; '.join(r.summary() for r in bad)}. First: {first.detail}. The asset's 'differences list' (and the "
            f"table reconciliation_differences) names every document; correct each in QuickBooks or in the source, "
            f"then run the period again.")
    return Verdict(not bad, description, dg.AssetCheckSeverity.ERROR, {
        "failing": dg.MetadataValue.json([{"period": r.period, "destination": r.destination, **d.failing_row()}
                                          for r, d in failing[:FAILING_SHOWN]]),
        "failing_count": len(failing),
    })


# --- jobs and sensors -----------------------------------------------------------------------------

quickbooks_mirror_job = dg.define_asset_job(
    "quickbooks_mirror_job", selection=[quickbooks_mirror], executor_def=dg.in_process_executor, tags=JOB_TAGS,
    description="Read the changes in QuickBooks Online into the mirror (requested by a signed webhook).",
)
reconciliation_job = dg.define_asset_job(
    "reconciliation_job", selection=[reconciliation], executor_def=dg.in_process_executor, tags=JOB_TAGS,
    description="Reconcile billing periods against the books as the mirror last read them.",
)


@bridge_sensor(job=quickbooks_mirror_job, minimum_interval_seconds=30)
def quickbooks_webhook_sensor(context: dg.SensorEvaluationContext, bridge: BridgeResource) -> dg.SensorResult:
    """Turns the QuickBooks notifications the webhook receiver (`bridge webhooks`) recorded into one
    mirror refresh. The run key comes from the notifications, so a notification Intuit delivers
    twice refreshes once. A request is removed only on the tick after the one that asked for its run
    (the cursor says which), so a failed tick loses nothing."""
    spool = webhooks.RefreshSpool(webhooks.spool_folder(bridge.settings().home))
    requested_last_tick = set(json.loads(context.cursor)) if context.cursor else set()
    pending = spool.pending()
    spool.done([r for r in pending if r.key in requested_last_tick])
    fresh = [r for r in pending if r.key not in requested_last_tick]
    if not fresh:
        return dg.SensorResult(skip_reason="no QuickBooks notifications waiting", cursor=json.dumps([]))
    keys = sorted(r.key for r in fresh)
    run_key = keys[0] if len(keys) == 1 else hashlib.sha256("+".join(keys).encode()).hexdigest()
    for r in fresh:
        context.log.info(f"QuickBooks notification {r.key[:12]} ({r.received_at}): {r.describe()}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"qbo-webhook:{run_key[:40]}",
                                    tags={"bridge/webhook_notifications": str(len(fresh))})],
        cursor=json.dumps(keys),
    )


@bridge_asset_sensor(asset_key=asset_key("quickbooks_mirror"), job=reconciliation_job)
def reconcile_after_books_change_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry):
    """When a webhook-driven mirror refresh finds documents changed in QuickBooks (an invoice edited
    by hand, a deletion), reconciles the billing periods they belong to at once instead of waiting
    for the night. Refreshes inside the nightly job are skipped: that run reconciles anyway."""
    run = context.instance.get_run_by_id(asset_event.run_id)
    if run is None or run.job_name != quickbooks_mirror_job.name:
        return dg.SkipReason("the mirror was refreshed by a run that reconciles by itself")
    metadata = asset_event.asset_materialization.metadata if asset_event.asset_materialization else {}
    changed = metadata.get("changed periods")
    known = set(billing_periods.get_partition_keys())
    periods = sorted(p for p in (changed.value if changed is not None else []) if p in known)
    if not periods:
        return dg.SkipReason("the refresh changed nothing in a billing period")
    return dg.RunRequest(run_key=f"reconcile-after-books-change:{asset_event.run_id}",
                         tags={RANGE_START: periods[0], RANGE_END: periods[-1]})

