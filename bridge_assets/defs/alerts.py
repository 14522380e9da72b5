"""The alert sensors: a failed run, a failed ERROR check, a document held or failed in the ledger.

Each problem is told once (see bridge_assets/alerts/notify.py for where that is recorded and why), to the
webhook in BRIDGE_ALERT_WEBHOOK_URL, or to the sensor's log when it is not set.
"""

from __future__ import annotations

import dataclasses

import dagster as dg
from dagster_duckdb import DuckDBResource

from bridge_assets.alerts import notify as alerts
from bridge_assets.sources.sedona_export import intake
from bridge_assets.alerts import problems

from .assets import POSTINGS_CHECK
from .decorators import asset_key, bridge_run_failure_sensor, bridge_sensor
from .resources import BUSY, BridgeResource, ledger_database, read_briefly
from .partitions import RANGE_END, RANGE_START, billing_periods

# A sensor reads the ledger between runs' writes: DuckDB lets a reader in only while no process
# writes, and a run waits for the reader to leave. So wait briefly, read, and let go; if a run is
# writing, look again at the next tick rather than hold it up.
LEDGER_LOCK_WAIT_S = 2.0
# Evaluations read per check and tick: enough to see every period a night's runs touched.
CHECK_HISTORY = 25
# The statuses of a check evaluation that has completed, by name: the status type is not exported by
# `dagster`, so the "planned" rows every run writes are left out of the history here, page by page.
_COMPLETED = {"SUCCEEDED", "FAILED"}
_CHECK_FAILED_ERROR = "DagsterAssetCheckFailedError"
# Checks whose problems the ledger alerts already tell, document by document (one message per problem):
# postings_clean fails for exactly the failed and held documents raise_ledger_alerts reports.
TOLD_BY_LEDGER = {(asset_key("quickbooks_postings").to_user_string(), POSTINGS_CHECK)}


def period_of_tags(tags: dict[str, str]) -> str:
    """The billing period(s) a run covered, as its tags say: one partition, or a range of them."""
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    start, end = tags.get(RANGE_START), tags.get(RANGE_END)
    if start and end:
        return start if start == end else f"{start} to {end}"
    return ""


def _metadata_text(value) -> str:
    raw = getattr(value, "value", value)
    return raw if isinstance(raw, str) else repr(raw)


