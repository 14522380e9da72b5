"""The checks that guard the pipe fail when they should (and pass when they should)."""

from __future__ import annotations

from bridge_assets import validation

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
        outcome = validation.rmr_change_within_limit(con, ["2026-09"], 0.5)
    assert not outcome.passed and not outcome.blocking
    assert [r["customer_key"] for r in outcome.failing] == ["C001"]


def test_all_blocking_checks_pass_on_clean_input(db, settings):
    path = write_export(settings.inbox / "ok.csv", [line(number="1"), line(number="2", doc_type="Credit", applies="1",
                                                                              cycle="", start="", end="")])
    receive_and_map(db, settings, [path], ["2026-09"])
    with db.connect() as con:
        outcomes = validation.run_all(con, ["2026-09"], known_doc_keys_sql="SELECT NULL AS doc_key WHERE false",
                                      max_rejected_share=0.05, max_rmr_change=0.5)
    assert {o.name: o.passed for o in outcomes if o.blocking} == {n: True for n in validation.BLOCKING_CHECKS}


def test_unique_numbers_and_totals_checks_catch_what_slips_past_mapping(db, settings):
    path = write_export(settings.inbox / "ok.csv", [line(number="1"), line(number="2")])
    receive_and_map(db, settings, [path], ["2026-09"])
    with db.transaction() as con:   # what a mapping bug would leave behind
        con.execute("UPDATE accounting_documents SET doc_number = '1', total = total + 1 WHERE source_id = '2'")
    with db.connect() as con:
        assert not validation.unique_document_numbers(con, ["2026-09"]).passed
        assert not validation.totals_balance(con, ["2026-09"]).passed
        assert not validation.schema_valid(con, ["2026-09"]).passed
