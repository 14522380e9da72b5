"""Two companies on one Dagster instance in PostgreSQL (deploy/dagster.postgres.yaml), as a deployment past one
machine runs them: the daemon (nothing else) serves a workspace of one code location per company, each company's
inbox sensor sees its export files and queues its runs, the run queue runs the two companies at once and one
company's runs one after another, and each run writes only its own company's DuckDB ledger, each document once.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from bridge_assets.cli import drop_sample_exports
from bridge_assets.commands.companies import write_workspace
from bridge_assets.runtime.companies import load_registry
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.sources.sedona_lines import FILES_TABLE
from bridge_assets_tests.postgres import postgres  # noqa: F401  (the session's PostgreSQL server)

ROOT = Path(__file__).resolve().parents[1]
PERIODS = {"north": ("2026-09", 2), "harbor": ("2026-10", 2)}    # two files each, so two runs each
SEEDS = {"north": 11, "harbor": 23}
DESTINATIONS = ("staging_csv", "qbd_iif")
TIMEOUT_S = 150
COMPANY_TAG = "bridge/company"


def write_registry(folder: Path) -> Path:
    path = folder / "companies.toml"
    path.write_text(
        "[defaults]\n"
        f'BRIDGE_DESTINATIONS = "{",".join(DESTINATIONS)}"\n'
        'BRIDGE_INBOX_QUIET_SECONDS = "0"\n\n'
        '[company.north]\ntitle = "North Alarm"\n\n'
        '[company.harbor]\ntitle = "Harbor Security"\n', encoding="utf-8")
    return path


def drop_exports(home: Path, company: str) -> list[Path]:
    """The company's sample book dropped into its inbox as `bridge demo` does (each file renamed into place)."""
    first, months = PERIODS[company]
    return drop_sample_exports(BridgeSettings.from_env(home), seed=SEEDS[company], lines=300, first_period=first,
                               months=months)


def invoice_numbers(paths: list[Path]) -> set[str]:
    numbers = set()
    for path in paths:
        with open(path, newline="", encoding="utf-8") as handle:
            numbers |= {row["InvoiceNumber"] for row in csv.DictReader(handle) if row.get("InvoiceDate")}
    return numbers