def completed_check_history(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> list:
    """The latest CHECK_HISTORY completed evaluations of one check, newest first (planned ones skipped)."""
    completed, cursor = [], None
    while len(completed) < CHECK_HISTORY:
        page = instance.event_log_storage.get_asset_check_execution_history(key, limit=CHECK_HISTORY, cursor=cursor)
        completed += [r for r in page if r.status.value in _COMPLETED]
        if len(page) < CHECK_HISTORY:
            break
        cursor = page[-1].id
    return completed[:CHECK_HISTORY]


def latest_check_evaluations(instance: dg.DagsterInstance, asset_graph) -> list[problems.CheckEvaluation]:
    """The latest completed evaluation of every check in the code location, per period.

    Read check by check (DAGSTER_NOTES: an event cursor over all check evaluations raises on the
    default SQLite storage). A check on a partitioned asset may be unpartitioned itself (ours are);
    then the period is the one its run covered, taken from the run's tags."""
    found: list[tuple[dg.AssetCheckKey, object]] = []
    for key in sorted(asset_graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        found += [(key, r) for r in completed_check_history(instance, key) if r.event is not None]
    run_ids = sorted({r.run_id for _, r in found if not r.partition})
    tags = {rec.dagster_run.run_id: rec.dagster_run.tags
            for rec in (instance.get_run_records(filters=dg.RunsFilter(run_ids=run_ids)) if run_ids else [])}
    evaluations: list[problems.CheckEvaluation] = []
    seen: set[tuple] = set()
    for key, record in found:  # newest first within each check
        data = record.event.dagster_event.asset_check_evaluation_data
        metadata = dict(data.metadata)
        failing = metadata.pop("failing", None)
        count = metadata.pop("failing_count", None)
        failing_rows = getattr(failing, "value", failing)
        rows = tuple(r if isinstance(r, dict) else {"row": r} for r in failing_rows) \
            if isinstance(failing_rows, list) else None
        whole = problems.CheckEvaluation(
            asset=key.asset_key.to_user_string(),
            check=key.name,
            period=record.partition or period_of_tags(tags.get(record.run_id, {})),
            passed=data.passed,
            error_severity=data.severity == dg.AssetCheckSeverity.ERROR,
            description=data.description or "",
            guards=asset_graph.get_check_spec(key).description or "",
            failing=rows,
            failing_count=int(getattr(count, "value", count)) if count is not None else None,
            other_metadata=tuple(sorted((k, _metadata_text(v)) for k, v in metadata.items())),
            run_id=record.run_id,
        )
        parts = per_period(whole, tags.get(record.run_id, {})) if not record.partition else [whole]
        for evaluation in parts:
            if (key, evaluation.period) in seen:
                continue
            seen.add((key, evaluation.period))
            evaluations.append(evaluation)
    return evaluations


def per_period(evaluation: problems.CheckEvaluation, tags) -> list[problems.CheckEvaluation]:
    """A check run over a range of periods whose offending rows say their period is split into one
    evaluation per period, so the same difference found by a one-period run and by the nightly range run
    is one problem, not two. A period with no row shown is taken as passing only when every row was shown."""
    start, end = tags.get(RANGE_START), tags.get(RANGE_END)
    rows = evaluation.failing
    if not (start and end and start != end) or (rows and not all("period" in r for r in rows)):
        return [evaluation]
    try:
        periods = billing_periods.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
    except Exception:  # a range outside the billing periods (Dagster raises its own error types)
        return [evaluation]
    complete = evaluation.failing_count is None or evaluation.failing_count <= len(rows or ())
    parts = []
    for period in periods:
        mine = tuple(r for r in rows or () if r.get("period") == period)
        if not mine and not evaluation.passed and not complete:
            continue            # cut from the shown rows: cannot tell, neither raise nor close
        parts.append(dataclasses.replace(
            evaluation, period=period, passed=evaluation.passed or not mine, failing=mine,
            failing_count=len(mine) if complete else None))
    return parts


def _blocking_checks(asset_graph) -> set[tuple[str, str]]:
    return {(k.asset_key.to_user_string(), k.name) for k in asset_graph.asset_check_keys
            if asset_graph.get_check_spec(k).blocking}


def _read_ledger(duckdb: DuckDBResource, read):
    """`read(con)` on the bridge database, or None when a run holds it (a reason is returned too)."""
    if not ledger_database(duckdb).path.exists():
        return [], "nothing posted yet"
    found, unread = read_briefly(duckdb, read, lock_timeout_s=LEDGER_LOCK_WAIT_S)
    if unread == BUSY:
        return None, "the bridge database is busy with a run"
    return ([], "nothing posted yet") if unread else (found, "")


@bridge_sensor(minimum_interval_seconds=60)
def problem_alert_sensor(
    context: dg.SensorEvaluationContext, bridge: BridgeResource, duckdb: DuckDBResource
) -> dg.SkipReason:
    """Tells a person, once per problem, about a failed ERROR check (any asset, any check: the
    blocking checks on the canonical documents, a period that does not reconcile), about
    documents held or failed in the ledger, and about each new version of an export file. Sends to the webhook in BRIDGE_ALERT_WEBHOOK_URL (the log
    when unset), and retries messages the webhook did not take. Requests no runs."""
    settings = bridge.settings()
    if context.repository_def is None:
        raise dg.DagsterInvariantViolationError("problem_alert_sensor needs its code location to know the checks")
    graph = context.repository_def.asset_graph
    evaluations = [e for e in latest_check_evaluations(context.instance, graph) if (e.asset, e.check) not in TOLD_BY_LEDGER]
    held_or_failed, not_read = _read_ledger(duckdb, problems.problem_documents)
    versions, _ = _read_ledger(duckdb, intake.new_versions)
    webhook = alerts.Webhook.from_env()
    with alerts.AlertRecord.open(alerts.record_path(settings.home), context.log) as record:
        raised = problems.raise_check_alerts(record, evaluations, _blocking_checks(graph), context.log)
        if held_or_failed is None:
            # Not "no problems": the ledger was not read. Held documents stay told, nothing resolves.
            context.log.info(f"{not_read}; held and failed documents are looked at again next tick")
        else:
            raised += problems.raise_ledger_alerts(record, held_or_failed, context.log)
        raised += problems.raise_version_alerts(record, versions or [], context.log)
        delivery = alerts.deliver(record, webhook, context.log)
        record.prune()
    return dg.SkipReason(f"{len(raised)} new problem(s); {delivery.summary()}"
                         + (f"; ledger not read: {not_read}" if held_or_failed is None else ""))


def _root_error(error) -> str:
    """The error as the step raised it (Dagster wraps it): the innermost cause, without its module path."""
    while error.cause is not None:
        error = error.cause
    first, _, rest = error.message.strip().partition(": ")
    text = rest if rest and first.endswith(error.cls_name or "\0") else error.message.strip()
    return f"{error.cls_name}: {text}" if error.cls_name else text


@bridge_run_failure_sensor(minimum_interval_seconds=60)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext, bridge: BridgeResource, duckdb: DuckDBResource
) -> None:
    """Tells a person, once, about each failed run of this code location: the job, the period, the
    error as the step raised it, and the documents it left in flight or failed. A run stopped by a
    failed blocking check is told by problem_alert_sensor instead (one message for one problem, with
    the offending documents)."""
    run = context.dagster_run
    step_errors = [(e.step_key or "?", e.event_specific_data.error)
                   for e in context.get_step_failure_events() if e.event_specific_data.error is not None]
    if step_errors and all(error.cls_name == _CHECK_FAILED_ERROR for _, error in step_errors):
        context.log.info(f"run {run.run_id} was stopped by a failed blocking check; problem_alert_sensor tells that")
        return None
    failed = problems.FailedRun(
        run_id=run.run_id, job_name=run.job_name, period=period_of_tags(dict(run.tags)),
        message=context.failure_event.message or "the run failed",
        step_errors=tuple((step, _root_error(error)) for step, error in step_errors),
    )
    documents, _ = _read_ledger(duckdb, lambda con: problems.documents_left_by_run(con, run.run_id))
    with alerts.AlertRecord.open(alerts.record_path(bridge.settings().home), context.log) as record:
        problems.raise_run_failure_alert(record, failed, documents, context.log)
        # Whatever the webhook does not take now, problem_alert_sensor sends at its next tick.
        alerts.deliver(record, alerts.Webhook.from_env(), context.log)
    # None: the run-status machinery then goes on to the next failed run in the same tick.
    return None


sensors = [problem_alert_sensor, run_failure_alert_sensor]
