"""The checks that guard the pipe fail when they should (and pass when they should)."""

from __future__ import annotations

from bridge_assets.canonical import validation

from .conftest import line, receive_and_map, write_export


def test_rmr_jump_warns_but_quarterly_billing_does_not(db, settings):
    path = write_export(settings.inbox / "rmr.csv", [
        line(number="1", date="08/01/2026", start="08/01/2026", end="08/31/2026", rate="29.95", amount="29.95", total="29.95"),
        line(number="2", date="09/01/2026", start="09/01/2026", end="09/30/2026", rate="89.95", amount="89.95", total="89.95"),
        # another customer: monthly line steady, a quarterly line billed in September only
        line(number="3", customer="C2", date="08/01/2026", start="08/01/2026", end="08/31/2026"),
        line(number="4", customer="C2", date="09/01/2026", start="09/01/2026", end="09/30/2026", total="149.80"),
        line(number="4", customer="C2", date="09/01/2026", item="RMR-CELL", cycle="Q", start="09/01/2026",
             end="11/30/2026", qty="3", rate="39.95", amount="119.85", total="149.80"),
    ])
    receive_and_map(db, settings, [path], ["2026-08", "2026-09"])
    with db.connect() as con:
        outcome = validation.rmr_change_within_limit(con, ["2026-09"], 0.5)["2026-09"]
    assert not outcome.passed and not outcome.blocking
    assert [r["customer_key"] for r in outcome.failing] == ["C001"]


def test_all_blocking_checks_pass_on_clean_input(db, settings):
    path = write_export(settings.inbox / "ok.csv", [line(number="1"), line(number="2", doc_type="Credit", applies="1",
                                                                              cycle="", start="", end="")])
    receive_and_map(db, settings, [path], ["2026-09"])
    with db.connect() as con:
        outcomes = validation.run_all(con, ["2026-09"], known_doc_keys_sql="SELECT NULL AS doc_key WHERE false",
                                      max_rejected_share=0.05, max_rmr_change=0.5)["2026-09"]
    assert {o.name: o.passed for o in outcomes if o.blocking} == {n: True for n in validation.BLOCKING_CHECKS}


def test_unique_numbers_and_totals_checks_catch_what_slips_past_mapping(db, settings):
    path = write_export(settings.inbox / "ok.csv", [line(number="1"), line(number="2")])
    receive_and_map(db, settings, [path], ["2026-09"])
    with db.transaction() as con:   # what a mapping bug would leave behind
        con.execute("UPDATE accounting_documents SET doc_number = '1', total = total + 1 WHERE source_id = '2'")
    with db.connect() as con:
        assert not validation.unique_document_numbers(con, ["2026-09"])["2026-09"].passed
        assert not validation.totals_balance(con, ["2026-09"])["2026-09"].passed
        assert not validation.schema_valid(con, ["2026-09"])["2026-09"].passed


def test_a_negative_invoice_is_rejected_once_so_quickbooks_the_iif_and_the_staging_csv_agree(
        settings, db, tmp_path, monkeypatch):
    """QuickBooks refuses a negative invoice; the bridge rejects it before any destination sees it, with a
    sentence saying to issue a credit memo, and the summary lists it. A zero invoice stays valid (QuickBooks
    Online accepts $0 invoices); only the IIF file cannot carry it, which its ledger row says by name."""
    import io

    import dagster as dg

    from bridge_assets.cli import print_summary

    from .conftest import quickbooks
    from .test_reconciliation import run_job

    good = [line(number=f"7001{n:02d}", customer=f"C{n:03d}") for n in range(1, 31)]
    negative = line(number="700901", customer="C901", qty="-1", amount="-29.95", total="-29.95")
    zero = line(number="700902", customer="C902", rate="0.00", amount="0.00", total="0.00")
    write_export(settings.inbox / "september.csv", [*good, negative, zero])
    with quickbooks(tmp_path, monkeypatch) as (qbo, realm):
        monkeypatch.setenv("BRIDGE_DESTINATIONS", "qbo,staging_csv,qbd_iif")
        run = run_job(settings, "2026-09", "2026-09", dg.DagsterInstance.ephemeral())
        in_books = {i["DocNumber"] for i in qbo.admin.dump(realm, "Invoice")}
    staging = "".join(p.read_text() for p in (settings.output / "staging").rglob("*.csv"))
    iif = "".join(p.read_text(encoding="cp1252") for p in (settings.output / "qbd_iif").rglob("*.iif"))
    expected = {f"7001{n:02d}" for n in range(1, 31)} | {"700902"}
    assert in_books == expected
    for number in expected:
        assert number in staging and (number in iif or number == "700902"), number
    assert "700901" not in staging and "700901" not in iif
    with db.connect() as con:
        assert con.execute("SELECT last_error_code FROM ledger_postings WHERE destination = 'qbd_iif' AND "
                           "doc_number = '700902'").fetchall() == [("zero_amount",)]
        (reasons,) = con.execute("SELECT reasons FROM rejected_documents WHERE source_id = '700901'").fetchall()[0]
        assert con.execute("SELECT count(*) FROM ledger_postings WHERE doc_number = '700901'").fetchall()[0][0] == 0
    assert "below zero" in reasons and "credit memo in SedonaOffice or ServiceTrade" in reasons
    out = io.StringIO()
    print_summary(settings, ["2026-09"], run.run_id, out=out)
    assert "rejected           1 documents" in out.getvalue() and "700901" in out.getvalue()


