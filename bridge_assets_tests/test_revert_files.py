"""Reverting through the accountant staging file, the Dagster job and the command: the same promises as
QuickBooks Online (see test_revert_qbo.py), on the destination that needs no server."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from bridge_assets import cli
from bridge_assets.ledger import store as ledger
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import posting
from bridge_assets.ledger import revert
from bridge_assets.defs.resources import bridge_resources
from bridge_assets.defs.revert import revert_job
from bridge_assets.destinations.base import Status
from bridge_assets.destinations.registry import build_destination

from .conftest import line, receive_and_map, write_export

DEST = "staging_csv"
PERIOD = "2026-09"


def _files(settings) -> list[Path]:
    return sorted((settings.output / "staging").glob("*.csv"))


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _post(db, settings, run_id: str) -> posting.PostingReport:
    with db.transaction() as con:
        planning.plan_periods(con, DEST, [PERIOD])
    return posting.execute_plan(db, build_destination(DEST, settings), [PERIOD], run_id)


def _ledger(db) -> tuple[list, list]:
    with db.connect() as con:
        return (con.execute("SELECT * FROM ledger_postings ORDER BY ALL").fetchall(),
                con.execute("SELECT * FROM ledger_events ORDER BY event_id").fetchall())


def _two_runs(db, settings) -> None:
    """run-1 posts invoices 1 and 2; run-2 changes invoice 1 and creates invoice 3 and credit 5001 against it."""
    receive_and_map(db, settings, [write_export(settings.inbox / "a.csv", [
        line(number="1"), line(number="2", customer="C002", name="Jones, K")])], [PERIOD])
    assert _post(db, settings, "run-1").outcomes == {"created": 2}
    receive_and_map(db, settings, [write_export(settings.inbox / "b.csv", [
        line(number="1", rate="39.95", amount="39.95", total="39.95"),
        line(number="3", customer="C003", name="Lee, A", rate="100.00", amount="100.00", total="100.00"),
        line(number="5001", doc_type="Credit", applies="3", customer="C003", name="Lee, A", rate="25.00",
             amount="25.00", total="25.00")])], [PERIOD])
    assert _post(db, settings, "run-2").outcomes == {"created": 2, "updated": 1}


def test_staging_revert_voids_what_the_run_created_and_restores_what_it_changed(db, settings):
    _two_runs(db, settings)
    files, state = _files(settings), _ledger(db)

    with db.transaction() as con:
        plan = revert.preview_revert(con, DEST, run_id="run-2")
    assert [(s.order, s.action, s.doc_type, s.doc_number) for s in plan.steps] == [
        (1, "delete", "credit_memo", "5001"), (2, "restore", "invoice", "1"), (3, "void", "invoice", "3")]
    assert plan.totals() == [("delete", "credit_memo", 1, Decimal("25.00")), ("restore", "invoice", 1, Decimal("39.95")),
                             ("void", "invoice", 1, Decimal("100.00"))]
    assert plan.steps[1].before["total"] == "29.95"      # the state before run-2, from the ledger's events
    assert _files(settings) == files and _ledger(db) == state          # a preview changes nothing

    report = revert.execute_revert(db, build_destination(DEST, settings), plan.plan_id, "revert-1")
    assert report.outcomes == {"reverted": 3} and not report.failures
    [written] = [Path(f) for f in report.files]
    assert [(r["action"], r["doc_number"], r["doc_total"], r["previous_total"]) for r in _rows(written)] == [
        ("void", "5001", "25.00", ""), ("update", "1", "29.95", "39.95"), ("void", "3", "100.00", "")]
    with db.connect() as con:
        rows = con.execute("SELECT doc_number, state, dest_id IS NOT NULL, generation FROM ledger_postings "
                           "ORDER BY doc_number").fetchall()
        events = con.execute("SELECT doc_key, outcome, before IS NOT NULL, after IS NOT NULL FROM ledger_events "
                             "WHERE run_id = 'revert-1' AND outcome = 'reverted' ORDER BY doc_key").fetchall()
    assert rows == [("1", "reverted", True, 1), ("2", "posted", True, 0), ("3", "reverted", False, 1),
                    ("5001", "reverted", False, 1)]
    assert events == [("sedona:credit_memo:5001", "reverted", True, True), ("sedona:invoice:1", "reverted", True, True),
                      ("sedona:invoice:3", "reverted", True, True)]

    # Again: nothing to do, no file, no ledger change.
    files, state = _files(settings), _ledger(db)
    with db.transaction() as con:
        again = revert.preview_revert(con, DEST, run_id="run-2")
    assert again.steps == () and len(again.left_out) == 3
    assert revert.execute_revert(db, build_destination(DEST, settings), again.plan_id, "revert-2").outcomes == {}
    assert _files(settings) == files and _ledger(db)[0] == state[0]
    # And executing the first plan twice does nothing either.
    assert revert.execute_revert(db, build_destination(DEST, settings), plan.plan_id, "revert-3").outcomes == {}
    assert _files(settings) == files


def test_reverted_documents_stay_reverted_until_released_or_changed_then_post_once(db, settings):
    _two_runs(db, settings)
    with db.transaction() as con:
        plan = revert.preview_revert(con, DEST, run_id="run-2")
    revert.execute_revert(db, build_destination(DEST, settings), plan.plan_id, "revert-1")
    files = _files(settings)

    # A normal run leaves the bookkeeper's revert alone, and says how to post them again.
    report = _post(db, settings, "night-1")
    assert report.outcomes == {} and _files(settings) == files
    with db.connect() as con:
        reasons = dict(con.execute("SELECT doc_number, reason FROM posting_plan WHERE action = 'skip' "
                                   "AND ledger_state = 'reverted'").fetchall())
    assert sorted(reasons) == ["1", "3", "5001"]
    assert "bridge revert --release --doc sedona:invoice:3" in reasons["3"]

    # Released: invoice 3 (voided) is written anew, invoice 1 (restored) is updated; once.
    with db.transaction() as con:
        assert revert.release(con, DEST, "release-1", docs=["3", "sedona:invoice:1"]) == [
            "sedona:invoice:1", "sedona:invoice:3"]
    report = _post(db, settings, "night-2")
    assert report.outcomes == {"created": 1, "updated": 1}
    written = _rows(Path(report.files[0]))
    assert [(r["action"], r["doc_number"], r["doc_total"]) for r in written] == [
        ("update", "1", "39.95"), ("create", "3", "100.00")]
    # The credit changed in the source: it posts by itself, once.
    receive_and_map(db, settings, [write_export(settings.inbox / "c.csv", [
        line(number="5001", doc_type="Credit", applies="3", customer="C003", name="Lee, A", rate="20.00",
             amount="20.00", total="20.00")])], [PERIOD])
    assert _post(db, settings, "night-3").outcomes == {"created": 1}
    assert _post(db, settings, "night-4").outcomes == {}
    with db.connect() as con:
        assert ledger.state_counts(con) == [(DEST, "posted", 4)]


def test_period_revert_with_a_source_filter_and_an_unknown_run(db, settings):
    _two_runs(db, settings)
    with db.transaction() as con:
        other = revert.preview_revert(con, DEST, period=PERIOD, source="servicetrade")
        everything = revert.preview_revert(con, DEST, period=PERIOD, source="sedona")
        with pytest.raises(revert.RevertError, match="no run 'nope'"):
            revert.preview_revert(con, DEST, run_id="nope")
        with pytest.raises(revert.RevertError, match="YYYY-MM"):
            revert.preview_revert(con, DEST, period="09/2026")
    assert other.steps == ()
    assert [(s.action, s.doc_number) for s in everything.steps] == [
        ("delete", "5001"), ("void", "1"), ("void", "2"), ("void", "3")]
    report = revert.execute_revert(db, build_destination(DEST, settings), everything.plan_id, "revert-p")
    assert report.outcomes == {"reverted": 4}
    with db.connect() as con:
        assert ledger.state_counts(con) == [(DEST, "reverted", 4)]


def test_a_plan_changed_under_it_leaves_that_document_alone(db, settings):
    _two_runs(db, settings)
    with db.transaction() as con:
        plan = revert.preview_revert(con, DEST, period=PERIOD)
    # Invoice 2 changes and is posted after the preview: the stored plan must not void the new version blindly.
    receive_and_map(db, settings, [write_export(settings.inbox / "d.csv", [
        line(number="2", customer="C002", name="Jones, K", rate="31.00", amount="31.00", total="31.00")])], [PERIOD])
    assert _post(db, settings, "run-3").outcomes == {"updated": 1}
    report = revert.execute_revert(db, build_destination(DEST, settings), plan.plan_id, "revert-1")
    assert report.outcomes == {"reverted": 3, "skipped": 1}
    assert report.skipped[0][0] == "2" and "preview the revert again" in report.skipped[0][1]


# --- the Dagster job and the command ----------------------------------------------------------------------


def test_revert_job_previews_unless_confirmed_then_carries_out_that_plan(db, settings, monkeypatch):
    monkeypatch.setenv("BRIDGE_DESTINATIONS", DEST)
    _two_runs(db, settings)
    resources = bridge_resources(settings.home)
    state = _ledger(db)

    preview = revert_job.execute_in_process(
        run_config={"ops": {"revert_preview": {"config": {"run_id": "run-2"}}}}, resources=resources)
    assert preview.success and _ledger(db) == state
    [plan_id] = preview.output_for_node("revert_preview", "preview")
    steps = [e for e in preview.all_events if e.event_type_value == "STEP_SKIPPED"]
    assert [e.step_key for e in steps] == ["revert_execute"]
    metadata = next(e.event_specific_data.metadata for e in preview.all_events
                    if e.event_type_value == "STEP_OUTPUT" and e.step_key == "revert_preview")
    assert metadata["to revert"].value == 3
    assert "| staging_csv | void | invoice | 1 | 100.00 |" in metadata["per action and type"].value

    confirmed = revert_job.execute_in_process(
        run_config={"ops": {"revert_preview": {"config": {"confirm": True, "plan_ids": [plan_id]}}}},
        resources=resources)
    assert confirmed.success and confirmed.output_for_node("revert_execute") == [plan_id]
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM ledger_events WHERE outcome = 'reverted' AND run_id = ?",
                           [confirmed.run_id]).fetchall()[0][0] == 3


def test_revert_command_previews_asks_and_reverts(db, settings, monkeypatch, capsys):
    _two_runs(db, settings)
    monkeypatch.setenv("BRIDGE_HOME", str(settings.home))
    monkeypatch.setenv("BRIDGE_DESTINATIONS", DEST)
    monkeypatch.setenv("QBO_CLIENT_ID", "not-used-here")   # no emulator: only the staging file is configured
    state = _ledger(db)

    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert cli.main(["revert", "--run", "run-2"]) == 1
    out = capsys.readouterr().out
    assert "Revert run run-2 in staging_csv" in out and "void     invoice" in out and "Not confirmed" in out
    assert _ledger(db) == state

    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    assert cli.main(["revert", "--run", "run-2"]) == 0
    out = capsys.readouterr().out
    assert "staging_csv: 3 reverted" in out
    assert cli.main(["revert", "--run", "run-2", "--yes"]) == 0
    assert "Nothing to revert" in capsys.readouterr().out

    assert cli.main(["revert", "--release", "--doc", "3"]) == 0
    assert "1 reverted document(s) released" in capsys.readouterr().out
    assert cli.main(["revert", "--period", "2026-13"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM ledger_events WHERE action = 'release'").fetchall() == [(1,)]


def test_staging_undo_is_recognised_as_done_when_asked_again(tmp_path):
    """What settling an interrupted revert relies on: asking again writes nothing twice."""
    from bridge_assets.destinations.staging_csv.adapter import StagingCsvDestination
    from bridge_assets.model.document import canonical_dict

    from .test_file_destinations import create, document, run, update

    destination = StagingCsvDestination(tmp_path)
    original, changed = document("1001"), document("1001", memo="changed")
    run(destination, [create(original)], run_id="run-1")
    outcomes, _ = run(destination, [update(changed, previous=canonical_dict(original))], run_id="run-2")
    destination.begin_run("revert-1", PERIOD)
    first = destination.restore("invoice", outcomes[0].dest_id, canonical_dict(original))
    second = destination.restore("invoice", outcomes[0].dest_id, canonical_dict(original))
    [path] = destination.end_run()
    assert first.status is second.status is Status.UPDATED and "already holds" in second.message
    assert [r["action"] for r in _rows(Path(path))] == ["update"] * len(original.lines)

    destination.begin_run("revert-2", PERIOD)
    assert destination.void_or_delete("invoice", first.dest_id, None).status is Status.VOIDED
    assert destination.find("invoice", "1001") is None          # a voided document is not live any more
    assert destination.void_or_delete("invoice", first.dest_id, None).status is Status.VOIDED
    [path] = destination.end_run()
    assert [r["action"] for r in _rows(Path(path))] == ["void"]


def test_an_iif_revert_is_recorded_once_as_by_hand_and_a_second_revert_finds_nothing_to_do(
        db, settings, monkeypatch, capsys):
    """An IIF file cannot void what QuickBooks Desktop imported: the first revert says what to void by hand
    and records it; the second asks nothing, sends nothing and says what was left by hand."""
    monkeypatch.setenv("BRIDGE_HOME", str(settings.home))
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "qbd_iif")
    receive_and_map(db, settings, [write_export(settings.inbox / "a.csv", [
        line(number="1"), line(number="2", customer="C002", name="Jones, K")])], [PERIOD])
    with db.transaction() as con:
        planning.plan_periods(con, "qbd_iif", [PERIOD])
    assert posting.execute_plan(db, build_destination("qbd_iif", settings), [PERIOD], "run-1").outcomes == {"created": 2}

    assert cli.main(["revert", "--run", "run-1", "--yes"]) == 0
    out = capsys.readouterr().out
    assert "qbd_iif: 2 by_hand" in out
    for number in ("1", "2"):
        assert f"  {number} to do by hand (recorded once; not tried again): IIF cannot void" in out
    assert "void it by hand (Edit > Void)" in out
    with db.connect() as con:
        events = con.execute("SELECT count(*) FROM ledger_events WHERE action = 'revert'").fetchall()[0][0]
        assert con.execute("SELECT state, count(*) FROM revert_steps GROUP BY ALL").fetchall() == [("by_hand", 2)]
    assert events == 4          # per document: `reverting` before asking, then the refusal, once

    def no_question(prompt):
        raise AssertionError(f"asked again: {prompt}")

    monkeypatch.setattr("builtins.input", no_question)
    assert cli.main(["revert", "--run", "run-1"]) == 0
    out = capsys.readouterr().out
    assert "Nothing to revert: nothing was changed. 2 document(s) are left to you" in out
    assert "  1 left to do by hand (the destination cannot): IIF cannot void" in out and "invoice 2 in QuickBooks" in out
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM ledger_events WHERE action = 'revert'").fetchall()[0][0] == events
