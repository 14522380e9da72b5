"""The alert sensors over real runs and a real Dagster instance, sending to a real receiver on loopback:
one message per problem across ticks and restarts, whatever the problem (a blocking check, any
ERROR check such as a period that does not reconcile, held or failed documents, a failed run)."""

import json
import logging
import subprocess
import sys
import time

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource

from bridge_assets.alerts import notify as alerts
from bridge_assets.definitions import build_definitions
from bridge_assets.defs.alerts import problem_alert_sensor, run_failure_alert_sensor, sensors as alert_sensors
from bridge_assets.defs.partitions import billing_periods
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.sensors import RANGE_END, RANGE_START

from .conftest import line, write_export
from .webhook_receiver import running_receiver

SECRET = "s3cr3t-w3bh00k-t0k3n"


@pytest.fixture
def instance():
    with dg.instance_for_test() as persistent:   # sensors need a persistent instance, as in the daemon
        yield persistent


@pytest.fixture
def receiver(monkeypatch):
    with running_receiver() as r:
        monkeypatch.setenv(alerts.WEBHOOK_VARIABLE, r.url)
        yield r


def _resources(settings) -> dict:
    return {"bridge": BridgeResource(home=str(settings.home)),
            "duckdb": DuckDBResource(database=str(settings.database_path))}


