"""A capability a destination lacks is decided by the plan (ARCHITECTURE §6): the plan says `by_hand`, with the
capability's code and the sentence of what a person does, and posting records it once without sending anything."""

from __future__ import annotations

import dataclasses

import dagster as dg

from bridge_assets.definitions import build_definitions
from bridge_assets.defs.sensors import RANGE_END, RANGE_START
from bridge_assets.destinations.base import Action, PostRequest, Status
from bridge_assets.destinations.registry import build_destination, opened
from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import posting
from bridge_assets.ledger import store as ledger

from .conftest import line, quickbooks, receive_and_map, write_export

PERIOD = "2026-09"


def _export(settings, name: str, rate: str):
    return write_export(settings.inbox / name, [
        line(number="1", rate=rate, amount=rate, total=rate), line(number="2", customer="C002", name="Jones, K")])


def _run(db, destination, run_id: str) -> posting.PostingReport:
    with db.transaction() as con:
        planning.plan_periods(con, destination, [PERIOD])
    return posting.execute_plan(db, destination, [PERIOD], run_id)


def _plan_row(db, name: str) -> tuple:
    with db.connect() as con:
        return con.execute("SELECT action, hold_code, reason FROM posting_plan WHERE destination = ? "
                           "AND doc_key = 'sedona:invoice:1'", [name]).fetchone()


def _ledger_row(db, name: str) -> tuple:
    with db.connect() as con:
        return con.execute("SELECT state, last_error_code, last_error FROM ledger_postings WHERE destination = ? "
                           "AND doc_key = 'sedona:invoice:1'", [name]).fetchone()


def _without_update(destination):
    destination.capabilities = dataclasses.replace(destination.capabilities, supports_update=False)
    return destination


def _post_then_change(db, settings, destination) -> posting.PostingReport:
    receive_and_map(db, settings, [_export(settings, "a.csv", "29.95")], [PERIOD])
    assert _run(db, destination, "run-1").outcomes == {"created": 2}
    receive_and_map(db, settings, [_export(settings, "b.csv", "39.95")], [PERIOD])
    return _run(db, destination, "run-2")


def _assert_by_hand_once(db, destination, changed: posting.PostingReport) -> str:
    name = destination.name
    action, code, sentence = _plan_row(db, name)
    assert (action, code) == ("by_hand", "update_unsupported")
    assert "29.95" in sentence and "39.95" in sentence and "by hand" in sentence
    assert changed.outcomes == {"failed": 1} and changed.files == []
    assert [(number, code) for number, code, _ in changed.failures] == [("1", "update_unsupported")]
    assert _ledger_row(db, name) == ("failed", "update_unsupported", sentence)
    again = _run(db, destination, "run-3")                     # recorded once, not refused again every night
    assert again.outcomes == {} and _plan_row(db, name)[0] == "skip"
    return sentence


def test_a_staging_file_that_cannot_update_gets_by_hand_from_the_plan_and_writes_nothing(db, settings):
    destination = _without_update(build_destination("staging_csv", settings))
    before = sorted((settings.output / "staging").glob("*.csv"))
    changed = _post_then_change(db, settings, destination)
    sentence = _assert_by_hand_once(db, destination, changed)
    assert "staging_csv" in sentence and "Invoice 1 (Smith, J)" in sentence
    assert len(sorted((settings.output / "staging").glob("*.csv"))) == len(before) + 1    # run-1's file only


def test_quickbooks_that_cannot_update_gets_by_hand_from_the_plan_and_receives_no_request(tmp_path, monkeypatch,
                                                                                          db, settings):
    with quickbooks(tmp_path, monkeypatch) as (qbo, realm):
        with opened("qbo", settings) as destination:
            receive_and_map(db, settings, [_export(settings, "a.csv", "29.95")], [PERIOD])
            _without_update(destination)
            assert _run(db, destination, "run-1").outcomes == {"created": 2}
            seen = len(qbo.admin.journal(realm))
            receive_and_map(db, settings, [_export(settings, "b.csv", "39.95")], [PERIOD])
            changed = _run(db, destination, "run-2")
            _assert_by_hand_once(db, destination, changed)
            assert qbo.admin.journal(realm)[seen:] == []              # not one request reached QuickBooks


def test_an_iif_update_is_planned_by_hand_with_the_sentence_its_adapter_would_refuse_it_with(db, settings):
    destination = build_destination("qbd_iif", settings)
    changed = _post_then_change(db, settings, destination)
    sentence = _assert_by_hand_once(db, destination, changed)
    assert "QuickBooks Desktop" in sentence and "edit it by hand" in sentence
    with db.connect() as con:                                   # the adapter's own refusal stays as a safety net
        document = canonical_reads.load_documents(con, ["sedona:invoice:1"])["sedona:invoice:1"]
        previous = ledger.last_sent(con, "qbd_iif", ["sedona:invoice:1"])["sedona:invoice:1"]
    destination.begin_run("run-safety", PERIOD)
    try:
        [refusal] = destination.post([PostRequest(Action.UPDATE, document, "rid", previous=previous)])
    finally:
        destination.end_run()
    assert (refusal.status, refusal.error_code, refusal.message) == (Status.FAILED, "update_unsupported", sentence)


def test_a_cancelled_invoice_the_iif_file_cannot_void_is_planned_by_hand_by_the_pipeline_once(settings, db,
                                                                                                monkeypatch):
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "qbd_iif")
    monkeypatch.setenv("BRIDGE_SEDONA_FULL_CREDIT_MEANS_CANCELLED", "true")
    instance = dg.DagsterInstance.ephemeral()
    job = build_definitions(settings.home).resolve_job_def("bridge_job")

    def run() -> None:
        assert job.execute_in_process(
            instance=instance, tags={RANGE_START: "2026-08", RANGE_END: "2026-08"},
            run_config={"ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}}).success

    write_export(settings.inbox / "aug.csv", [line(number="1", date="08/03/2026", start="08/01/2026", end="08/31/2026")])
    run()
    files = sorted((settings.output / "qbd_iif").glob("*.iif"))
    write_export(settings.inbox / "aug-credits.csv", [
        line(number="2", date="08/20/2026", doc_type="Credit", applies="1", cycle="", start="", end="")])
    run()
    with db.connect() as con:
        action, code, sentence = con.execute("SELECT action, hold_code, reason FROM posting_plan "
                                             "WHERE destination = 'qbd_iif' AND doc_number = '1'").fetchone()
    assert (action, code) == ("by_hand", "void_unsupported") and "void it by hand (Edit > Void)" in sentence
    run()                                                        # the next night: not refused again
    with db.connect() as con:
        assert con.execute("SELECT state, last_error_code, last_error FROM ledger_postings WHERE doc_number = '1'"
                           ).fetchone() == ("failed", "void_unsupported", sentence)
        assert con.execute("SELECT count(*) FROM ledger_events WHERE doc_key = "
                           "'sedona:invoice:1' AND outcome = 'failed'").fetchone()[0] == 1
    assert sorted((settings.output / "qbd_iif").glob("*.iif")) == files      # nothing written for it
