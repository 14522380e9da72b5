import json
from pathlib import Path

import dagster as dg

import duckdb as duckdb_errors
from dagster_duckdb import DuckDBResource

from bridge_assets import intake, queue, watch
from bridge_assets.destinations.registry import book_close_dates
from bridge_assets.storage import Database, DatabaseBusy
from bridge_assets.sources.sedona_export import AliasTable, ExportFileRefused

from .api_sources import api_source_sensors
from .dead_runs import dead_run_sensor
from .jobs import bridge_job
from .partitions import RANGE_END, RANGE_START, billing_periods
from .resources import BridgeResource



def file_run_request(path: Path, bridge: BridgeResource, log) -> dg.RunRequest | intake.Quarantined:
    """One run per file, over exactly the periods it holds; its sha256 is the run key."""
    settings = bridge.settings()
    folders = settings.folders.create()
    try:
        export, periods = intake.periods_in(path, AliasTable.from_toml(settings.header_aliases_file), folders.work)
        known = set(billing_periods.get_partition_keys())
        outside = [p for p in periods if p not in known]
        if outside:
            raise ExportFileRefused(
                path,
                f"it holds invoices dated in {', '.join(outside)}, outside the billing periods the bridge keeps "
                f"({billing_periods.get_first_partition_key()} to {billing_periods.get_last_partition_key()}); "
                "check the invoice dates, or set BRIDGE_FIRST_PERIOD to an earlier month",
            )
    except ExportFileRefused as exc:
        moved = intake.quarantine(path, folders, exc.reason)
        log.error(f"{path.name} quarantined: {exc.reason}")
        return moved
    return dg.RunRequest(
        run_key=export.sha256,
        run_config={"ops": {"sedona_export_lines": {"config": {"files": [str(path)], "min_age_seconds": 0}}}},
        tags={RANGE_START: periods[0], RANGE_END: periods[-1], "bridge/file": path.name, "bridge/sha256": export.sha256},
    )


@dg.sensor(job=bridge_job, minimum_interval_seconds=15, default_status=dg.DefaultSensorStatus.RUNNING)
def sedona_export_folder_sensor(context: dg.SensorEvaluationContext, bridge: BridgeResource) -> dg.SensorResult:
    """Watches the export inbox. A file is taken once it is stable (same size and time on two looks);
    it starts one run for exactly the billing periods it holds, keyed by its sha256 so the same file
    never runs twice. A file that cannot be read is moved to quarantine with a note saying why."""
    settings = bridge.settings()
    previous = json.loads(context.cursor) if context.cursor else {}
    current = watch.scan(settings.inbox)
    ready = watch.stable(previous, current)
    requests = []
    for path in ready:
        outcome = file_run_request(path, bridge, context.log)
        if isinstance(outcome, dg.RunRequest):
            requests.append(outcome)
    cursor = json.dumps(watch.still_waiting(current, ready), sort_keys=True)
    skip = None if requests else f"{len(current) - len(ready)} file(s) waiting to be stable; {len(ready)} taken"
    return dg.SensorResult(run_requests=requests, cursor=cursor, skip_reason=skip)


@dg.sensor(job=bridge_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def held_documents_replay_sensor(
    context: dg.SensorEvaluationContext, bridge: BridgeResource, duckdb: DuckDBResource
) -> dg.SensorResult | dg.SkipReason:
    """Watches the credit queue. When a destination's books reopen for a period that has held
    documents (its close date moves before their date), it requests one run for that period, which
    posts them. The run key names the close date, so each reopening replays once."""
    settings = bridge.settings()
    try:
        with Database(duckdb.database, lock_timeout_s=5).connect(read_only=True) as con:
            held = queue.held_periods(con)
    except DatabaseBusy:
        return dg.SkipReason("the bridge database is busy with a run; looking again next tick")
    except duckdb_errors.CatalogException:
        return dg.SkipReason("nothing has been posted yet")
    if not held:
        return dg.SkipReason("no held documents")
    closes = book_close_dates(sorted({h.destination for h in held}), settings)
    requests = [
        dg.RunRequest(
            run_key=f"replay:{h.destination}:{h.period}:{closes[h.destination]}:{h.documents}",
            tags={RANGE_START: h.period, RANGE_END: h.period, "bridge/replay": h.destination},
        )
        for h in queue.ready_to_replay(held, closes)
    ]
    for request in requests:
        context.log.info(f"books reopened: replaying held documents of {request.tags[RANGE_START]} "
                         f"for {request.tags['bridge/replay']}")
    if not requests:
        return dg.SkipReason(f"{sum(h.documents for h in held)} held document(s); their periods are still closed")
    return dg.SensorResult(run_requests=requests)


sensors = [sedona_export_folder_sensor, held_documents_replay_sensor, dead_run_sensor, *api_source_sensors]