def test_the_schema_check_names_the_failing_check_and_value_and_passes_an_empty_period(db, settings):
    path = write_export(settings.inbox / "ok.csv", [line(number="1"), line(number="2")])
    receive_and_map(db, settings, [path], ["2026-09"])
    with db.connect() as con:
        assert validation.schema_valid(con, ["2026-08"])["2026-08"].passed           # nothing in it: nothing wrong
        assert validation.schema_valid(con, ["2026-09"])["2026-09"].passed
    with db.transaction() as con:   # what a mapping bug would leave behind
        con.execute("UPDATE accounting_document_lines SET amount = amount + 1 WHERE doc_key = 'sedona:invoice:2'")
        con.execute("UPDATE accounting_documents SET content_hash = 'not a hash' WHERE source_id = '1'")
    with db.connect() as con:
        outcome = validation.schema_valid(con, ["2026-09"])["2026-09"]
    assert not outcome.passed
    checks = {(p.get("schema"), p.get("check")) for p in outcome.failing}
    assert ("accounting_document_lines", "amount_is_qty_times_rate") in checks
    assert ("accounting_documents", "subtotal_is_sum_of_lines") in checks
    assert any(p.get("value") == "not a hash" for p in outcome.failing)


def test_checks_over_several_periods_say_of_each_what_they_say_of_it_alone(db, settings):
    """The checks run once over all the periods of a transform; each period's outcomes are exactly those
    of a run over that period alone: a broken period fails, its neighbour passes, previews and counts
    are each period's own."""
    path = write_export(settings.inbox / "two.csv", [
        line(number="1", date="08/03/2026", start="08/01/2026", end="08/31/2026"),
        line(number="2", date="08/04/2026", start="08/01/2026", end="08/31/2026"),
        line(number="3", date="09/03/2026"), line(number="4", date="09/04/2026"),
        line(number="5", date="09/05/2026", doc_type="Credit", applies="4", cycle="", start="", end=""),
    ])
    receive_and_map(db, settings, [path], ["2026-08", "2026-09"])
    with db.transaction() as con:   # what a mapping bug would leave behind, in September only
        con.execute("UPDATE accounting_document_lines SET amount = amount + 1 WHERE doc_key = 'sedona:invoice:3'")
        con.execute("UPDATE accounting_documents SET content_hash = 'not a hash', doc_number = '4' WHERE source_id = '3'")
        con.execute("UPDATE accounting_documents SET txn_date = DATE '2026-10-01' WHERE source_id = '4'")
        con.execute("UPDATE accounting_documents SET applies_to_key = 'sedona:invoice:404' WHERE source_id = '5'")
    kwargs = dict(known_doc_keys_sql="SELECT NULL AS doc_key WHERE false", max_rejected_share=0.05, max_rmr_change=0.5)
    with db.connect() as con:
        together = validation.run_all(con, ["2026-09", "2026-08", "2026-07"], **kwargs)
        alone = {period: validation.run_all(con, [period], **kwargs)[period] for period in ("2026-07", "2026-08", "2026-09")}
    assert together == alone
    assert all(o.passed for o in together["2026-08"])
    failed = {o.name for o in together["2026-09"] if not o.passed}
    assert failed == {"schema_valid", "totals_balance", "unique_document_numbers", "references_known",
                      "dated_within_partition"}
    assert [o.name for o in together["2026-07"] if not o.passed] == ["period_not_empty"]
    schema = next(o for o in together["2026-09"] if o.name == "schema_valid")
    assert any(p.get("value") == "not a hash" for p in schema.failing)