def _run(settings, instance, first, last=None):
    job = build_definitions(settings.home).resolve_job_def("bridge_job")
    return job.execute_in_process(
        instance=instance, tags={RANGE_START: first, RANGE_END: last or first}, raise_on_error=False,
        run_config={"ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}})


class SensorLog(logging.Handler):
    """What the sensors wrote to their tick log (the UI shows it; a sensor's logger does not propagate)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, level=logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


@pytest.fixture
def sensor_log():
    return SensorLog()


def _problem_tick(settings, instance, definitions=None, log: SensorLog | None = None):
    """One tick, as after a restart: no cursor, nothing kept in memory."""
    context = dg.build_sensor_context(instance=instance, resources=_resources(settings),
                                      definitions=definitions or build_definitions(settings.home))
    if log is not None:
        context.log.addHandler(log)
    return problem_alert_sensor(context)


def _failure_tick(settings, instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=_resources(settings),
                                      definitions=build_definitions(settings.home))
    return run_failure_alert_sensor.evaluate_tick(context).cursor


def _record(settings) -> dict:
    return json.loads(alerts.record_path(settings.home).read_text(encoding="utf-8"))


def test_alert_sensors_are_in_the_code_location_and_running_by_default(settings):
    defs = build_definitions(settings.home)
    for name in ("problem_alert_sensor", "run_failure_alert_sensor"):
        sensor = defs.resolve_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        assert sensor.minimum_interval_seconds == 60


def test_failed_blocking_check_sends_one_message_per_failing_set(settings, instance, receiver, monkeypatch):
    cursor = _failure_tick(settings, instance)                  # the run-failure sensor starts watching
    write_export(settings.inbox / "sept.csv", [line(number="100001"), line(number="100002", amount="twenty"),
                                               line(number="100003", amount="1O.00")])
    assert not _run(settings, instance, "2026-09").success     # stopped by rejected_share_within_limit
    _failure_tick(settings, instance, cursor)                  # a run stopped by a check: the check's alert tells it
    for _ in range(3):
        _problem_tick(settings, instance)
    (message,) = receiver.messages
    text = message["text"]
    assert text.startswith("Blocking check rejected_share_within_limit failed on accounting_documents (2026-09)")
    assert "Period: 2026-09" in text and "2 of 3 documents rejected" in text
    assert "100002 (" in text and "100003 (" in text and "twenty" in text
    assert "What to do: Too many documents were rejected" in text and "Nothing in this period is posted" in text

    # The same export again at night: the same problem, no new message.
    _run(settings, instance, "2026-09")
    _problem_tick(settings, instance)
    assert len(receiver.messages) == 1

    # Another broken document arrives: a new set of failing documents is a new problem.
    write_export(settings.inbox / "sept-more.csv", [line(number="100004", amount="n/a")])
    _run(settings, instance, "2026-09")
    _problem_tick(settings, instance)
    _problem_tick(settings, instance)
    assert len(receiver.messages) == 2 and "100004 (" in receiver.texts()[1]

    # Fixed (the corrected export replaces the documents): the problem closes, nothing is sent.
    write_export(settings.inbox / "sept-fixed.csv", [line(number="100002"), line(number="100003"),
                                                     line(number="100004")])
    assert _run(settings, instance, "2026-09").success
    _problem_tick(settings, instance)
    assert len(receiver.messages) == 2
    assert not [s for s in _record(settings)["subjects"] if s.startswith("check:")]


def test_failed_run_sends_one_message_naming_the_run_period_and_error(settings, instance, receiver, monkeypatch):
    cursor = _failure_tick(settings, instance)
    write_export(settings.inbox / "oct.csv", [line(number="100010", date="10/01/2026", start="10/01/2026",
                                                   end="10/31/2026")])
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv,quickbooks_onlin")   # a typo in a setting
    failed = _run(settings, instance, "2026-10")
    assert not failed.success
    cursor = _failure_tick(settings, instance, cursor)
    _failure_tick(settings, instance, cursor)
    for _ in range(2):
        _problem_tick(settings, instance)                      # retries pending ones only; nothing new here
    (message,) = receiver.messages
    text = message["text"]
    assert text.startswith("Run of bridge_job failed (2026-10)")
    assert "step posting_plan: DestinationError: BRIDGE_DESTINATIONS names 'quickbooks_onlin'" in text
    assert f"run {failed.run_id} of bridge_job" in text and "What to do: Open the run" in text


class ReconciliationConfig(dg.Config):
    edited_by_hand: list[str] = []
    severity: str = "ERROR"
    rows_period: str = ""            # the real check's rows say their period; a range run covers several


def _reconciliation_defs(settings, partitioned_check: bool) -> dg.Definitions:
    """A stand-in for the reconciliation asset: its check has the shape the real one promises
    (ERROR severity, `failing` = first offending documents), on our own monthly partitions."""

    @dg.asset(partitions_def=billing_periods, check_specs=[dg.AssetCheckSpec(
        "period_reconciles", asset="reconciliation", description="The books agree with the ledger.",
        partitions_def=billing_periods if partitioned_check else None)])
    def reconciliation(context: dg.AssetExecutionContext, config: ReconciliationConfig):
        failing = [{"doc_number": n, "kind": "edited_in_books", "ledger_amount": "29.95",
                    "destination_amount": "35.00", **({"period": config.rows_period} if config.rows_period else {})}
                   for n in config.edited_by_hand]
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(
            check_name="period_reconciles", passed=not failing,
            severity=dg.AssetCheckSeverity[config.severity],
            description=f"{len(failing)} difference(s) between the books and the ledger" if failing else "reconciles",
            metadata={"failing": dg.MetadataValue.json(failing), "failing_count": len(failing)})

    return dg.Definitions(assets=[reconciliation], sensors=alert_sensors, resources=_resources(settings))


@pytest.mark.parametrize("partitioned_check", [False, True], ids=["check-per-run", "check-per-partition"])
def test_any_failed_error_check_is_alerted_once_like_a_period_that_does_not_reconcile(
        settings, instance, receiver, partitioned_check):
    defs = _reconciliation_defs(settings, partitioned_check)

    def reconcile(period, edited=(), severity="ERROR"):
        result = dg.materialize([defs.resolve_assets_def("reconciliation")],
                                partition_key=period, instance=instance, resources=_resources(settings),
                                run_config={"ops": {"reconciliation": {"config": {
                                    "edited_by_hand": list(edited), "severity": severity}}}})
        assert result.success
        for _ in range(2):
            _problem_tick(settings, instance, defs)

    reconcile("2026-09", ["100045"])                            # an invoice edited by hand in the books
    reconcile("2026-09", ["100045"])                            # reconciled again: same difference, same problem
    reconcile("2026-10")                                        # another period that matches
    (first,) = receiver.texts()
    assert first.startswith("Check period_reconciles failed on reconciliation (2026-09)")
    (listed,) = [x for x in first.splitlines() if "100045" in x]
    assert listed.startswith("  - 100045 (") and "kind: edited_in_books" in listed
    assert "ledger_amount: 29.95" in listed and "destination_amount: 35.00" in listed
    assert "What to do: The books and the ledger disagree" in first

    reconcile("2026-11", ["100099"], severity="WARN")           # a warning shows in the UI, no message
    assert len(receiver.messages) == 1

    reconcile("2026-09")                                        # the bookkeeper undid the edit: it passes
    reconcile("2026-09", ["100045"])                            # and someone edits it again: told again
    assert len(receiver.messages) == 2 and "(2026-09)" in receiver.texts()[1].splitlines()[0]


def test_held_and_failed_documents_are_told_once_until_they_leave_that_state(settings, instance, receiver,
                                                                              monkeypatch):
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "qbd_iif")
    monkeypatch.setenv("BRIDGE_BOOKS_CLOSED_THROUGH", "2026-08-31")
    write_export(settings.inbox / "aug.csv", [line(number="100001", date="08/03/2026", start="08/01/2026",
                                                   end="08/31/2026")])
    write_export(settings.inbox / "sep.csv", [line(number="100002", date="09/15/2026"),
                                              line(number="INV-000000123", date="09/16/2026")])  # 13 > IIF's 12
    assert _run(settings, instance, "2026-08", "2026-09").success
    for _ in range(3):
        _problem_tick(settings, instance)
    held, failed = sorted(receiver.texts(), key=lambda t: "held" not in t.splitlines()[0])
    assert held.startswith("1 document(s) held for qbd_iif: its books are closed for their dates (2026-08)")
    assert "100001 (invoice, 2026-08-03, total 29.95)" in held and "books are reopened" in held
    assert failed.startswith("1 document(s) failed to post to qbd_iif (2026-09)")
    assert "INV-000000123" in failed and "12" in failed and "What to do: Fix what each reason names" in failed

    _run(settings, instance, "2026-08", "2026-09")              # the next night: same documents, same states
    _problem_tick(settings, instance)
    assert len(receiver.messages) == 2

    monkeypatch.setenv("BRIDGE_BOOKS_CLOSED_THROUGH", "2026-07-31")       # August reopens: the invoice posts
    _run(settings, instance, "2026-08")
    _problem_tick(settings, instance)
    assert "ledger:qbd_iif:2026-08:held" not in _record(settings)["subjects"]
    monkeypatch.setenv("BRIDGE_BOOKS_CLOSED_THROUGH", "2026-08-31")       # closed again, a new credit held
    write_export(settings.inbox / "aug-credit.csv", [line(number="100005", date="08/20/2026", doc_type="Credit",
                                                          applies="100001", cycle="", start="", end="")])
    _run(settings, instance, "2026-08")
    _problem_tick(settings, instance)
    _problem_tick(settings, instance)
    assert len(receiver.messages) == 3
    assert "100005 (credit_memo" in receiver.texts()[2] and "100001 (" not in receiver.texts()[2]


def test_receiver_down_logs_clearly_and_the_message_is_sent_once_when_it_is_back(settings, instance, receiver,
                                                                                  sensor_log, caplog):
    caplog.set_level(logging.DEBUG)                             # everything else that logs (httpx, dagster)
    write_export(settings.inbox / "sept.csv", [line(number="100001"), line(number="100002", amount="twenty")])
    _run(settings, instance, "2026-09")
    receiver.stop()
    result = _problem_tick(settings, instance, log=sensor_log)
    assert "1 waiting for the webhook" in result.skip_message
    (error,) = [m for m in sensor_log.messages(logging.ERROR) if "not delivered" in m]
    assert "rejected_share_within_limit" in error and "BRIDGE_ALERT_WEBHOOK_URL" in error
    assert "could not be reached" in error and "tried again at the next sensor tick" in error
    receiver.start()                                            # back on the same address
    for _ in range(3):
        _problem_tick(settings, instance, log=sensor_log)
    assert len(receiver.messages) == 1 and "rejected_share_within_limit" in receiver.texts()[0]
    for text in ("\n".join(sensor_log.messages()), caplog.text,
                 alerts.record_path(settings.home).read_text(encoding="utf-8")):
        assert SECRET not in text


def test_without_a_webhook_alerts_go_to_the_log_only_once(settings, instance, monkeypatch, sensor_log):
    monkeypatch.delenv(alerts.WEBHOOK_VARIABLE, raising=False)
    write_export(settings.inbox / "sept.csv", [line(number="100001"), line(number="100002", amount="twenty")])
    _run(settings, instance, "2026-09")
    for _ in range(3):
        _problem_tick(settings, instance, log=sensor_log)
    told = [m for m in sensor_log.messages() if m.startswith("ALERT ") or " - ALERT " in m]
    assert len(told) == 1 and "rejected_share_within_limit" in told[0] and "100002" in told[0]
    assert {e["status"] for e in _record(settings)["alerts"].values()} == {"logged"}


def test_a_run_holding_the_database_neither_fails_nor_waits_for_the_sensor(settings, instance, receiver):
    monkeypatch_env = {"BRIDGE_DESTINATIONS": "qbd_iif", "BRIDGE_BOOKS_CLOSED_THROUGH": "2026-09-30"}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in monkeypatch_env.items():
            mp.setenv(name, value)
        write_export(settings.inbox / "sep.csv", [line(number="100002", date="09/15/2026")])
        assert _run(settings, instance, "2026-09").success
    _problem_tick(settings, instance)
    assert len(receiver.messages) == 1                          # the held invoice
    # Another process (a run) holds the DuckDB file for writing.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('holding', flush=True); "
                               "sys.stdin.read()", str(settings.database_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        result = _problem_tick(settings, instance)
        assert time.monotonic() - started < 15
        assert "ledger not read: the bridge database is busy with a run" in result.skip_message
        # Not read is not resolved: the held document stays told about.
        assert "ledger:qbd_iif:2026-09:held" in _record(settings)["subjects"]
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    _problem_tick(settings, instance)
    assert len(receiver.messages) == 1


def test_a_difference_found_by_a_one_period_run_and_by_the_nightly_range_run_is_one_problem(
        settings, instance, receiver):
    defs = _reconciliation_defs(settings, partitioned_check=False)

    def reconcile(first, last, edited=()):
        result = dg.materialize([defs.resolve_assets_def("reconciliation")], instance=instance,
                                resources=_resources(settings), tags={RANGE_START: first, RANGE_END: last},
                                run_config={"ops": {"reconciliation": {"config": {
                                    "edited_by_hand": list(edited), "rows_period": "2026-09" if edited else ""}}}})
        assert result.success
        _problem_tick(settings, instance, defs)

    reconcile("2026-09", "2026-09", ["100045"])     # the webhook-driven run of the period the edit touched
    reconcile("2026-08", "2026-10", ["100045"])     # the nightly run over three periods finds the same edit
    (first,) = receiver.texts()
    assert first.startswith("Check period_reconciles failed on reconciliation (2026-09)")
    reconcile("2026-08", "2026-10")                 # undone: the range passes, the problem is closed
    reconcile("2026-09", "2026-09", ["100045"])     # edited again: told again
    assert len(receiver.messages) == 2
