"""SedonaAPI 2.0 and ServiceTrade as assets beside the export files, and ServiceTrade's write-back.

Each source is on when its base URL is set (SEDONA_API_BASE_URL, SERVICETRADE_BASE_URL); an asset of a
source that is off materializes with a note saying how to switch it on, so the nightly run and the UI
look the same whichever sources a company uses.
"""

import datetime as dt
import hashlib
import json
from collections import defaultdict

import dagster as dg
from dagster_duckdb import DuckDBResource

from bridge_assets.sources.sedona_api import sync as sedona_api_sync
from bridge_assets.sources.servicetrade import sync as servicetrade_sync
from bridge_assets.ledger import servicetrade_writeback as writeback
from bridge_assets.sources.sedona_api.client import SedonaApiClient
from bridge_assets.sources.servicetrade.client import PENDING, ServiceTradeClient

from .decorators import asset_key, bridge_sensor, period_asset
from .metadata import table
from .partitions import RANGE_END, RANGE_START, billing_periods
from .period_metadata import record
from .resources import BridgeResource, ledger_database


def _switched_off(source: str, variable: str, to_do: str) -> dg.MaterializeResult:
    """What an asset of a source that is off says in the UI: how to switch it on."""
    return dg.MaterializeResult(metadata={"status": f"{source} is off: set {variable} and its credentials to {to_do} "
                                                    "(see README)"})


