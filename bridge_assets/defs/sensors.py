"""The sensors that start runs of bridge_job: the export inbox, and held documents whose books reopened."""

import json

import dagster as dg

from dagster_duckdb import DuckDBResource

from bridge_assets.sources.sedona_export import inbox
from bridge_assets.sources.sedona_export import intake
from bridge_assets.sources.sedona_export import retries
from bridge_assets.ledger import held_queue as queue
from bridge_assets.sources.sedona_export import watch
from bridge_assets.destinations.registry import book_close_dates
from bridge_assets.sources.sedona_export.parser import AliasTable

from .decorators import bridge_sensor, op_name
from .jobs import bridge_job
from .partitions import RANGE_END, RANGE_START, billing_periods
from .resources import BUSY, BridgeResource, read_briefly



FILE_KEY = "bridge/file_key"
RUN_KEY = "dagster/run_key"        # the tag Dagster gives a run requested with a run key


def file_run_request(ready: watch.Ready, run_key: str | None = None) -> dg.RunRequest:
    """One run per file, over exactly the periods it holds; its sha256 and the parser configuration
    it is read under are the run key (the same bytes under a new configuration are read again), or
    `<that key>:attempt-<n>` when earlier runs for it ended before receiving it. The base key is a tag."""
    tags = {RANGE_START: ready.periods[0], RANGE_END: ready.periods[-1], "bridge/file": ready.path.name,
            "bridge/sha256": ready.sha256, FILE_KEY: ready.run_key}
    if ready.reread:
        tags["bridge/reread"] = "new parser configuration"
    return dg.RunRequest(
        run_key=run_key or ready.run_key,
        run_config={"ops": {op_name("sedona_export_lines"): {"config": {"files": [str(ready.path)], "min_age_seconds": 0}}}},
        tags=tags,
    )


def earlier_runs(context: dg.SensorEvaluationContext, key: str) -> list[retries.EarlierRun]:
    """The runs requested before for a file (its base key), newest first; none when the context has no
    instance (a sensor evaluated under test without one). A run requested before the base key was a tag
    is found by its run key (it is the first, so the oldest)."""
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:
        return []
    runs = instance.get_runs(filters=dg.RunsFilter(tags={FILE_KEY: key}))
    seen = {run.run_id for run in runs}
    runs += [r for r in instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY: key})) if r.run_id not in seen]
    return [retries.EarlierRun(run.run_id, run.status.value, run.tags.get(RUN_KEY)) for run in runs]


def ask_for(context: dg.SensorEvaluationContext, ready: watch.Ready, folders,
            given_up: set[str]) -> dg.RunRequest | str:
    """The run request for a ready file, asking again when its earlier runs ended before receiving it;
    or, after retries.ATTEMPTS of them, the sentence saying the file was quarantined with a note naming them."""
    ask = retries.next_ask(ready.path.name, ready.run_key, earlier_runs(context, ready.run_key), given_up)
    if not ask.give_up:
        if ask.sentence:
            context.log.warning(ask.sentence)
        return file_run_request(ready, ask.run_key)
    moved = intake.quarantine(ready.path, folders, retries.give_up_reason(ready.run_key, ask.failed))
    retries.record_given_up(folders.work, ask.failed)
    sentence = f"{ask.sentence}; quarantined ({moved.moved_to}) with a note saying what to do"
    context.log.error(sentence)
    return sentence


@bridge_sensor(job=bridge_job, minimum_interval_seconds=15)
def sedona_export_folder_sensor(context: dg.SensorEvaluationContext, bridge: BridgeResource) -> dg.SensorResult:
    """Watches the export inbox. A file is taken once it is stable (same size and time on two looks)
    and quiet (nothing written to it for BRIDGE_INBOX_QUIET_SECONDS); it starts one run for exactly the
    billing periods it holds, keyed by its sha256 and parser configuration so the same bytes never run
    twice. A second copy of a file already received is set aside in the duplicates folder; a file that
    cannot be read (binary, empty, cut short, ...) is moved to quarantine with a note saying why. Each
    file is looked at on its own: one bad file never stops the others. A run that failed or was
    canceled before it received its file is asked for again (a new run key), up to three times; then
    the file is quarantined with a note naming those runs."""
    settings = bridge.settings()
    folders = settings.folders.create()
    previous = json.loads(context.cursor) if context.cursor else {}
    current = watch.scan(settings.inbox)
    ready = watch.stable(previous, current, settings.inbox_quiet_seconds)
    aliases = AliasTable.from_toml(settings.header_aliases_file)
    kept = billing_periods.get_partition_keys()
    probes, words = {}, []
    for path in ready:
        if inbox.open_elsewhere(path):
            words.append(f"{path.name} is still open in another program (being written); taken once it is closed")
            continue
        try:
            probes[path] = watch.probe(path, folders)
        except OSError as exc:
            context.log.error(f"{path.name} could not be read ({exc}); it is left in the inbox and looked at again")
    known = watch.received_before(settings.database_path, [t.sha256 for t in probes.values() if t is not None])
    requests, given_up = [], retries.given_up(folders.work)
    for path, taken in probes.items():
        if taken is None:
            words.append(f"{path.name} changed while it was looked at; looked at again later")
            continue
        outcome = watch.decide(taken, folders, aliases, known, kept)
        if isinstance(outcome, watch.Ready):
            asked = ask_for(context, outcome, folders, given_up)
            (requests if isinstance(asked, dg.RunRequest) else words).append(asked)
            continue
        words.append(outcome.sentence)
        (context.log.error if outcome.outcome == "quarantined" else context.log.info)(outcome.sentence)
    # A file still open is looked at again on the next tick (it stays in the cursor, so once closed and
    # unchanged it is taken at once rather than after two more looks).
    taken_now = [p for p in ready if p in probes]
    cursor = json.dumps(watch.still_waiting(current, taken_now), sort_keys=True)
    skip = None if requests else (
        f"{len(current) - len(ready)} file(s) waiting to be stable and quiet; {len(ready)} looked at"
        + (f": {'; '.join(words)}" if words else ""))
    return dg.SensorResult(run_requests=requests, cursor=cursor, skip_reason=skip)


@bridge_sensor(job=bridge_job, minimum_interval_seconds=300)
def held_documents_replay_sensor(
    context: dg.SensorEvaluationContext, bridge: BridgeResource, duckdb: DuckDBResource
) -> dg.SensorResult | dg.SkipReason:
    """Watches the credit queue. When a destination's books reopen for a period that has held
    documents (its close date moves before their date), it requests one run for that period, which
    posts them. The run key names the close date, so each reopening replays once."""
    settings = bridge.settings()
    held, unread = read_briefly(duckdb, queue.held_periods, lock_timeout_s=5)
    if unread:
        return dg.SkipReason("the bridge database is busy with a run; looking again next tick" if unread == BUSY
                             else "nothing has been posted yet")
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