def sha256(paths: list[Path]) -> set[str]:
    return {hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


@pytest.fixture
def deployment(tmp_path: Path, postgres, monkeypatch):  # noqa: F811
    """DAGSTER_HOME holding deploy/dagster.postgres.yaml pointed at the test's server, a registry of two
    companies and the workspace of their code locations."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copyfile(ROOT / "deploy" / "dagster.postgres.yaml", dagster_home / "dagster.yaml")
    registry_path = write_registry(tmp_path)
    for name, value in {**postgres.environment(), "DAGSTER_HOME": str(dagster_home),
                        "BRIDGE_COMPANIES": str(registry_path)}.items():
        monkeypatch.setenv(name, value)
    for name in ("BRIDGE_HOME", "BRIDGE_COMPANY", "BRIDGE_COMPANY_ENTERED", "BRIDGE_DATABASE", "BRIDGE_DESTINATIONS"):
        monkeypatch.delenv(name, raising=False)
    registry = load_registry()
    workspace = write_workspace(registry, tmp_path)
    return registry, dagster_home, workspace


def start_daemon(workspace: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with open(log, "wb") as out:
        return subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace)],
                                cwd=workspace.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_daemon(daemon: subprocess.Popen) -> None:
    """Stop the daemon, then what it started (its code servers and their run processes, in its process group):
    a code server waits for heartbeats that no longer come and does not always exit by itself."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGINT)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(daemon.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    daemon.wait(timeout=10)


def wait_for_runs(instance: dg.DagsterInstance, expected: int, daemon: subprocess.Popen, log: Path) -> list:
    deadline = time.monotonic() + TIMEOUT_S
    runs: list = []
    while time.monotonic() < deadline:
        runs = instance.get_runs()
        if len(runs) >= expected and all(run.is_finished for run in runs):
            return runs
        if daemon.poll() is not None:
            break
        time.sleep(1)
    states = ", ".join(f"{run.tags.get(COMPANY_TAG)} {run.run_id[:8]} {run.status.value}" for run in runs) or "none"
    pytest.fail(f"{expected} finished runs were expected within {TIMEOUT_S} s; runs: {states}; daemon "
                f"{'exited ' + str(daemon.returncode) if daemon.poll() is not None else 'running'}; its output:\n"
                + log.read_text(errors="replace")[-6000:], pytrace=False)


def ledger(database: Path) -> dict:
    with duckdb.connect(str(database), read_only=True) as con:
        postings = con.execute("SELECT destination, doc_number, state, last_run_id FROM ledger_postings").fetchall()
        created = con.execute("SELECT destination, doc_key, count(*) FROM ledger_events WHERE outcome = 'created' "
                              "GROUP BY ALL").fetchall()
        run_ids = {r[0] for r in con.execute("SELECT DISTINCT run_id FROM ledger_events").fetchall()}
        run_ids |= {posting[3] for posting in postings}
        files = {r[0] for r in con.execute(f"SELECT file_sha256 FROM {FILES_TABLE}").fetchall()}
    return {"postings": postings, "created": created, "run_ids": run_ids, "files": files}


def interval(run_record) -> tuple[float, float]:
    return run_record.start_time, run_record.end_time


def test_two_companies_run_at_once_on_the_postgres_instance_each_in_its_own_ledger(deployment, tmp_path):
    registry, dagster_home, workspace = deployment
    homes = {key: registry.company(key).home for key in registry.keys}
    # Every file is in its inbox before the sensors first look, so each company's files are taken in one tick.
    dropped = {key: drop_exports(homes[key], key) for key in registry.keys}
    # What each company was given, read now: its runs move the files to its archive.
    given = {key: (invoice_numbers(paths), sha256(paths)) for key, paths in dropped.items()}
    log = tmp_path / "daemon.log"
    daemon = start_daemon(workspace, log)
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            wait_for_runs(instance, 4, daemon, log)
            records = instance.get_run_records()
            storage = type(instance.run_storage).__module__
    finally:
        stop_daemon(daemon)

    # Runs, their events and the sensors' state live in PostgreSQL, where any machine of the deployment reads them.
    assert storage.startswith("dagster_postgres"), storage
    by_company: dict[str, list] = {key: [] for key in registry.keys}
    for record in records:
        by_company[record.dagster_run.tags[COMPANY_TAG]].append(record)
    for key, found in by_company.items():
        assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in found), \
            [(r.dagster_run.run_id, r.dagster_run.status) for r in found]
    assert {key: len(found) for key, found in by_company.items()} == {"north": 2, "harbor": 2}
    # Each run came from its own company's code location (a process serving that company only).
    assert all(r.dagster_run.remote_job_origin.location_name == key for key, found in by_company.items() for r in found)

    # A company's two runs were queued together and ran one after the other (the run queue's tag limit) ...
    waited = {}
    for key, found in by_company.items():
        first, second = sorted(found, key=lambda r: r.start_time)
        assert second.create_timestamp.timestamp() < first.end_time, f"{key}'s runs were not queued together"
        assert first.end_time <= second.start_time, f"{key}'s two runs overlapped: the queue let both go"
        waited[key] = second.start_time - second.create_timestamp.timestamp()
    # ... while the two companies' runs ran at the same time.
    overlap = sum(max(0.0, min(a.end_time, b.end_time) - max(a.start_time, b.start_time))
                  for a in by_company["north"] for b in by_company["harbor"])
    assert overlap > 0, f"no run of harbor overlapped a run of north: {[interval(r) for r in records]}"
    print(f"the companies' runs overlapped {overlap:.1f} s in all; each company's second run waited in the queue "
          + ", ".join(f"{key} {seconds:.1f} s" for key, seconds in waited.items()))

    # Each company's DuckDB file received its own export files only (both books number their invoices from
    # 100001: the files' bytes tell them apart) and was written by its own runs only; each of its documents is
    # posted once to each destination.
    for key, home in homes.items():
        own_runs = {r.dagster_run.run_id for r in by_company[key]}
        other_runs = {r.dagster_run.run_id for r in records} - own_runs
        book = ledger(home / "bridge.duckdb")
        expected, files = given[key]
        for destination in DESTINATIONS:
            posted = [number for dest, number, state, _ in book["postings"] if dest == destination and state == "posted"]
            assert sorted(posted) == sorted(expected), f"{key} {destination}: the ledger does not hold its documents once"
        assert all(count == 1 for _, _, count in book["created"]), f"{key}: a document was created twice"
        assert len(book["created"]) == len(expected) * len(DESTINATIONS)
        assert book["files"] == files, f"{key}'s DuckDB file received another company's export"
        assert book["run_ids"] <= own_runs and not book["run_ids"] & other_runs, \
            f"{key}'s ledger was written by runs of another company: {book['run_ids'] - own_runs}"
