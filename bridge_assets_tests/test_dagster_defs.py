"""The code location: assets, checks, partitions, the folder sensor, the schedule, and real runs."""

from __future__ import annotations

import datetime as dt
import hashlib

import dagster as dg
import pytest

from bridge_assets.definitions import build_definitions
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.schedules import open_and_previous_period
from bridge_assets.defs.sensors import RANGE_END, RANGE_START, sedona_export_folder_sensor
from bridge_assets.sources.sedona_export.parser import AliasTable
from bridge_assets.canonical.validation import BLOCKING_CHECKS, WARNING_CHECKS

from .conftest import BASELINE_HEADER, line, write_export


@pytest.fixture
def defs(settings):
    return build_definitions(settings.home)


def _run(defs, first, last, instance=None):
    job = defs.resolve_job_def("bridge_job")
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={RANGE_START: first, RANGE_END: last},
        run_config={"ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}},
        raise_on_error=False,
    )


def _materialized(result) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for event in result.get_asset_materialization_events():
        out.setdefault(event.asset_key.to_user_string(), []).append(event.partition)
    return out


def test_code_location_has_assets_checks_sensor_schedule_and_monthly_partitions(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys >= {"sedona_export_lines", "sedona_api_documents", "servicetrade_invoices", "accounting_documents",
                    "posting_plan", "quickbooks_postings", "credit_queue", "servicetrade_writeback",
                    "quickbooks_mirror", "reconciliation"}
    # The nightly schedule runs bridge_job, which covers the API sources too.
    nightly = defs.resolve_schedule_def("nightly_open_and_previous_period")
    job_assets = {k.to_user_string() for k in defs.resolve_job_def(nightly.job_name).asset_layer.asset_graph.get_all_asset_keys()}
    assert {"sedona_api_documents", "servicetrade_invoices", "servicetrade_writeback"} <= job_assets
    assert defs.resolve_sensor_def("servicetrade_pending_sensor")
    checks = graph.asset_check_keys
    # issue 11: the postings asset has its own check (a failed or held document is visibly not clean).
    assert {c.name for c in checks} == set(BLOCKING_CHECKS) | set(WARNING_CHECKS) | {"period_reconciles", "postings_clean"}
    # A check aimed at a misspelled asset silently becomes an external asset: every check targets a real one.
    assert all(c.asset_key.to_user_string() in keys for c in checks)
    blocking = {spec.name for spec in graph.get(dg.AssetKey("accounting_documents")).assets_def.check_specs if spec.blocking}
    assert blocking == set(BLOCKING_CHECKS)
    assert defs.resolve_sensor_def("sedona_export_folder_sensor")
    assert defs.resolve_sensor_def("held_documents_replay_sensor")
    assert defs.resolve_sensor_def("quickbooks_webhook_sensor") and defs.resolve_sensor_def("reconcile_after_books_change_sensor")
    assert {"quickbooks_mirror", "reconciliation"} <= {
        k.to_user_string() for k in defs.resolve_job_def("bridge_job").asset_layer.executable_asset_keys}
    assert defs.resolve_schedule_def("nightly_open_and_previous_period")
    partitions = graph.get(dg.AssetKey("accounting_documents")).partitions_def
    assert isinstance(partitions, dg.TimeWindowPartitionsDefinition) and partitions.fmt == "%Y-%m"
    assert "2026-09" in partitions.get_partition_keys()


def test_single_run_backfill_over_three_months(defs, settings, db):
    write_export(settings.inbox / "q3.csv", [
        line(number="1", date="08/01/2026", start="08/01/2026", end="08/31/2026"),
        line(number="2", date="09/01/2026"),
        line(number="3", date="10/01/2026", start="10/01/2026", end="10/31/2026"),
        line(number="4", date="10/05/2026", doc_type="Credit", applies="2", cycle="", start="", end=""),
    ])
    instance = dg.DagsterInstance.ephemeral()
    result = _run(defs, "2026-08", "2026-10", instance)
    assert result.success
    assert len(instance.get_runs()) == 1
    materialized = {k: sorted(v) for k, v in _materialized(result).items()}
    for key in ("sedona_export_lines", "sedona_api_documents", "servicetrade_invoices", "accounting_documents",
                "posting_plan", "quickbooks_postings", "credit_queue", "servicetrade_writeback"):
        assert materialized[key] == ["2026-08", "2026-09", "2026-10"], key
    assert materialized["reconciliation"] == ["2026-08", "2026-09", "2026-10"]
    assert materialized["quickbooks_mirror"] == [None]       # not partitioned: the books are read back once per run
    with db.connect() as con:
        posted = con.execute("SELECT destination, period, count(*) FROM ledger_postings WHERE state = 'posted' "
                             "GROUP BY ALL ORDER BY ALL").fetchall()
    assert posted == [(d, p, n) for d in ("qbd_iif", "staging_csv")
                      for p, n in (("2026-08", 1), ("2026-09", 1), ("2026-10", 2))]
    assert not any(settings.inbox.iterdir())                     # the file was archived
    # the second run over the same range posts nothing
    again = _run(defs, "2026-08", "2026-10", instance)
    assert again.success
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM ledger_events WHERE run_id = ?", [again.run_id]).fetchall()[0][0] == 0


def test_blocking_check_stops_the_postings(defs, settings, db):
    write_export(settings.inbox / "broken.csv", [
        line(number="1"),
        line(number="2", amount="twenty"),
        line(number="3", amount="1O.00"),
    ])
    result = _run(defs, "2026-09", "2026-09")
    evaluations = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
                   for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert evaluations["rejected_share_within_limit"].passed is False
    assert evaluations["schema_valid"].passed is True
    materialized = _materialized(result)
    assert "accounting_documents" in materialized
    assert "posting_plan" not in materialized and "quickbooks_postings" not in materialized
    with db.connect() as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert "ledger_postings" not in tables or con.execute("SELECT count(*) FROM ledger_postings").fetchall()[0][0] == 0
    assert not list((settings.output).glob("**/*.csv"))


def _tick(settings, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"bridge": BridgeResource(home=str(settings.home))})
    return sedona_export_folder_sensor(context)


