"""Runs that died without a word (SIGKILL, a power cut, the out-of-memory killer) are found and settled.

Such a run stays "started" in Dagster and keeps its `duckdb_writer` pool slot, so the next run waits
forever ("Step still blocked by limit for pool duckdb_writer") and the run queue counts it as running.
Dagster's own run monitoring cannot see it: the default run launcher does not support worker health
checks (`supports_check_run_worker_health` is False), and slots are freed for finished runs only when
`run_monitoring.free_slots_after_run_end_seconds` is set and the daemon runs.

Every run records the pid of the process that runs it (Dagster's "Started process for run" /
"Executing steps in process" engine events). A started run whose process is gone (`processes.process_gone`:
no such pid, a zombie, or the pid now belongs to a younger process) is marked failed with a sentence
saying why, and its pool slots are freed. Slots still held by a run that has finished (for example one
marked failed by hand in the UI) are freed too. This holds only where runs are processes on this machine
(the default run launcher, which cannot check a run worker's health): under a launcher that can (Docker,
Kubernetes: deploy/), a run's pid means nothing here, so no run is marked failed by its pid and Dagster's own run
monitoring (`run_monitoring` in deploy/'s instance files) finds the dead ones.

Two callers, so no one has to free a slot by hand: the `dead_run_sensor` (every 30 s while the
daemon runs, `bridge ui`), and the start of every run (`BridgeResource`), before its first step asks
for a slot; that covers `bridge demo` and runs started without the daemon.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid

import dagster as dg

from bridge_assets.runtime.processes import process_gone

from .decorators import bridge_sensor

# A run executed in the process that starts it (`bridge demo`, `bridge run`) names that process in a tag, made
# before the run exists: "<run id>/<pid>/<unix time>". Its first engine event names the pid too, but a kill
# in the instant between the run being marked started and that event left a run "started" that no one could
# tell was dead (the run queue counted it as running; CI met it once in twenty kills). A re-execution copies
# its parent's tags; the run id inside keeps a copied tag from naming the new run's process.
PROCESS_TAG = "bridge/process"

ACTIVE = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


@dataclasses.dataclass
class SettledRuns:
    failed: list[tuple[str, int]] = dataclasses.field(default_factory=list)    # (run id, pid) found dead
    freed: list[str] = dataclasses.field(default_factory=list)                 # finished runs still holding slots

    def describe(self) -> str:
        if not self.failed and not self.freed:
            return "no dead run: every started run's process is alive and no finished run holds a pool slot"
        parts = [f"run {run_id[:8]} marked failed (its process {pid} is gone) and its pool slots freed"
                 for run_id, pid in self.failed]
        parts += [f"pool slots of finished run {run_id[:8]} freed" for run_id in self.freed]
        return "; ".join(parts)


def recorded_process(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, when recorded) of the process running `run_id`: the latest "Started process for ..." event
    (a launched run worker, or its resumption), else the first pid any engine event names (the
    process that executes the steps of a run started in-process)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=200).records
    found = []
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.engine_event_data if event else None
        pid = (data.metadata or {}).get("pid") if data else None
        if pid is not None and str(pid.value).isdigit():
            found.append((int(pid.value), record.event_log_entry.timestamp, event.message or ""))
    started = [f for f in found if f[2].startswith("Started process for")]
    chosen = started[-1] if started else (found[0] if found else None)
    return (chosen[0], chosen[1]) if chosen else None


def in_process_run() -> tuple[str, dict[str, str]]:
    """A new run id and the tag naming this process, for a run this process executes (`execute_in_process`
    with `run_id=` and `tags=`)."""
    run_id = str(uuid.uuid4())
    return run_id, {PROCESS_TAG: f"{run_id}/{os.getpid()}/{time.time():.3f}"}


def tagged_process(run: dg.DagsterRun) -> tuple[int, float] | None:
    """(pid, when recorded) of the process a run's own `PROCESS_TAG` names; None without one, or with one
    copied from another run."""
    parts = run.tags.get(PROCESS_TAG, "").split("/")
    if len(parts) != 3 or parts[0] != run.run_id or not parts[1].isdigit():
        return None
    try:
        return int(parts[1]), float(parts[2])
    except ValueError:
        return None


def settle_dead_runs(instance: dg.DagsterInstance, *, exclude: str | None = None, who: str = "the bridge") -> SettledRuns:
    """Mark failed every started run whose process is gone and free its pool slots; free the slots of
    finished runs. `exclude`: the calling run itself."""
    settled = SettledRuns()
    local = runs_are_local_processes(instance)
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE)) if local else ():
        if run.run_id == exclude:
            continue
        recorded = recorded_process(instance, run.run_id) or tagged_process(run)
        if recorded is None or not process_gone(*recorded):
            continue   # alive, or not started far enough to say (no pid recorded yet)
        pid = recorded[0]
        instance.report_run_failed(run, message=(
            f"The process running this run (pid {pid}) is gone: it was killed or crashed while the run was "
            f"{run.status.value.lower()}. Marked failed by {who}, and its pool slots freed so the next run can "
            "proceed; documents it left `sending` are settled by the next run before anything new is sent."))
        _free_slots(instance, run.run_id)
        settled.failed.append((run.run_id, pid))
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holding = storage.get_concurrency_run_ids() - {exclude}
        if holding:
            alive = {r.run_id for r in instance.get_runs(filters=dg.RunsFilter(run_ids=list(holding)))
                     if r.status not in FINISHED}
            for run_id in sorted(holding - alive):
                _free_slots(instance, run_id)
                settled.freed.append(run_id)
    return settled


def runs_are_local_processes(instance: dg.DagsterInstance) -> bool:
    """Whether a run's recorded pid is a process of this machine: under the default run launcher it is;
    a launcher that checks its run workers' health itself (a container, a pod) runs them elsewhere."""
    return not instance.run_launcher.supports_check_run_worker_health


def _free_slots(instance: dg.DagsterInstance, run_id: str) -> None:
    # The instance's event log storage is where Dagster keeps pool slots; freeing a run's slots also
    # hands them to the steps waiting for them (what Dagster itself does when a run ends normally).
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)


@bridge_sensor(minimum_interval_seconds=30)
def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Finds runs whose process died without a word (killed, crashed): still marked started and
    holding the `duckdb_writer` pool slot, they would make the next run wait forever. Each is marked
    failed with the reason and its pool slots are freed; so are slots still held by finished runs."""
    settled = settle_dead_runs(context.instance, who="the dead_run_sensor")
    for run_id, pid in settled.failed:
        context.log.warning(f"run {run_id}: its process {pid} is gone; marked failed and its pool slots freed")
    for run_id in settled.freed:
        context.log.info(f"run {run_id} had finished but still held pool slots; freed")
    return dg.SkipReason(settled.describe())
