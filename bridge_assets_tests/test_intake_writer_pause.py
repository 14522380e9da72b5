"""Issue 9 point 1: a file taken while its writer paused lost the lines written after the pause.

The writer is a real process holding the file open (3 invoices, a pause, 3 more), and the folder
sensor and the runs it requests are the real ones."""

from __future__ import annotations

import subprocess
import sys
import time

import dagster as dg

from bridge_assets.alerts import notify as alerts
from bridge_assets.sources.sedona_export import intake
from bridge_assets.alerts import problems
from bridge_assets.definitions import build_definitions
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.sensors import sedona_export_folder_sensor
from bridge_assets.sources.sedona_export.parser import is_candidate

from .conftest import BASELINE_HEADER, line

# Writes the header and 3 invoices, pauses, writes 3 more. `hold`: the file stays open through the pause
# (an export written in bursts); `reopen`: it is closed, and opened again to append after the pause;
# `reopen-after-copy`: the same, the pause lasting until the bridge has copied the file into the archive.
WRITER = r"""
import csv, os, sys, time
path, mode, pause, archive = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
rows = [r.split("|") for r in sys.argv[5:]]
handle = open(path, "w", encoding="utf-8", newline="")
csv.writer(handle, lineterminator="\r\n").writerows(rows[:4])
handle.flush(); os.fsync(handle.fileno())
if mode != "hold":
    handle.close()
time.sleep(pause)
deadline = time.monotonic() + 60
while mode == "reopen-after-copy" and time.monotonic() < deadline and not [
        n for n in (os.listdir(archive) if os.path.isdir(archive) else []) if not n.startswith(".")]:
    time.sleep(0.005)
if mode != "hold":
    handle = open(path, "a", encoding="utf-8", newline="")
csv.writer(handle, lineterminator="\r\n").writerows(rows[4:])
handle.close()
"""


def _rows() -> list[str]:
    invoices = [line(number=str(200 + i), customer=f"C{i:03d}", rate=f"{10 + i}.00", amount=f"{10 + i}.00",
                     total=f"{10 + i}.00") for i in range(1, 7)]
    return ["|".join(r) for r in [BASELINE_HEADER, *invoices]]


def _watch_and_run(settings, writer: subprocess.Popen, timeout_s: float = 60) -> list:
    """Tick the sensor every 0.3 s and execute each run it requests, until the writer is done and the
    inbox is empty (or the time is up)."""
    defs, instance = build_definitions(settings.home), dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def("bridge_job")
    cursor, results, deadline = None, [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        context = dg.build_sensor_context(cursor=cursor, resources={"bridge": BridgeResource(home=str(settings.home))})
        tick = sedona_export_folder_sensor(context)
        cursor = tick.cursor
        for request in tick.run_requests:
            results.append(job.execute_in_process(instance=instance, run_config=request.run_config, tags=request.tags,
                                                  raise_on_error=False))
        if writer.poll() is not None and not any(is_candidate(p) for p in settings.inbox.iterdir()):
            return results
        time.sleep(0.3)
    raise AssertionError(f"the inbox was not emptied in {timeout_s} s: {sorted(p.name for p in settings.inbox.iterdir())}")


def _posted(db) -> list[tuple]:
    with db.connect() as con:
        return con.execute(
            "SELECT l.doc_number, count(*) FILTER (WHERE e.outcome = 'created') FROM ledger_postings l "
            "JOIN ledger_events e USING (doc_key, destination) WHERE l.state = 'posted' GROUP BY 1 ORDER BY 1").fetchall()


def _start_writer(path, mode: str, pause_s: float, archive="") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), mode, str(pause_s), str(archive), *_rows()])


def test_writer_pausing_with_the_file_open_loses_nothing(db, settings, monkeypatch):
    """The issue's case: 3 invoices, a pause with the file still open, 3 more. A 4 s pause against a 1 s
    quiet period stands for the 60 s pause against any quiet period shorter than it (the old "two looks
    15 s apart", or a quiet period set too short): only the order of events matters, and it is the same:
    the file looks complete during the pause. The file is not taken while another program has it open
    (the run used to move it to the archive then, and the last invoices were lost without a word): it
    is taken once closed, whole, once. Every invoice is posted once."""
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv")
    monkeypatch.setenv("BRIDGE_INBOX_QUIET_SECONDS", "1")
    writer = _start_writer(settings.inbox / "slow_export.csv", "hold", pause_s=4)
    results = _watch_and_run(settings, writer)
    assert writer.wait() == 0 and all(r.success for r in results)
    assert _posted(db) == [(str(200 + i), 1) for i in range(1, 7)]
    with db.connect() as con:
        assert con.execute("SELECT line_rows, supersedes FROM export_files").fetchall() == [(6, None)]


