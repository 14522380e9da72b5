"""Reconciliation of billing periods against QuickBooks Online (the emulator on loopback, real HTTP):
a period that matches passes; an invoice edited by hand after posting fails its period, by name."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource

from bridge_assets.books import reconcile
from bridge_assets.definitions import build_definitions
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.sensors import RANGE_END, RANGE_START
from bridge_assets.sandbox.qbo import EmulatorHandle, run_emulator

from .conftest import line, write_export
from .qbo_books import EMULATOR_SETTINGS, Books


@pytest.fixture(scope="module")
def qbo(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("qbo") / "books.sqlite3", EMULATOR_SETTINGS) as handle:
        yield handle


@pytest.fixture
def books(qbo: EmulatorHandle, tmp_path: Path, monkeypatch) -> Iterator[Books]:
    company = Books(qbo, tmp_path)
    for name, value in {**company.env(), "BRIDGE_DESTINATIONS": "qbo"}.items():
        monkeypatch.setenv(name, value)
    yield company
    company.close()


def run_job(settings, first: str, last: str, instance: dg.DagsterInstance, job: str = "bridge_job"):
    result = build_definitions(settings.home).resolve_job_def(job).execute_in_process(
        instance=instance, tags={RANGE_START: first, RANGE_END: last}, raise_on_error=False,
        run_config={"ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}} if job == "bridge_job" else None)
    assert result.success
    return result


def check_of(result) -> dg.AssetCheckEvaluation:
    """The run's verdict of period_reconciles: one evaluation per period (issue 11, each names its period),
    read together as the run's (passed when every period passed; every period's failing rows)."""
    evaluations = [e.asset_check_evaluation_data for e in result.all_events
                   if e.event_type_value == "ASSET_CHECK_EVALUATION"
                   and e.asset_check_evaluation_data.check_name == "period_reconciles"]
    assert evaluations and all(e.partition for e in evaluations)
    assert len({e.partition for e in evaluations}) == len(evaluations)
    failed = [e for e in evaluations if not e.passed]
    if len(evaluations) == 1 or not failed:
        return evaluations[0]
    rows = [row for e in failed for row in e.metadata["failing"].value]
    return dg.AssetCheckEvaluation(
        asset_key=failed[0].asset_key, check_name="period_reconciles", passed=False, severity=failed[0].severity,
        description=" ".join(e.description for e in failed), metadata={"failing": dg.MetadataValue.json(rows)})


def period_figures(result) -> dict[str, tuple[bool, int, int]]:
    out = {}
    for event in result.get_asset_materialization_events():
        if event.asset_key == dg.AssetKey("reconciliation"):
            meta = event.materialization.metadata
            out[event.partition] = (meta["reconciled"].value, meta["differences"].value, meta["difference_cents"].value)
    return out


def export_two_months(settings) -> None:
    write_export(settings.inbox / "aug_sep.csv", [
        line(number="1", date="08/03/2026", start="08/01/2026", end="08/31/2026"),
        line(number="2", date="09/01/2026", customer="C002", name="Jones, K", rate="45.00", amount="45.00",
             total="45.00"),
        line(number="3", date="09/02/2026", rate="29.95"),
        line(number="4", date="09/10/2026", doc_type="Credit", applies="2", customer="C002", name="Jones, K",
             rate="10.00", amount="10.00", total="10.00", cycle="", start="", end=""),
    ])


def test_an_invoice_edited_by_hand_after_posting_fails_its_period_by_name_and_the_matching_period_passes(
        settings, db, books: Books):
    export_two_months(settings)
    instance = dg.DagsterInstance.ephemeral()

    first = run_job(settings, "2026-08", "2026-09", instance)

    assert check_of(first).passed, check_of(first).description
    assert period_figures(first) == {"2026-08": (True, 0, 0), "2026-09": (True, 0, 0)}
    with db.connect() as con:
        results = con.execute("SELECT period, reconciled, source_total, ledger_total, destination_total, books_read_back "
                              "FROM reconciliation_results ORDER BY period").fetchall()
    # September: invoices 45.00 + 29.95, less the 10.00 credit (applied with a $0 payment: not an edit).
    assert results == [("2026-08", True, Decimal("29.95"), Decimal("29.95"), Decimal("29.95"), True),
                       ("2026-09", True, Decimal("64.95"), Decimal("64.95"), Decimal("64.95"), True)]

    (invoice,) = [i for i in books.handle.admin.dump(books.realm_id, "Invoice") if i["DocNumber"] == "3"]
    books.change_line("Invoice", invoice["Id"], "2", "29.95")            # a person in QuickBooks doubles it

    second = run_job(settings, "2026-08", "2026-09", instance)

    check = check_of(second)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "Invoice 3 was changed in QuickBooks after posting" in check.description
    assert "total 29.95 -> 59.90" in check.description
    failing = check.metadata["failing"].value
    assert [(f["period"], f["doc_number"], f["kind"], f["ledger_amount"], f["destination_amount"]) for f in failing] == [
        ("2026-09", "3", "edited_by_hand", "29.95", "59.90")]
    assert period_figures(second) == {"2026-08": (True, 0, 0), "2026-09": (False, 1, 2995)}
    with db.connect() as con:
        assert con.execute("SELECT period, reconciled, differences, destination_total FROM reconciliation_results "
                           "ORDER BY period").fetchall() == [("2026-08", True, 0, Decimal("29.95")),
                                                             ("2026-09", False, 1, Decimal("94.90"))]
        (detail,) = con.execute("SELECT detail FROM reconciliation_differences WHERE kind = 'edited_by_hand'").fetchall()
        assert "SyncToken 0 -> 1" in detail[0] and "lines changed" in detail[0]
        # The bridge did not "fix" the books behind the bookkeeper's back: the ledger still says 29.95 posted.
        assert con.execute("SELECT count(*) FROM ledger_events WHERE doc_key = 'sedona:invoice:3' "
                           "AND outcome = 'updated'").fetchall() == [(0,)]

    august_alone = run_job(settings, "2026-08", "2026-08", instance)       # a period that matches passes
    assert check_of(august_alone).passed


def test_deleted_voided_and_hand_entered_documents_are_missing_and_extra(settings, db, books: Books):
    export_two_months(settings)
    instance = dg.DagsterInstance.ephemeral()
    run_job(settings, "2026-08", "2026-09", instance)
    invoices = {i["DocNumber"]: i for i in books.handle.admin.dump(books.realm_id, "Invoice")}
    books.void_invoice(invoices["1"]["Id"])
    books.delete("Invoice", invoices["3"]["Id"])
    walk_in = books.customer("Walk-in, W")
    books.invoice(walk_in, "H-77", "120.00", date="2026-09-15")          # typed straight into QuickBooks

    result = run_job(settings, "2026-08", "2026-09", instance)

    failing = {(f["period"], f["doc_number"], f["kind"]) for f in check_of(result).metadata["failing"].value}
    assert failing == {("2026-08", "1", "missing"), ("2026-09", "3", "missing"), ("2026-09", "H-77", "extra")}
    with db.connect() as con:
        details = dict(con.execute("SELECT doc_number, detail FROM reconciliation_differences").fetchall())
        by_type = con.execute("SELECT key, documents, source_total, ledger_total, destination_total FROM "
                              "reconciliation_totals WHERE period = '2026-09' AND dimension = 'doc_type' "
                              "ORDER BY key").fetchall()
    assert "voided in QuickBooks" in details["1"] and "deleted in QuickBooks" in details["3"]
    assert "entered in QuickBooks, not by the bridge" in details["H-77"]
    assert by_type == [("credit_memo", 1, Decimal("10.00"), Decimal("10.00"), Decimal("10.00")),
                       ("invoice", 3, Decimal("74.95"), Decimal("74.95"), Decimal("165.00"))]


def test_file_destinations_reconcile_source_against_ledger_and_say_they_cannot_be_read_back(settings, db, monkeypatch):
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv")
    instance = dg.DagsterInstance.ephemeral()
    write_export(settings.inbox / "aug.csv", [line(number="1", date="08/03/2026", start="08/01/2026", end="08/31/2026")])
    run_job(settings, "2026-08", "2026-08", instance)
    monkeypatch.setenv("BRIDGE_BOOKS_CLOSED_THROUGH", "2026-09-15")
    write_export(settings.inbox / "sep.csv", [
        line(number="2", date="09/10/2026", doc_type="Credit", applies="1", cycle="", start="", end=""),
        line(number="3", date="09/25/2026"),
    ])

    result = run_job(settings, "2026-09", "2026-09", instance)

    assert check_of(result).passed                                       # a held credit is listed, not failing
    assert "staging_csv 2026-09 (1 held document(s) waiting for the books to reopen)" in check_of(result).description
    with db.connect() as con:
        rows = con.execute("SELECT period, reconciled, explained, ledger_total, destination_total, books_read_back, note "
                           "FROM reconciliation_results ORDER BY period").fetchall()
        held = con.execute("SELECT doc_number, kind, fails FROM reconciliation_differences").fetchall()
    assert [r[:6] for r in rows] == [("2026-08", True, 0, Decimal("29.95"), None, False),
                                     ("2026-09", True, 1, Decimal("29.95"), None, False)]
    assert all("cannot be read back" in r[6] for r in rows)
    assert held == [("2", "held", False)]


def test_a_document_quickbooks_refused_is_listed_but_left_to_the_failed_document_alert(settings, db, books: Books,
                                                                                       monkeypatch):
    monkeypatch.setenv("QBO_AUTO_CREATE_CUSTOMERS", "false")
    write_export(settings.inbox / "sep.csv", [line(number="9", date="09/01/2026")])

    result = run_job(settings, "2026-09", "2026-09", dg.DagsterInstance.ephemeral())

    check = check_of(result)
    assert check.passed and "1 document(s) the destination refused" in check.description
    with db.connect() as con:
        (row,) = con.execute("SELECT doc_number, kind, fails, source_amount, detail FROM reconciliation_differences"
                             ).fetchall()
    assert row[:4] == ("9", "failed", False, Decimal("29.95"))
    assert "posting it failed" in row[4] and "auto-create is off" in row[4]


def test_a_document_never_posted_fails_reconciliation_naming_it(settings, db, monkeypatch):
    """The posting step was never run for it (a plan not carried out): only reconciliation can see that."""
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv")
    write_export(settings.inbox / "sep.csv", [line(number="9", date="09/01/2026")])
    from bridge_assets.defs.assets import accounting_documents, sedona_export_lines

    result = dg.materialize([sedona_export_lines, accounting_documents], partition_key="2026-09",
                            resources={"bridge": BridgeResource(home=str(settings.home)),
                                       "duckdb": DuckDBResource(database=str(db.path))},
                            run_config={"ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}})
    assert result.success
    with db.transaction() as con:
        (staging,) = reconcile.reconcile(con, ["2026-09"], {"staging_csv": None})
    (difference,) = staging.failing
    assert (difference.kind, difference.doc_number, difference.source_amount) == ("not_posted", "9", Decimal("29.95"))
    assert "no record of posting it" in difference.detail
    assert json.dumps(difference.failing_row())                         # the alert's shape is plain JSON


def test_an_invoice_cancelled_at_the_source_and_voided_in_the_books_reconciles(settings, db, books: Books, monkeypatch):
    monkeypatch.setenv("BRIDGE_SEDONA_FULL_CREDIT_MEANS_CANCELLED", "true")
    instance = dg.DagsterInstance.ephemeral()
    write_export(settings.inbox / "sep.csv", [line(number="1", date="09/03/2026"), line(number="3", date="09/05/2026")])
    run_job(settings, "2026-09", "2026-09", instance)
    write_export(settings.inbox / "sep-credit.csv", [             # credited off in full: cancelled, both of them
        line(number="2", date="09/20/2026", doc_type="Credit", applies="1", cycle="", start="", end="")])

    result = run_job(settings, "2026-09", "2026-09", instance)

    assert check_of(result).passed, check_of(result).description
    invoices = {i["DocNumber"]: i for i in books.handle.admin.dump(books.realm_id, "Invoice")}
    assert "Voided" in invoices["1"]["PrivateNote"]                  # the bridge voided it; the books agree
    with db.connect() as con:
        assert con.execute("SELECT source_total, ledger_total, destination_total FROM reconciliation_results"
                           ).fetchall() == [(Decimal("29.95"), Decimal("29.95"), Decimal("29.95"))]


def test_a_change_the_iif_file_cannot_carry_is_listed_to_enter_by_hand_without_failing_the_period(settings, db,
                                                                                                  monkeypatch):
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "qbd_iif")
    instance = dg.DagsterInstance.ephemeral()
    write_export(settings.inbox / "sep.csv", [line(number="1", date="09/03/2026")])
    run_job(settings, "2026-09", "2026-09", instance)
    write_export(settings.inbox / "sep-again.csv", [line(number="1", date="09/03/2026", rate="35.00", amount="35.00",
                                                         total="35.00")])

    result = run_job(settings, "2026-09", "2026-09", instance)

    check = check_of(result)
    assert check.passed and "1 document(s) the destination cannot take, to enter by hand" in check.description
    with db.connect() as con:
        (row,) = con.execute("SELECT kind, fails, source_amount, ledger_amount, detail FROM reconciliation_differences"
                             ).fetchall()
        totals = con.execute("SELECT source_total, ledger_total FROM reconciliation_results").fetchall()
    # The file still holds the version posted first: the ledger says 29.95 is there, the source now says 35.00.
    assert row[:4] == ("by_hand", False, Decimal("35.00"), Decimal("29.95")) and "enter it by hand" in row[4]
    assert totals == [(Decimal("35.00"), Decimal("29.95"))]


def test_an_invoice_edited_by_hand_raises_one_alert_naming_it_until_the_edit_is_undone(settings, db, books: Books,
                                                                                        monkeypatch):
    from dagster_duckdb import DuckDBResource

    from bridge_assets.alerts import notify as alerts
    from bridge_assets.defs.alerts import problem_alert_sensor
    from bridge_assets.defs.resources import BridgeResource

    from .webhook_receiver import running_receiver

    def alert_tick():
        context = dg.build_sensor_context(instance=instance, definitions=build_definitions(settings.home), resources={
            "bridge": BridgeResource(home=str(settings.home)), "duckdb": DuckDBResource(database=str(db.path))})
        problem_alert_sensor(context)

    export_two_months(settings)
    with running_receiver() as chat, dg.instance_for_test() as instance:
        monkeypatch.setenv(alerts.WEBHOOK_VARIABLE, chat.url)
        run_job(settings, "2026-08", "2026-09", instance)
        (invoice,) = [i for i in books.handle.admin.dump(books.realm_id, "Invoice") if i["DocNumber"] == "3"]
        books.change_line("Invoice", invoice["Id"], "2", "29.95")

        for night in range(2):                                     # found two nights running: told once
            run_job(settings, "2026-08", "2026-09", instance)
            alert_tick()
            alert_tick()
        (message,) = chat.texts()
        assert message.startswith("Check period_reconciles failed on reconciliation")
        (listed,) = [x for x in message.splitlines() if x.strip().startswith("- 3 (")]
        assert "kind: edited_by_hand" in listed and "ledger_amount: 29.95" in listed
        assert "destination_amount: 59.90" in listed

        books.change_line("Invoice", invoice["Id"], "1", "29.95")  # the bookkeeper undoes the edit
        assert check_of(run_job(settings, "2026-08", "2026-09", instance)).passed
        alert_tick()
        assert len(chat.messages) == 1


def test_documents_reverted_on_purpose_are_listed_without_failing_and_a_restored_one_is_compared_as_restored(
        settings, db, books: Books):
    from bridge_assets.ledger import revert
    from bridge_assets.destinations.registry import opened

    instance = dg.DagsterInstance.ephemeral()
    write_export(settings.inbox / "sep.csv", [line(number="1", date="09/03/2026"), line(number="3", date="09/05/2026")])
    run_job(settings, "2026-09", "2026-09", instance)
    write_export(settings.inbox / "sep-2.csv", [line(number="3", date="09/05/2026", rate="40.00", amount="40.00",
                                                     total="40.00"), line(number="5", date="09/07/2026")])
    second = run_job(settings, "2026-09", "2026-09", instance)           # updates 3, creates 5
    with db.transaction() as con:
        plan = revert.preview_revert(con, "qbo", run_id=second.run_id)
    with opened("qbo", settings) as destination:                        # restores 3, voids 5
        revert.execute_revert(db, destination, plan.plan_id, "revert-of-run-2")

    result = run_job(settings, "2026-09", "2026-09", instance)

    check = check_of(result)
    assert check.passed and "2 document(s) reverted on purpose" in check.description, check.description
    invoices = {i["DocNumber"]: i for i in books.handle.admin.dump(books.realm_id, "Invoice")}
    assert Decimal(str(invoices["3"]["TotalAmt"])) == Decimal("29.95") and "Voided" in invoices["5"]["PrivateNote"]
    with db.connect() as con:
        kinds = dict(con.execute("SELECT doc_number, kind FROM reconciliation_differences").fetchall())
        totals = con.execute("SELECT source_total, ledger_total, destination_total FROM reconciliation_results").fetchall()
    assert kinds == {"3": "reverted", "5": "reverted"}
    # The source says 29.95 + 40.00 + 29.95; the books hold what the revert left: 1 and 3 as first posted.
    assert totals == [(Decimal("99.90"), Decimal("59.90"), Decimal("59.90"))]
