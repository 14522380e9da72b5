"""An interval schedule from configuration: hourly, every N hours or daily at a time, in the company's time
zone; shown in the UI (the code location Dagster loads) with its interval, and running the open period."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from bridge_assets.definitions import build_definitions
from bridge_assets.defs.interval_schedule import SCHEDULE_NAME, interval_schedule
from bridge_assets.runtime.intervals import IntervalNotUnderstood, parse_interval
from bridge_assets.runtime.settings import BridgeSettings

from .conftest import line, write_export

CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize("text, cron", [
    ("hourly", "0 * * * *"), ("Every hour", "0 * * * *"), ("every 1 hour", "0 * * * *"),
    ("every 3 hours", "0 */3 * * *"), ("every 12 hours", "0 */12 * * *"),
    ("daily at 18:30", "30 18 * * *"), ("daily at 7:05", "5 7 * * *"),
])
def test_the_interval_is_written_the_way_people_say_it(text, cron):
    assert parse_interval(text).cron == cron


@pytest.mark.parametrize("text, says", [
    ("every 5 hours", "a divisor of 24"), ("daily at 25:00", "not a time of day"),
    ("twice a day", "'hourly', 'every N hours'"), ("*/5 * * * *", "BRIDGE_RUN_INTERVAL"),
])
def test_an_interval_it_cannot_read_is_refused_with_how_to_write_it(text, says):
    with pytest.raises(IntervalNotUnderstood, match=says.replace("*", r"\*")):
        parse_interval(text)


def test_an_hourly_schedule_set_in_the_environment_shows_in_the_ui_with_its_interval(tmp_path):
    # The UI loads `bridge_assets.definitions:defs` in its own process, from the environment.
    env = {**os.environ, "BRIDGE_HOME": str(tmp_path), "BRIDGE_RUN_INTERVAL": "hourly",
           "BRIDGE_TIMEZONE": "America/Chicago", "PYTHONPATH": os.pathsep.join(sys.path)}
    script = ("import json; from bridge_assets.definitions import defs; "
              f"s = defs.get_schedule_def({SCHEDULE_NAME!r}); "
              "print(json.dumps([s.cron_schedule, s.execution_timezone, s.description, s.job_name, "
              "str(s.default_status)]))")
    shown = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    cron, zone, description, job, status = json.loads(shown.stdout.strip().splitlines()[-1])
    assert (cron, zone, job) == ("0 * * * *", "America/Chicago", "bridge_job")
    assert "every hour" in description and "America/Chicago" in description and "RUNNING" in status


def test_without_the_setting_there_is_no_interval_schedule(settings):
    assert interval_schedule(settings) is None


def test_the_schedule_runs_the_open_period_of_the_company_time_zone(settings, db, monkeypatch):
    monkeypatch.setenv("BRIDGE_RUN_INTERVAL", "hourly")
    monkeypatch.setenv("BRIDGE_TIMEZONE", "America/Chicago")
    schedule = interval_schedule(BridgeSettings.from_env(settings.home))
    # 23:00 on 31 August in Chicago is already 1 September in UTC: the open period is still August.
    late_august = dt.datetime(2026, 8, 31, 23, 0, tzinfo=CHICAGO)
    (request,) = schedule.evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=late_august.astimezone(dt.timezone.utc))).run_requests
    assert (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]) \
        == ("2026-08", "2026-08")

    write_export(settings.inbox / "aug.csv", [line(number="71", date="08/31/2026"), line(number="72", date="08/12/2026")])
    job = build_definitions(settings.home).resolve_job_def("bridge_job")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), tags=request.tags,
                                    run_config={"ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}})
    assert result.success
    with db.connect() as con:
        posted = con.execute("SELECT DISTINCT doc_key FROM ledger_postings WHERE state = 'posted' ORDER BY 1").fetchall()
    assert [key for (key,) in posted] == ["sedona:invoice:71", "sedona:invoice:72"]
