"""The ledger protocol end to end through the real file destinations: skip, update, crash recovery."""

from __future__ import annotations

import csv
import json

from bridge_assets.ledger import store as ledger
from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import posting
from bridge_assets.destinations.base import Action
from bridge_assets.destinations.registry import build_destination

from .conftest import line, receive_and_map, write_export

DEST = "staging_csv"


def _staging_rows(settings) -> list[dict]:
    rows = []
    for path in sorted((settings.output / "staging").glob("*.csv")):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def _run(db, settings, run_id, periods=("2026-09",)):
    with db.transaction() as con:
        planning.plan_periods(con, DEST, list(periods))
    return posting.execute_plan(db, build_destination(DEST, settings), list(periods), run_id)


def _two_invoices(settings, name="a.csv", rate="29.95"):
    return write_export(settings.inbox / name, [
        line(number="1", rate=rate, amount=rate, total=rate),
        line(number="2", customer="C002", name="Jones, K"),
    ])


def test_first_run_posts_every_document_once(db, settings):
    receive_and_map(db, settings, [_two_invoices(settings)], ["2026-09"])
    report = _run(db, settings, "run-1")
    assert report.outcomes == {"created": 2}
    assert sorted(r["doc_number"] for r in _staging_rows(settings)) == ["1", "2"]
    with db.connect() as con:
        assert ledger.state_counts(con) == [(DEST, "posted", 2)]


def test_rerun_posts_nothing_and_sends_no_request(db, settings):
    receive_and_map(db, settings, [_two_invoices(settings)], ["2026-09"])
    _run(db, settings, "run-1")
    files_before = sorted((settings.output / "staging").glob("*"))
    receive_and_map(db, settings, [], ["2026-09"])
    report = _run(db, settings, "run-2")
    assert report.outcomes == {} and report.skipped == 2
    assert sorted((settings.output / "staging").glob("*")) == files_before   # no new file at all
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM ledger_events WHERE run_id = 'run-2'").fetchall()[0][0] == 0
        actions = con.execute("SELECT action, count(*) FROM posting_plan GROUP BY ALL").fetchall()
    assert actions == [("skip", 2)]


def test_changed_invoice_becomes_exactly_one_update_with_its_previous_state_logged(db, settings):
    receive_and_map(db, settings, [_two_invoices(settings)], ["2026-09"])
    _run(db, settings, "run-1")
    receive_and_map(db, settings, [_two_invoices(settings, name="b.csv", rate="39.95")], ["2026-09"], (DEST,))
    with db.connect() as con:
        plan = dict(con.execute("SELECT doc_number, action FROM posting_plan").fetchall())
    assert plan == {"1": "update", "2": "skip"}
    report = _run(db, settings, "run-2")
    assert report.outcomes == {"updated": 1}
    with db.connect() as con:
        events = con.execute(
            "SELECT doc_key, action, outcome, before, after FROM ledger_events WHERE run_id = 'run-2' ORDER BY event_id"
        ).fetchall()
    assert [(e[0], e[1], e[2]) for e in events] == [
        ("sedona:invoice:1", "update", "sending"), ("sedona:invoice:1", "update", "updated")]
    before, after = json.loads(events[1][3]), json.loads(events[1][4])
    assert before["total"] == "29.95" and after["total"] == "39.95"
    updates = [r for r in _staging_rows(settings) if r["action"] == "update"]
    assert len(updates) == 1 and updates[0]["previous_total"] == "29.95"
    # and once more: nothing
    receive_and_map(db, settings, [], ["2026-09"])
    assert _run(db, settings, "run-3").outcomes == {}


def _crash_after_sending(db, settings, run_id, *, with_write: bool):
    """Do exactly what a run does up to the moment it is killed: `sending` committed, and (optionally)
    the destination written, but no outcome recorded."""
    with db.transaction() as con:
        planning.plan_periods(con, DEST, ["2026-09"])
        keys = [k for k, in con.execute("SELECT doc_key FROM posting_plan ORDER BY doc_key").fetchall()]
        documents = canonical_reads.load_documents(con, keys)
        pairs = []
        for key in keys:
            doc = documents[key]
            rid = ledger.request_id(DEST, key, doc.content_hash, 0)
            pairs.append(ledger.Sending(key, doc.period, doc.doc_type, doc.doc_number, doc.content_hash, Action.CREATE, rid))
        ledger.mark_sending(con, DEST, run_id, pairs)
    if with_write:
        from bridge_assets.destinations.base import PostRequest

        destination = build_destination(DEST, settings)
        destination.begin_run(run_id, "2026-09")
        destination.post([PostRequest(Action.CREATE, documents[s.doc_key], s.request_id) for s in pairs])
        destination.end_run()