@period_asset("receive", group_name="sedona", kinds={"duckdb", "api"}, source="sedona_api", destination="none")
def sedona_api_documents(context: dg.AssetExecutionContext, bridge: BridgeResource,
                         duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Invoices, credits, payments, recurring lines and tickets pulled from SedonaAPI 2.0 for the period,
    kept as received (raw JSON beside parsed columns). A pull reads what changed since its watermark;
    the first pull of a period, and the first after `SEDONA_API_FULL_PULL_HOURS` (20), reads the whole
    period, which is how an invoice deleted in SedonaOffice is noticed and voided in the books."""
    settings = bridge.settings()
    if not settings.sedona_api_enabled:
        return _switched_off("SedonaAPI", "SEDONA_API_BASE_URL", "read SedonaOffice by API")
    db = ledger_database(duckdb)
    reports = []
    with SedonaApiClient.from_env() as client:
        for period in context.partition_keys:
            report = sedona_api_sync.pull_period(
                db, client, period, run_id=context.run.run_id,
                full_pull_after=dt.timedelta(hours=settings.sedona_api_full_pull_hours))
            reports.append(report)
            context.log.info(f"SedonaAPI {period}: {'full' if report.full else 'incremental'} pull, "
                             f"{report.records} record(s) new or changed, {report.rows} export row(s) "
                             f"{'(unchanged)' if report.already_loaded else 'loaded'}")
            if report.unconvertible:
                context.log.warning(f"SedonaAPI {period}: {report.unconvertible} document(s) cannot be read; "
                                    "they are listed with the rejected documents")
    record(context, {r.period: {
        "dagster/row_count": r.rows,
        "records new or changed": r.records,
        "unreadable": r.unconvertible,
        "pull": table(["pull", "records new or changed", "export rows", "unchanged since the last pull", "unreadable"],
                      [("full" if r.full else "incremental", r.records, r.rows, r.already_loaded, r.unconvertible)]),
    } for r in reports})
    return dg.MaterializeResult()


@period_asset("receive", group_name="servicetrade", kinds={"duckdb", "api"}, source="servicetrade",
              destination="none")
def servicetrade_invoices(context: dg.AssetExecutionContext, bridge: BridgeResource,
                          duckdb: DuckDBResource) -> dg.MaterializeResult:
    """ServiceTrade invoices waiting in `pending_accounting` for the period, kept as received (raw JSON),
    and any invoice taken earlier that has been voided in ServiceTrade since (it is voided in the books)."""
    settings = bridge.settings()
    if not settings.servicetrade_enabled:
        return _switched_off("ServiceTrade", "SERVICETRADE_BASE_URL", "collect invoices")
    db = ledger_database(duckdb)
    rows = []
    with ServiceTradeClient.from_env() as client:
        for period in context.partition_keys:
            with db.connect() as con:
                known = servicetrade_sync.known_invoice_ids(con, period)
            invoices, report = servicetrade_sync.fetch_period(client, period, known)
            with db.transaction() as con:
                servicetrade_sync.store_invoices(con, period, invoices, context.run.run_id)
            rows.append((period, report.pending, report.voided))
            context.log.info(f"ServiceTrade {period}: {report.pending} pending invoice(s), "
                             f"{report.voided} voided since taken")
    record(context, {period: {"dagster/row_count": pending, "pending_accounting": pending,
                              "voided since taken": voided} for period, pending, voided in rows})
    return dg.MaterializeResult()


@period_asset("write_back", group_name="servicetrade", kinds={"api"}, deps=[asset_key("quickbooks_postings")],
              source="servicetrade")
def servicetrade_writeback(context: dg.AssetExecutionContext, bridge: BridgeResource,
                           duckdb: DuckDBResource) -> dg.MaterializeResult:
    """What ServiceTrade is told: `processed` with the books' document number for a posted invoice,
    `failed` with a private comment a bookkeeper can act on for one that could not be posted, a private
    note for one held in a closed period. Nothing is written twice; every write-back is in the ledger."""
    settings = bridge.settings()
    periods = list(context.partition_keys)
    if not settings.servicetrade_enabled:
        return dg.MaterializeResult(metadata={"status": "ServiceTrade is off"})
    db = ledger_database(duckdb)
    with db.connect() as con:
        items, unchanged = writeback.decide(con, periods, settings.servicetrade_books)
    with ServiceTradeClient.from_env() as client:
        report = writeback.execute(db, client, items, context.run.run_id, progress=context.log.info)
    for invoice_id, message in report.errors:
        context.log.error(f"ServiceTrade invoice {invoice_id}: write-back failed, tried again next run: {message}")
    for item in report.done:
        if item.outcome == writeback.FAILED:
            context.log.warning(f"ServiceTrade invoice {item.invoice_id} set failed: {item.reason}")
    if report.errors:
        raise dg.Failure(f"{len(report.errors)} ServiceTrade write-back(s) failed; the rest were written. "
                         "They are tried again on the next run.",
                         metadata={"errors": dg.MetadataValue.json([{"invoice": i, "error": e} for i, e in report.errors[:20]])})
    record(context, {period: _writeback_metadata([i for i in report.done if i.period == period]) for period in periods})
    return dg.MaterializeResult(metadata={"unchanged (all periods of the run)": unchanged})


def _writeback_metadata(done: list) -> dict:
    """One period's write-backs: how many per outcome (plotted) and each invoice with what it was told."""
    outcomes: dict[str, int] = {}
    for item in done:
        outcomes[item.outcome] = outcomes.get(item.outcome, 0) + 1
    return {
        "dagster/row_count": len(done),
        **{f"written: {outcome}": n for outcome, n in sorted(outcomes.items())},
        "write-backs": table(["invoice", "document", "outcome", "number", "reason"],
                             [(i.invoice_id, i.doc_number or "", i.outcome, i.invoice_number or "", i.reason)
                              for i in done[:50]]),
    }


@bridge_sensor(job_name="bridge_job", minimum_interval_seconds=600)
def servicetrade_pending_sensor(context: dg.SensorEvaluationContext, bridge: BridgeResource) -> dg.SensorResult | dg.SkipReason:
    """Polls ServiceTrade for invoices in `pending_accounting` and requests one run per billing period
    that has some. The run key is the set of pending invoices (and their last change), so the same
    waiting invoices never start a second run; a new or changed one does."""
    settings = bridge.settings()
    if not settings.servicetrade_enabled:
        return dg.SkipReason("ServiceTrade is off (SERVICETRADE_BASE_URL is not set)")
    if not settings.servicetrade_polling:
        return dg.SkipReason("polling ServiceTrade is off (BRIDGE_SERVICETRADE_POLLING=false): only webhooks bring invoices")
    known = set(billing_periods.get_partition_keys())
    by_period: dict[str, list[str]] = defaultdict(list)
    with ServiceTradeClient.from_env() as client:
        fields = client.fields
        # The list answer is enough to know what waits; pending_invoices would also read each invoice's items.
        for invoice in client.invoices(status=PENDING):
            period = servicetrade_sync.period_of(invoice, "", fields)
            if period in known:
                by_period[period].append(f"{invoice.get(fields.id)}@{invoice.get(fields.updated)}")
            else:
                context.log.warning(f"ServiceTrade invoice {invoice.get(fields.id)} is dated outside the billing "
                                    f"periods the bridge keeps ({period or 'no date'}); it is left pending")
    if not by_period:
        return dg.SkipReason("no invoices waiting in pending_accounting")
    requests = []
    for period, marks in sorted(by_period.items()):
        digest = hashlib.sha256(json.dumps(sorted(marks)).encode()).hexdigest()[:20]
        requests.append(dg.RunRequest(run_key=f"servicetrade:{period}:{digest}",
                                      tags={RANGE_START: period, RANGE_END: period, "bridge/source": "servicetrade"}))
        context.log.info(f"ServiceTrade: {len(marks)} invoice(s) pending for {period}")
    return dg.SensorResult(run_requests=requests)

