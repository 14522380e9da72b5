"""A run killed with SIGKILL keeps its `duckdb_writer` pool slot and stays "started": the next run would
wait forever. The bridge finds it (its process is gone), marks it failed and frees its slots, through
the `dead_run_sensor` and at the start of the next run, so nobody frees a slot by hand.

Real Dagster runs against a real instance (a temporary DAGSTER_HOME with the project's dagster.yaml and
its pools), each run its own process (from a warm forkserver), posting to the QuickBooks Online emulator
in its own process. Afterwards QuickBooks holds every document exactly once and the ledger agrees.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path
from typing import Iterator

import dagster as dg
import pytest

from bridge_assets.defs.dead_runs import dead_run_sensor
from bridge_assets.sandbox.qbo import SpawnedEmulator, spawn_emulator

from .conftest import warm_forkserver
from .test_qbo_crash import CLIENT_ID, CLIENT_SECRET, SETTINGS, TIME_SCALE, Trial, _template

PERIOD = "2026-09"
POOL = "duckdb_writer"
TRIALS = 20
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _bridge_run(env: dict[str, str]) -> None:
    """A normal bridge run of the period, as `bridge demo` starts it (the whole job, in this process)."""
    import sys

    os.environ.update(env)
    from bridge_assets.definitions import build_definitions
    from bridge_assets.defs.dead_runs import in_process_run
    from bridge_assets.defs.sensors import RANGE_END, RANGE_START

    run_id, process = in_process_run()
    with dg.DagsterInstance.get() as instance:
        result = build_definitions(env["BRIDGE_HOME"]).resolve_job_def("bridge_job").execute_in_process(
            instance=instance, run_id=run_id, tags={RANGE_START: PERIOD, RANGE_END: PERIOD, **process}, raise_on_error=False,
            run_config={"ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}},
                        "loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    sys.exit(0 if result.success else 1)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[SpawnedEmulator]:
    with spawn_emulator(tmp_path_factory.mktemp("qbo") / "books.sqlite3", SETTINGS) as handle:
        yield handle


@pytest.fixture(scope="module")
def forkserver():
    return warm_forkserver("dagster", "bridge_assets.definitions", "bridge_assets.destinations.qbo.adapter", __name__)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return _template(tmp_path_factory.mktemp("template"), invoices=9, credits=3)


@pytest.fixture
def instance(tmp_path: Path, monkeypatch) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")      # the project's pools
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert instance.event_log_storage.supports_global_concurrency_limits
        yield instance


class BridgeTrial(Trial):
    """One company in the emulator and one bridge home (the period received and mapped already)."""

    def __init__(self, emulator: SpawnedEmulator, folder: Path, template: Path) -> None:
        super().__init__(emulator, folder, template)
        self.env = {"BRIDGE_HOME": str(folder), "DAGSTER_HOME": os.environ["DAGSTER_HOME"], "BRIDGE_DESTINATIONS": "qbo",
                    "QBO_BASE_URL": emulator.base_url, "QBO_TOKEN_URL": emulator.token_url, "QBO_REALM_ID": self.realm_id,
                    "QBO_CLIENT_ID": CLIENT_ID, "QBO_CLIENT_SECRET": CLIENT_SECRET, "QBO_TIME_SCALE": str(TIME_SCALE),
                    "QBO_REFRESH_TOKEN": self.options["refresh_token"]}

    def start_run(self, forkserver):
        child = forkserver.Process(target=_bridge_run, args=(self.env,), daemon=True)
        child.start()
        return child


def _holders(instance: dg.DagsterInstance) -> dict[str, str]:
    """run id -> step key of every claimed slot of the pool."""
    info = instance.event_log_storage.get_concurrency_info(POOL)
    return {slot.run_id: slot.step_key for slot in info.claimed_slots}


def _runs(instance: dg.DagsterInstance) -> dict[str, dg.DagsterRunStatus]:
    return {r.run_id: r.status for r in instance.get_runs()}


def _new_run(instance: dg.DagsterInstance, before: set[str], timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = set(_runs(instance)) - before
        if new:
            return new.pop()
        time.sleep(0.02)
    raise AssertionError("the run never started")


def _kill_while_holding_the_slot(instance, emulator, trial: BridgeTrial, forkserver) -> str:
    """A run killed in its postings step: QuickBooks committed an invoice and holds its answer back."""
    emulator.admin.set_faults(trial.realm_id, drop_next_writes=1, drop_mode="timeout", drop_entities=["Invoice"])
    before = set(_runs(instance))
    child = trial.start_run(forkserver)
    run_id = _new_run(instance, before)
    deadline = time.monotonic() + 60
    while not any(e["outcome"] == "dropped:timeout" for e in trial.journal()):
        assert child.is_alive() and time.monotonic() < deadline, "the run ended before its answer was held"
        time.sleep(0.02)
    assert _holders(instance) == {run_id: "quickbooks_postings"}
    child.kill()
    child.join(timeout=10)
    emulator.admin.clear_faults(trial.realm_id)
    return run_id


def test_a_run_killed_holding_the_pool_slot_is_marked_failed_and_freed_by_the_dead_run_sensor(
        instance, emulator, forkserver, template, tmp_path):
    database, invoices, credits = template
    trial = BridgeTrial(emulator, tmp_path / "home", database)
    killed = _kill_while_holding_the_slot(instance, emulator, trial, forkserver)
    # What a user saw: the dead run still "started", still holding the only slot of the pool.
    assert _runs(instance)[killed] == dg.DagsterRunStatus.STARTED
    assert _holders(instance) == {killed: "quickbooks_postings"}

    skip = dead_run_sensor(dg.build_sensor_context(instance=instance))
    assert f"run {killed[:8]} marked failed" in skip.skip_message and "is gone" in skip.skip_message
    assert _runs(instance)[killed] == dg.DagsterRunStatus.FAILURE
    assert _holders(instance) == {}
    (failure,) = [r.event_log_entry.dagster_event.message for r in instance.get_records_for_run(
        killed, of_type=dg.DagsterEventType.RUN_FAILURE).records]
    assert "is gone" in failure and "pool slots freed" in failure
    assert "no dead run" in dead_run_sensor(dg.build_sensor_context(instance=instance)).skip_message

    child = trial.start_run(forkserver)
    child.join(timeout=120)
    assert child.exitcode == 0
    trial.check_exactly_once(invoices, credits)


def test_a_run_marked_failed_by_hand_gives_back_its_slot_at_the_next_sensor_tick(
        instance, emulator, forkserver, template, tmp_path):
    database, _, _ = template
    trial = BridgeTrial(emulator, tmp_path / "home", database)
    killed = _kill_while_holding_the_slot(instance, emulator, trial, forkserver)
    instance.report_run_failed(instance.get_run_by_id(killed), message="marked failed by hand in the UI")
    assert _holders(instance) == {killed: "quickbooks_postings"}       # marking it failed did not release it
    skip = dead_run_sensor(dg.build_sensor_context(instance=instance))
    assert f"pool slots of finished run {killed[:8]} freed" in skip.skip_message
    assert _holders(instance) == {}


def test_the_next_run_frees_a_killed_runs_slot_as_it_starts_and_finishes_without_help(
        instance, emulator, forkserver, template, tmp_path):
    database, invoices, credits = template
    trial = BridgeTrial(emulator, tmp_path / "home", database)
    killed = _kill_while_holding_the_slot(instance, emulator, trial, forkserver)
    child = trial.start_run(forkserver)
    child.join(timeout=120)
    if child.is_alive():
        child.kill()
        pytest.fail(f"the next run waited 120 s for the pool slot the killed run {killed[:8]} still holds")
    assert child.exitcode == 0
    assert _runs(instance)[killed] == dg.DagsterRunStatus.FAILURE
    trial.check_exactly_once(invoices, credits)


def test_twenty_kills_at_random_moments_each_followed_by_a_normal_run_that_finishes_unaided(
        instance, emulator, forkserver, template, tmp_path):
    database, invoices, credits = template
    rng = random.Random(int(os.environ.get("BRIDGE_TRIAL_SEED", "20261205")))
    baseline = BridgeTrial(emulator, tmp_path / "baseline", database)
    before = set(_runs(instance))
    child = baseline.start_run(forkserver)
    _new_run(instance, before)
    started = time.monotonic()
    child.join(timeout=120)
    duration = time.monotonic() - started
    assert child.exitcode == 0
    baseline.check_exactly_once(invoices, credits)
    print(f"\nan undisturbed run takes {duration:.1f} s from its start to its end")

    held_slot = 0
    for index in range(TRIALS):
        trial = BridgeTrial(emulator, tmp_path / f"trial-{index:02d}", database)
        before = set(_runs(instance))
        child = trial.start_run(forkserver)
        killed = _new_run(instance, before)
        moment = rng.uniform(0.0, duration)      # a random moment of the run's life
        time.sleep(moment)
        holders = _holders(instance)
        child.kill()
        child.join(timeout=10)
        held_slot += bool(holders)
        was = _runs(instance)[killed]

        rerun_started = time.monotonic()
        rerun = trial.start_run(forkserver)
        rerun.join(timeout=120)
        if rerun.is_alive():
            rerun.kill()
            pytest.fail(f"trial {index}: the run after the kill waited 120 s (killed run {killed[:8]}, slot {holders})")
        assert rerun.exitcode == 0, f"trial {index}: the run after the kill failed"
        trial.check_exactly_once(invoices, credits)
        now = _runs(instance)[killed]
        assert now in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.NOT_STARTED), now
        print(f"trial {index:2d}: killed {moment:4.2f} s into the run, holding {', '.join(holders.values()) or 'no slot':<20} "
              f"({was.value} -> {now.value}); the next run finished in {time.monotonic() - rerun_started:4.1f} s, "
              f"every document once")
        assert _holders(instance) == {}
    print(f"{held_slot} of {TRIALS} kills landed while the run held the {POOL} slot")
    # The random moments must have exercised the failure itself, not only kills between steps.
    assert held_slot >= TRIALS // 4, f"only {held_slot} kills landed while a slot was held"


def test_a_run_killed_before_its_first_engine_event_is_found_dead_by_the_process_it_names(instance):
    """A run killed in the instant between being marked started and its first engine event (which names its
    pid) left nothing to say it was dead, and stayed "started" for ever. A run the bridge executes in its own
    process names that process in a tag made before the run exists; a tag copied from another run (a
    re-execution) names nobody."""
    import subprocess
    import sys

    from bridge_assets.defs.dead_runs import PROCESS_TAG, in_process_run, settle_dead_runs

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run_id, tags = in_process_run()
    tags = {PROCESS_TAG: tags[PROCESS_TAG].replace(f"/{os.getpid()}/", f"/{gone.pid}/")}
    copied = {PROCESS_TAG: tags[PROCESS_TAG]}                       # the same tag on a re-execution's new run
    alive_id, alive_tags = in_process_run()                          # this very process, alive
    for rid, run_tags in ((run_id, tags), ("00000000-0000-4000-8000-000000000001", copied), (alive_id, alive_tags)):
        instance.add_run(dg.DagsterRun(job_name="bridge_job", run_id=rid, status=dg.DagsterRunStatus.STARTED, tags=run_tags))

    settled = settle_dead_runs(instance)

    assert [r for r, _ in settled.failed] == [run_id]
    assert _runs(instance) == {run_id: dg.DagsterRunStatus.FAILURE,
                               "00000000-0000-4000-8000-000000000001": dg.DagsterRunStatus.STARTED,
                               alive_id: dg.DagsterRunStatus.STARTED}