def test_row_left_sending_after_the_write_is_resolved_without_a_second_post(db, settings):
    receive_and_map(db, settings, [_two_invoices(settings)], ["2026-09"])
    _crash_after_sending(db, settings, "crashed-run", with_write=True)
    with db.connect() as con:
        assert ledger.state_counts(con) == [(DEST, "sending", 2)]
    report = _run(db, settings, "run-2")
    assert report.resolved == {"created": 2} and report.outcomes == {}
    assert sorted(r["doc_number"] for r in _staging_rows(settings)) == ["1", "2"]     # still once each
    with db.connect() as con:
        assert ledger.state_counts(con) == [(DEST, "posted", 2)]


def test_row_left_sending_before_the_write_is_sent_once(db, settings):
    receive_and_map(db, settings, [_two_invoices(settings)], ["2026-09"])
    _crash_after_sending(db, settings, "crashed-run", with_write=False)
    report = _run(db, settings, "run-2")
    assert report.resolved == {"created": 2}
    assert sorted(r["doc_number"] for r in _staging_rows(settings)) == ["1", "2"]
    assert _run(db, settings, "run-3").outcomes == {}


def test_request_ids_are_deterministic_and_fit_quickbooks_limits(db, settings):
    a = ledger.request_id(DEST, "sedona:invoice:1", "ab" * 32, 0)
    assert a == ledger.request_id(DEST, "sedona:invoice:1", "ab" * 32, 0)
    assert a != ledger.request_id(DEST, "sedona:invoice:1", "ab" * 32, 1)
    assert a != ledger.request_id("qbd_iif", "sedona:invoice:1", "ab" * 32, 0)
    assert len(a) == 36


def test_iif_refuses_an_update_with_an_actionable_failure(db, settings):
    receive_and_map(db, settings, [_two_invoices(settings)], ["2026-09"])
    with db.transaction() as con:
        planning.plan_periods(con, "qbd_iif", ["2026-09"])
    posting.execute_plan(db, build_destination("qbd_iif", settings), ["2026-09"], "run-1")
    receive_and_map(db, settings, [_two_invoices(settings, name="b.csv", rate="39.95")], ["2026-09"])
    with db.transaction() as con:
        planning.plan_periods(con, "qbd_iif", ["2026-09"])
    report = posting.execute_plan(db, build_destination("qbd_iif", settings), ["2026-09"], "run-2")
    assert report.outcomes == {"failed": 1}
    with db.connect() as con:
        state, code, message = con.execute(
            "SELECT state, last_error_code, last_error FROM ledger_postings WHERE doc_key = 'sedona:invoice:1'").fetchall()[0]
    assert (state, code) == ("failed", "update_unsupported") and "29.95" in message and "39.95" in message
    # and it is not failed again every night: it waits for a person (or for new content)
    with db.transaction() as con:
        planning.plan_periods(con, "qbd_iif", ["2026-09"])
        action, reason = con.execute(
            "SELECT action, reason FROM posting_plan WHERE destination = 'qbd_iif' AND doc_key = 'sedona:invoice:1'").fetchall()[0]
    assert action == "skip" and reason.startswith("needs a person")
    assert posting.execute_plan(db, build_destination("qbd_iif", settings), ["2026-09"], "run-3").outcomes == {}


def test_request_ids_in_the_plan_equal_the_ledger_derivation(db, settings):
    receive_and_map(db, settings, [_two_invoices(settings)], ["2026-09"], (DEST,))
    with db.connect() as con:
        rows = con.execute("SELECT doc_key, content_hash, generation, request_id, payload FROM posting_plan_payloads").fetchall()
    assert len(rows) == 2
    for key, digest, generation, rid, payload in rows:
        assert rid == ledger.request_id(DEST, key, digest, generation)
        assert json.loads(payload)["doc_key"] == key


def test_a_run_whose_plan_another_run_carried_out_says_it_sent_nothing(db, settings):
    """Two runs with the same plan (the second waited for the pool while the first posted): the second
    sends nothing and its log and report say so, never "2/2 documents sent"."""
    from bridge_assets.destinations.registry import build_destination

    receive_and_map(db, settings, [_two_invoices(settings)], ["2026-09"], destinations=(DEST,))
    first, second = [], []
    posting.execute_plan(db, build_destination(DEST, settings), ["2026-09"], "run-1", progress=first.append)
    report = posting.execute_plan(db, build_destination(DEST, settings), ["2026-09"], "run-2", progress=second.append)
    assert first == [f"{DEST} 2026-09: 2 document(s) sent of 2/2 planned"]
    assert second == [f"{DEST} 2026-09: 0 document(s) sent of 2/2 planned, 2 already posted or changed since the plan "
                      "(nothing sent)"]
    assert report.outcomes == {} and report.already_done == 2
    assert report.describe() == f"{DEST}: 2 already done by another run (nothing sent)"
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM ledger_events WHERE run_id = 'run-2'").fetchall()[0][0] == 0
