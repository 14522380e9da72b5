"""A posted invoice number that now carries another customer, or another billing period, never rewrites the
books by itself: it is held for a person (once, with both versions named), whatever ran before, and the
person's release or reject (command or UI job) is carried out exactly once."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest

from bridge_assets.cli import main as bridge
from bridge_assets.definitions import build_definitions
from bridge_assets.defs.sensors import RANGE_END, RANGE_START
from bridge_assets.sandbox.book import generate_book

from .conftest import line, quickbooks, write_export
from .test_closed_period import _tick as replay_tick


def _released_tick(settings):
    from dagster_duckdb import DuckDBResource

    from bridge_assets.defs.held import released_documents_sensor

    return released_documents_sensor(dg.build_sensor_context(
        resources={"duckdb": DuckDBResource(database=str(settings.database_path))}))


def _run(settings, first, last, instance, must_succeed=True):
    job = build_definitions(settings.home).resolve_job_def("bridge_job")
    result = job.execute_in_process(instance=instance, tags={RANGE_START: first, RANGE_END: last},
                                    run_config={"ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}},
                                    raise_on_error=False)
    assert result.success or not must_succeed
    return result


def _check(result, name: str) -> bool:
    (passed,) = [e.asset_check_evaluation_data.passed for e in result.all_events
                 if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.asset_check_evaluation_data.check_name == name]
    return passed


def _invoice(qbo, realm, number: str) -> dict:
    (found,) = [i for i in qbo.admin.dump(realm, "Invoice") if i["DocNumber"] == number]
    return found


def _row(db, doc_key: str, columns="state, last_error_code, last_error"):
    with db.connect() as con:
        return con.execute(f"SELECT {columns} FROM ledger_postings WHERE doc_key = ?", [doc_key]).fetchone()


def _events(db, doc_key: str, outcome: str) -> int:
    with db.connect() as con:
        return con.execute("SELECT count(*) FROM ledger_events WHERE doc_key = ? AND outcome = ?",
                           [doc_key, outcome]).fetchone()[0]


def _munoz(number="101349", name="Muñoz, R", customer="C349", rate="21.15"):
    return line(number=number, customer=customer, name=name, rate=rate, amount=rate, total=rate)


def _decide_in_ui(settings, instance, doc_key: str, decision: str, destination: str = ""):
    job = build_definitions(settings.home).resolve_job_def("held_document_decision")
    return job.execute_in_process(instance=instance, raise_on_error=False, run_config={"ops": {
        "held_document_decision_op": {"config": {"doc_key": doc_key, "destination": destination,
                                                 "decision": decision}}}})


def test_an_invoice_number_reused_for_another_customer_is_held_once_then_released_by_the_command(
        settings, db, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("BRIDGE_HOME", str(settings.home))
    key = "sedona:invoice:101349"
    with quickbooks(tmp_path, monkeypatch, "reuse-app", "reuse-key") as (qbo, realm):
        instance = dg.DagsterInstance.ephemeral()
        write_export(settings.inbox / "sep.csv", [_munoz(), line(number="101350", customer="C350", name="Lee, A")])
        _run(settings, "2026-09", "2026-09", instance)
        write_export(settings.inbox / "sep-again.csv", [_munoz(name="Intruder Co", customer="C999", rate="77.00")])
        _run(settings, "2026-09", "2026-09", instance)
        _run(settings, "2026-09", "2026-09", instance)            # the next night: nothing new, no second hold

        posted = _invoice(qbo, realm, "101349")
        assert posted["CustomerRef"]["name"] == "Muñoz, R" and Decimal(str(posted["TotalAmt"])) == Decimal("21.15")
        state, code, reason = _row(db, key)
        assert (state, code) == ("held", "number_reused")
        assert reason == ("invoice 101349 was posted for Muñoz, R (21.15, 2026-09); the newest source data has it for "
                          "Intruder Co (77.00, 2026-09): the number may have been reused for another customer. Confirm "
                          f"the new version with `bridge held release {key}` or keep the posted one with "
                          f"`bridge held reject {key}`")
        assert _events(db, key, "held") == 1
        assert isinstance(replay_tick(settings), dg.SkipReason)    # the closed-books replay never touches it
        assert isinstance(_released_tick(settings), dg.SkipReason)  # nor does anything else, until a person decides

        assert bridge(["held", "list"]) == 0
        assert "Intruder Co" in capsys.readouterr().out
        assert bridge(["held", "release", key]) == 0
        assert "the next run of 2026-09 applies the new version" in capsys.readouterr().out
        (request,) = _released_tick(settings).run_requests             # that run is requested at once
        assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-09", "2026-09")
        assert _released_tick(settings).run_requests[0].run_key == request.run_key
        _run(settings, "2026-09", "2026-09", instance)
        assert isinstance(_released_tick(settings), dg.SkipReason)
        _run(settings, "2026-09", "2026-09", instance)
        released = _invoice(qbo, realm, "101349")
        assert released["Id"] == posted["Id"] and released["CustomerRef"]["name"] == "Intruder Co"
        assert Decimal(str(released["TotalAmt"])) == Decimal("77.00")
        assert _row(db, key)[0] == "posted" and _events(db, key, "updated") == 1
        assert bridge(["held", "release", key]) == 0                # again: nothing changes
        assert "already decided" in capsys.readouterr().out
        assert _events(db, key, "released") == 1
        assert bridge(["held", "release", "sedona:invoice:101350"]) == 2     # not held: refused with a sentence
        assert "is not held for a person" in capsys.readouterr().err


def test_a_number_reused_in_another_period_is_held_the_same_on_every_run_and_august_still_reconciles(
        settings, db, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("BRIDGE_HOME", str(settings.home))
    key = "sedona:invoice:100012"
    with quickbooks(tmp_path, monkeypatch, "cross-app", "cross-key") as (qbo, realm):
        instance = dg.DagsterInstance.ephemeral()
        write_export(settings.inbox / "aug.csv", [line(number="100012", date="08/03/2026", customer="C012",
                                                       name="Anderson, P", start="08/01/2026", end="08/31/2026",
                                                       rate="45.00", amount="45.00", total="45.00")])
        _run(settings, "2026-08", "2026-08", instance)
        august = _invoice(qbo, realm, "100012")
        write_export(settings.inbox / "nov.csv", [line(number="100012", date="11/03/2026", customer="C777",
                                                       name="Cross Period Co", start="11/01/2026", end="11/30/2026",
                                                       rate="99.00", amount="99.00", total="99.00")])
        november = [_run(settings, "2026-11", "2026-11", instance, must_succeed=False)]
        _run(settings, "2026-08", "2026-08", instance)               # an unrelated re-run of August
        november.append(_run(settings, "2026-11", "2026-11", instance, must_succeed=False))
        november.append(_run(settings, "2026-11", "2026-11", instance, must_succeed=False))

        assert [_check(r, "unique_document_numbers") for r in november] == [True, True, True]   # same verdict
        books = _invoice(qbo, realm, "100012")
        assert books["Id"] == august["Id"] and books["CustomerRef"]["name"] == "Anderson, P"
        assert books["TxnDate"] == "2026-08-03" and Decimal(str(books["TotalAmt"])) == Decimal("45.00")
        state, code, reason = _row(db, key)
        assert (state, code) == ("held", "number_reused") and _events(db, key, "held") == 1
        assert "posted for Anderson, P (45.00, 2026-08)" in reason and "Cross Period Co (99.00, 2026-11)" in reason
        _run(settings, "2026-08", "2026-11", instance)
        with db.connect() as con:
            verdicts = dict(con.execute("SELECT period, reconciled FROM reconciliation_results WHERE destination = 'qbo' "
                                        "AND period IN ('2026-08', '2026-11')").fetchall())
        assert verdicts == {"2026-08": True, "2026-11": True}

        assert bridge(["held", "reject", "100012"]) == 0              # keep August's invoice; by its number
        assert "rejected by a person: the books keep the posted version" in capsys.readouterr().out
        _run(settings, "2026-08", "2026-11", instance)
        assert _invoice(qbo, realm, "100012") == books
        with db.connect() as con:
            verdicts = dict(con.execute("SELECT period, reconciled FROM reconciliation_results WHERE destination = 'qbo' "
                                        "AND period IN ('2026-08', '2026-11')").fetchall())
            kinds = con.execute("SELECT period, kind FROM reconciliation_differences WHERE doc_key = ?", [key]).fetchall()
        assert verdicts == {"2026-08": True, "2026-11": True} and kinds == [("2026-11", "by_hand")]


def test_a_reused_number_rejected_in_the_ui_keeps_the_books_and_a_later_version_is_judged_again(
        settings, db, monkeypatch, tmp_path):
    key = "sedona:invoice:101349"
    with quickbooks(tmp_path, monkeypatch, "reject-app", "reject-key") as (qbo, realm):
        instance = dg.DagsterInstance.ephemeral()
        write_export(settings.inbox / "sep.csv", [_munoz()])
        _run(settings, "2026-09", "2026-09", instance)
        write_export(settings.inbox / "sep-again.csv", [_munoz(name="Intruder Co", customer="C999", rate="77.00")])
        _run(settings, "2026-09", "2026-09", instance)
        refused = _decide_in_ui(settings, instance, key, "maybe")
        assert not refused.success and _events(db, key, "rejected") == 0
        assert _decide_in_ui(settings, instance, key, "reject", "qbo").success
        assert _decide_in_ui(settings, instance, key, "reject").success           # a repeat changes nothing
        assert _events(db, key, "rejected") == 1
        _run(settings, "2026-09", "2026-09", instance)
        _run(settings, "2026-09", "2026-09", instance)
        books = _invoice(qbo, realm, "101349")
        assert books["CustomerRef"]["name"] == "Muñoz, R" and Decimal(str(books["TotalAmt"])) == Decimal("21.15")
        assert _row(db, key)[0] == "posted" and _events(db, key, "held") == 1
        with db.connect() as con:
            (reason,) = con.execute("SELECT reason FROM posting_plan WHERE doc_key = ?", [key]).fetchone()
            (reconciled,) = con.execute("SELECT reconciled FROM reconciliation_results WHERE period = '2026-09' "
                                        "AND destination = 'qbo'").fetchone()
        assert reason.startswith("kept as posted: a person refused this version") and reconciled

        write_export(settings.inbox / "sep-third.csv", [_munoz(name="Intruder Co", customer="C999", rate="88.00")])
        _run(settings, "2026-09", "2026-09", instance)
        state, code, reason = _row(db, key)
        assert (state, code) == ("held", "number_reused") and "(88.00, 2026-09)" in reason
        assert _invoice(qbo, realm, "101349")["CustomerRef"]["name"] == "Muñoz, R"

        assert _decide_in_ui(settings, instance, "101349", "release").success      # this one is confirmed
        _run(settings, "2026-09", "2026-09", instance)
        _run(settings, "2026-09", "2026-09", instance)
        books = _invoice(qbo, realm, "101349")
        assert books["CustomerRef"]["name"] == "Intruder Co" and Decimal(str(books["TotalAmt"])) == Decimal("88.00")
        assert _row(db, key)[0] == "posted" and _events(db, key, "updated") == 1 and _events(db, key, "released") == 1


@pytest.fixture
def sedona(tmp_path, monkeypatch):
    from bridge_assets.sandbox.sedona_api import run_emulator

    with run_emulator(tmp_path / "sedona.sqlite3") as handle:
        book = generate_book(5, 300, "2026-08", 2)
        handle.admin.seed_book(book, open_periods=2)
        for name, value in handle.client_environment().items():
            monkeypatch.setenv(name, value)
        yield handle, book


def test_an_invoice_changing_customer_while_a_payment_is_applied_to_it_is_held(settings, db, sedona, tmp_path,
                                                                                monkeypatch):
    handle, _ = sedona
    with quickbooks(tmp_path, monkeypatch, "paid-app", "paid-key") as (qbo, realm):
        instance = dg.DagsterInstance.ephemeral()
        _run(settings, "2026-08", "2026-09", instance)
        with db.connect() as con:
            number, payment = con.execute(
                "SELECT a.applies_to_number, p.doc_number FROM accounting_document_applications a "
                "JOIN accounting_documents p USING (doc_key) JOIN accounting_documents i ON i.doc_key = a.applies_to_key "
                "WHERE p.doc_type = 'payment' AND i.period = '2026-09' ORDER BY 1 LIMIT 1").fetchone()
        before = _invoice(qbo, realm, number)
        invoice = next(r for r in handle.admin.records("CustomerInvoice") if str(r["InvoiceNumber"]) == number)
        other = next(c for c in handle.admin.records("Customer") if c["CustomerId"] != invoice["CustomerId"])
        site = next(s for s in handle.admin.records("CustomerSite") if s["CustomerId"] == other["CustomerId"])
        handle.admin.edit_invoice(number, {"CustomerId": other["CustomerId"], "CustomerSiteId": site["CustomerSiteId"]})
        _run(settings, "2026-09", "2026-09", instance)
        _run(settings, "2026-09", "2026-09", instance)

        after = _invoice(qbo, realm, number)
        assert after["CustomerRef"] == before["CustomerRef"] and after["SyncToken"] == before["SyncToken"]
        key = f"sedona:invoice:{number}"
        state, code, reason = _row(db, key)
        assert (state, code) == ("held", "number_reused") and _events(db, key, "held") == 1
        assert f"has it for {other['CustomerName']}" in reason
        (paid,) = [p for p in qbo.admin.dump(realm, "Payment") if p.get("PaymentRefNum") == payment]
        assert before["Id"] in {link["TxnId"] for line_ in paid["Line"] for link in line_["LinkedTxn"]}