def test_sensor_takes_a_file_only_once_it_is_stable_and_keys_the_run_by_sha256(settings):
    path = write_export(settings.inbox / "sept.csv", [line(), line(number="9", date="10/02/2026")])
    first = _tick(settings)
    assert first.run_requests == []                          # seen once: not yet known to be complete
    # still being written: it grew between two looks
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(",".join(line(number="10")) + "\r\n")
    second = _tick(settings, first.cursor)
    assert second.run_requests == []
    third = _tick(settings, second.cursor)
    (request,) = third.run_requests
    # the sha256 and the parser configuration it is read under (issue 9 point 9: a new configuration reads again)
    assert request.run_key == f"{hashlib.sha256(path.read_bytes()).hexdigest()}:{AliasTable.baseline().config_version}"
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-09", "2026-10")
    assert request.run_config["ops"]["sedona_export_lines"]["config"]["files"] == [str(path)]
    # the same bytes under another name get the same run key: Dagster will not run them twice
    copy = settings.inbox / "sept-copy.csv"
    copy.write_bytes(path.read_bytes())
    later = _tick(settings, _tick(settings, third.cursor).cursor)
    assert {r.run_key for r in later.run_requests} == {request.run_key}


def test_sensor_ignores_temporary_and_hidden_names(settings):
    write_export(settings.inbox / "upload.csv.part", [line()])
    write_export(settings.inbox / ".hidden.csv", [line()])
    assert _tick(settings, _tick(settings).cursor).run_requests == []


def test_bad_file_is_quarantined_while_a_good_file_in_the_same_tick_flows(settings):
    header = list(BASELINE_HEADER)
    header[header.index("Amount")] = "Amt Billed"
    bad = write_export(settings.inbox / "renamed.csv", [line()], header=header)
    good = write_export(settings.inbox / "good.csv", [line(number="5")])
    result = _tick(settings, _tick(settings).cursor)
    assert [r.tags["bridge/file"] for r in result.run_requests] == ["good.csv"]
    assert not bad.exists() and good.exists()
    (note,) = settings.quarantine.glob("*renamed.csv.error.txt")
    assert "Amount" in note.read_text() and "Amt Billed" in note.read_text()


def test_file_dated_outside_the_billing_periods_is_quarantined(settings):
    write_export(settings.inbox / "future.csv", [line(date="01/05/2031")])
    result = _tick(settings, _tick(settings).cursor)
    assert result.run_requests == []
    (note,) = settings.quarantine.glob("*.error.txt")
    assert "2031-01" in note.read_text() and "BRIDGE_FIRST_PERIOD" in note.read_text()


def test_nightly_schedule_covers_the_open_and_previous_period():
    assert open_and_previous_period(dt.date(2026, 11, 21)) == ("2026-10", "2026-11")
    assert open_and_previous_period(dt.date(2027, 1, 1)) == ("2026-12", "2027-01")
