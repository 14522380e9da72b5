"""Credits dated in a closed period: held (not lost, not sent), kept across runs, posted once on reopening."""

from __future__ import annotations

import csv

import dagster as dg
from dagster_duckdb import DuckDBResource

from bridge_assets.definitions import build_definitions
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.sensors import RANGE_END, RANGE_START, held_documents_replay_sensor

from .conftest import line, quickbooks, write_export


def _run(settings, period, instance):
    job = build_definitions(settings.home).resolve_job_def("bridge_job")
    result = job.execute_in_process(instance=instance, tags={RANGE_START: period, RANGE_END: period},
                                    run_config={"ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}})
    assert result.success
    return result


def _tick(settings):
    context = dg.build_sensor_context(resources={
        "bridge": BridgeResource(home=str(settings.home)),
        "duckdb": DuckDBResource(database=str(settings.database_path)),
    })
    return held_documents_replay_sensor(context)


def _staged_numbers(settings) -> list[str]:
    numbers = []
    for path in sorted((settings.output / "staging").glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            numbers += [r["doc_number"] for r in csv.DictReader(handle) if r["line_no"] in ("1", "")]
    return numbers


def test_credit_in_a_closed_period_is_held_survives_runs_and_posts_once_when_books_reopen(settings, db, monkeypatch):
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv")
    instance = dg.DagsterInstance.ephemeral()
    write_export(settings.inbox / "aug.csv", [line(number="1", date="08/03/2026", start="08/01/2026", end="08/31/2026")])
    _run(settings, "2026-08", instance)

    monkeypatch.setenv("BRIDGE_BOOKS_CLOSED_THROUGH", "2026-09-20")
    write_export(settings.inbox / "sep.csv", [
        line(number="2", date="09/15/2026", doc_type="Credit", applies="1", cycle="", start="", end=""),
        line(number="3", date="09/25/2026"),
    ])
    _run(settings, "2026-09", instance)
    with db.connect() as con:
        states = dict(con.execute("SELECT doc_number, state FROM ledger_postings").fetchall())
        reason = con.execute("SELECT last_error FROM ledger_postings WHERE doc_number = '2'").fetchall()[0][0]
    assert states == {"1": "posted", "2": "held", "3": "posted"}
    assert "closed" in reason
    assert _staged_numbers(settings) == ["1", "3"]
    assert isinstance(_tick(settings), dg.SkipReason)               # still closed: nothing to replay

    _run(settings, "2026-09", instance)                              # a night later, still closed
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM ledger_events WHERE doc_key = 'sedona:credit_memo:2'").fetchall()[0][0] == 1

    monkeypatch.setenv("BRIDGE_BOOKS_CLOSED_THROUGH", "2026-08-31")  # the bookkeeper reopens September
    (request,) = _tick(settings).run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-09", "2026-09")
    assert request.run_key == _tick(settings).run_requests[0].run_key   # the same reopening, the same run
    _run(settings, "2026-09", instance)
    with db.connect() as con:
        assert con.execute("SELECT state FROM ledger_postings WHERE doc_number = '2'").fetchall()[0][0] == "posted"
    assert sorted(_staged_numbers(settings)) == ["1", "2", "3"]
    assert isinstance(_tick(settings), dg.SkipReason)


def test_quickbooks_credit_in_a_closed_period_is_held_and_posts_once_after_the_book_close_date_moves(
        settings, db, monkeypatch, tmp_path):
    with quickbooks(tmp_path, monkeypatch, "closed-period-app", "closed-period-key") as (qbo, realm):
        instance = dg.DagsterInstance.ephemeral()
        write_export(settings.inbox / "aug.csv", [line(number="1", date="08/03/2026", start="08/01/2026",
                                                       end="08/31/2026")])
        _run(settings, "2026-08", instance)

        qbo.admin.set_book_close_date(realm, "2026-09-20")
        write_export(settings.inbox / "sep.csv", [
            line(number="2", date="09/15/2026", doc_type="Credit", applies="1", cycle="", start="", end=""),
            line(number="3", date="09/25/2026"),
        ])
        _run(settings, "2026-09", instance)
        _run(settings, "2026-09", instance)          # the next night: still closed, still held, nothing sent
        with db.connect() as con:
            states = dict(con.execute("SELECT doc_number, state FROM ledger_postings").fetchall())
        assert states == {"1": "posted", "2": "held", "3": "posted"}
        assert qbo.admin.dump(realm, "CreditMemo") == []
        assert isinstance(_tick(settings), dg.SkipReason)

        qbo.admin.set_book_close_date(realm, "2026-08-31")
        (request,) = _tick(settings).run_requests
        assert request.tags[RANGE_START] == "2026-09"
        _run(settings, "2026-09", instance)
        _run(settings, "2026-09", instance)
        credits = qbo.admin.dump(realm, "CreditMemo")
        assert [c["DocNumber"] for c in credits] == ["2"]
        with db.connect() as con:
            assert con.execute("SELECT state, dest_id FROM ledger_postings WHERE doc_number = '2'").fetchall() == [
                ("posted", credits[0]["Id"])]
        assert isinstance(_tick(settings), dg.SkipReason)
