"""Issue 9 "nothing stuck": a file whose run ended before it received the file is asked for again.

The folder sensor keys a file's run by its sha256 and parser configuration. A run that failed or was
canceled before it received the file (the process killed, the database unavailable) left the file in the
inbox with that key spent: Dagster never ran it again and nobody was told. Each test drives the real
sensor against a real Dagster instance holding the earlier runs, recorded through its public API."""

from __future__ import annotations

import logging

import dagster as dg
import pytest

from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.sensors import FILE_KEY, sedona_export_folder_sensor
from bridge_assets.sources.sedona_export import retries

from .conftest import line, write_export


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def bridge_job(settings):
    from bridge_assets.definitions import build_definitions

    return build_definitions(settings.home).resolve_job_def("bridge_job")


class TickLog(logging.Handler):
    """What the sensor wrote to its tick log (the UI shows it; a sensor's logger does not propagate)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def tick_log():
    return TickLog()


def _tick(settings, instance, cursor=None, log=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"bridge": BridgeResource(home=str(settings.home))})
    if log is not None:
        context.log.addHandler(log)
    return sedona_export_folder_sensor(context)


def _look_twice(settings, instance, log=None):
    return _tick(settings, instance, _tick(settings, instance).cursor, log)


def _record_run(instance, job, request, ended=None):
    """A run the daemon started for `request`, as the instance holds it; `ended`: how it ended."""
    run = instance.create_run_for_job(job, run_config=request.run_config, status=dg.DagsterRunStatus.STARTED,
                                      tags={**request.tags, "dagster/run_key": request.run_key})
    if ended == "failed":
        instance.report_run_failed(run)
    elif ended == "canceled":
        instance.report_run_canceled(run)
    return run


def test_a_run_that_failed_before_receiving_the_file_is_asked_for_again(settings, instance, bridge_job, tick_log):
    path = write_export(settings.inbox / "sept.csv", [line()])
    (first,) = _look_twice(settings, instance).run_requests
    assert first.tags[FILE_KEY] == first.run_key
    failed = _record_run(instance, bridge_job, first, "failed")

    (again,) = _look_twice(settings, instance, tick_log).run_requests
    assert again.run_key == f"{first.run_key}:attempt-2"
    assert again.tags[FILE_KEY] == first.run_key and again.run_config == first.run_config
    assert (f"the run for sept.csv (run {failed.run_id[:8]}) failed before the file was received; "
            "asking again, attempt 2 of 3") in tick_log.text
    assert path.exists()


def test_a_run_still_going_is_asked_for_under_its_own_key_and_no_new_attempt(settings, instance, bridge_job):
    write_export(settings.inbox / "sept.csv", [line()])
    (first,) = _look_twice(settings, instance).run_requests
    failed_once = _record_run(instance, bridge_job, first, "canceled")
    (second,) = _look_twice(settings, instance).run_requests
    assert second.run_key == f"{first.run_key}:attempt-2"
    _record_run(instance, bridge_job, second)                       # started, not ended
    (third,) = _look_twice(settings, instance).run_requests
    assert third.run_key == second.run_key                          # Dagster dedupes it: no second run
    assert [r.run_id for r in instance.get_runs()][-1] == failed_once.run_id


def test_a_file_whose_run_failed_before_the_base_key_was_a_tag_is_asked_for_again(settings, instance, bridge_job):
    write_export(settings.inbox / "sept.csv", [line()])
    (first,) = _look_twice(settings, instance).run_requests
    older = dg.RunRequest(run_key=first.run_key, run_config=first.run_config,
                          tags={k: v for k, v in first.tags.items() if k != FILE_KEY})
    _record_run(instance, bridge_job, older, "failed")             # stuck since before this fix
    (again,) = _look_twice(settings, instance).run_requests
    assert again.run_key == f"{first.run_key}:attempt-2"


def test_the_attempt_decision_reads_only_the_statuses():
    """The pure rule the sensor applies: a run going or done is asked for under its own key."""
    done = retries.EarlierRun("a" * 36, "SUCCESS", "k:attempt-2")
    canceled = retries.EarlierRun("b" * 36, "CANCELED", "k")
    assert retries.next_ask("x.csv", "k", [done, canceled]).run_key == "k:attempt-2"
    ask = retries.next_ask("x.csv", "k", [canceled])
    assert ask.run_key == "k:attempt-2" and "(run bbbbbbbb) was canceled before" in ask.sentence
    assert retries.next_ask("x.csv", "k", [canceled] * 3).give_up
    assert retries.next_ask("x.csv", "k", [canceled] * 3, given_up={"b" * 36}).run_key == "k:attempt-4"


def test_after_three_failed_runs_the_file_is_quarantined_with_a_note_naming_them(settings, instance, bridge_job,
                                                                               tick_log):
    path = write_export(settings.inbox / "sept.csv", [line()])
    run_ids, keys = [], []
    for attempt in (1, 2, 3):
        (request,) = _look_twice(settings, instance).run_requests
        keys.append(request.run_key)
        run_ids.append(_record_run(instance, bridge_job, request, "failed").run_id)
    assert keys[1:] == [f"{keys[0]}:attempt-2", f"{keys[0]}:attempt-3"]

    result = _look_twice(settings, instance, tick_log)
    assert result.run_requests == [] and not path.exists()
    (note,) = settings.quarantine.glob("*_sept.csv.error.txt")
    text = note.read_text()
    assert "File: sept.csv" in text and all(run_id in text for run_id in run_ids)
    assert "Dagster UI" in text and "drop it into the inbox again" in text
    assert "stopped asking" in tick_log.text and "sept.csv" in result.skip_reason.skip_message

    # fixed, and dropped again: a new round of attempts, not quarantined at once
    path.write_bytes(next(settings.quarantine.glob("*_sept.csv")).read_bytes())
    (fresh,) = _look_twice(settings, instance).run_requests
    assert fresh.run_key not in keys and fresh.tags[FILE_KEY] == keys[0]