def test_writer_appending_after_its_file_was_taken_makes_a_new_version_and_loses_nothing(db, settings, monkeypatch):
    """The writer closes the file in its pause and opens it again to append: closed and quiet, nothing
    says the file is unfinished, so its first 3 invoices are taken. The writer appends the moment the
    bridge has copied the file (the worst moment: after the copy, before the run is done), as a
    60 s pause would if the run took longer. The file grew, so it stays in the inbox and the 3 appended
    invoices arrive as a new version of it. Every invoice is posted once, the new version is recorded
    and told once."""
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv")
    monkeypatch.setenv("BRIDGE_INBOX_QUIET_SECONDS", "1")
    writer = _start_writer(settings.inbox / "slow_export.csv", "reopen-after-copy", pause_s=0, archive=settings.archive)
    results = _watch_and_run(settings, writer)
    assert writer.wait() == 0 and all(r.success for r in results)
    assert _posted(db) == [(str(200 + i), 1) for i in range(1, 7)]
    with db.connect() as con:
        files = con.execute("SELECT line_rows, supersedes IS NOT NULL FROM export_files ORDER BY seq").fetchall()
        versions = intake.new_versions(con)
    assert files == [(3, False), (6, True)]                 # taken in the pause, then again as a new version
    (version,) = versions
    log = _Log()
    with alerts.AlertRecord.open(settings.home / "alerts.json") as record:
        assert len(problems.raise_version_alerts(record, versions, log)) == 1
        assert problems.raise_version_alerts(record, versions, log) == []        # told once
    assert "slow_export.csv was received again with different content" in log.lines[0]
    archived = sorted(p.name for p in settings.archive.iterdir())
    assert archived == sorted([f"{version.earlier_sha256[:12]}_slow_export.csv", f"{version.sha256[:12]}_slow_export.csv"])
    said = [f["what happened"] for r in results for e in r.get_asset_materialization_events()
            if e.asset_key == dg.AssetKey("sedona_export_lines")
            for f in e.materialization.metadata["files received this run"].value]
    assert said[0].endswith("the file in the inbox changed after it was read, so it stays there and is taken as a "
                            "new version")
    assert "a new version of slow_export.csv" in said[-1]


def test_writer_pausing_less_than_the_quiet_period_is_taken_once_whole(db, settings, monkeypatch):
    """The quiet period does its job where the system cannot tell an open file: a 1 s pause (file closed
    and reopened) against a 3 s quiet period: one version, all six invoices."""
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv")
    monkeypatch.setenv("BRIDGE_INBOX_QUIET_SECONDS", "3")
    writer = _start_writer(settings.inbox / "export.csv", "reopen", pause_s=1)
    results = _watch_and_run(settings, writer)
    assert len(results) == 1 and results[0].success
    assert _posted(db) == [(str(200 + i), 1) for i in range(1, 7)]
    with db.connect() as con:
        assert con.execute("SELECT line_rows, supersedes FROM export_files").fetchall() == [(6, None)]


class _Log:
    def __init__(self):
        self.lines: list[str] = []

    def info(self, msg):
        self.lines.append(msg)

    warning = error = info


def test_a_file_still_open_when_its_run_ends_stays_until_closed_then_goes_without_a_word(db, settings):
    """Received while another program holds it open (a run given the file by hand): it is not removed
    then (a paused writer could still add to it). Closed unchanged, it is the file already received, so
    the sensor removes it: no second run, no duplicate note."""
    from .conftest import receive_and_map, write_export
    from .test_intake_failures import _two_looks

    path = write_export(settings.inbox / "held_open.csv", [line(number="77")])
    holder = subprocess.Popen([sys.executable, "-c", f"f = open({str(path)!r}, 'rb'); import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while not inbox_open(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        (received,), _ = receive_and_map(db, settings, [path], ["2026-09"])
        assert received.inbox_file == "still open" and path.exists()
        assert "still open in another program, so it stays in the inbox" in received.sentence
        assert _two_looks(settings).run_requests == [] and path.exists()        # not taken while open
    finally:
        holder.kill()
        holder.wait()
    assert _two_looks(settings).run_requests == [] and not path.exists()
    assert not settings.folders.duplicates.exists() or not any(settings.folders.duplicates.iterdir())


def inbox_open(path) -> bool:
    from bridge_assets.sources.sedona_export.inbox import open_elsewhere

    return open_elsewhere(path)
