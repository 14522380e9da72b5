"""A document cancelled at the source is voided once where it was posted, with the reason in the ledger;
one never posted is not posted; one that comes back is posted afresh (a new request, not a replay)."""

from __future__ import annotations

import csv

import dagster as dg

from bridge_assets.definitions import build_definitions
from bridge_assets.defs.sensors import RANGE_END, RANGE_START

from .conftest import line, write_export


def _run(settings, instance):
    job = build_definitions(settings.home).resolve_job_def("bridge_job")
    result = job.execute_in_process(instance=instance, tags={RANGE_START: "2026-08", RANGE_END: "2026-08"},
                                    run_config={"ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}})
    assert result.success
    return result


def _staged(settings) -> list[tuple[str, str]]:
    rows = []
    # In the order written: one file per run and period, named by run id.
    for path in sorted((settings.output / "staging").glob("*.csv"), key=lambda p: p.stat().st_mtime_ns):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows += [(r["action"], r["doc_number"]) for r in csv.DictReader(handle) if r["line_no"] in ("1", "")]
    return rows


def test_a_credit_taking_an_invoice_off_in_full_cancels_both_when_configured(settings, db, monkeypatch):
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv")
    monkeypatch.setenv("BRIDGE_SEDONA_FULL_CREDIT_MEANS_CANCELLED", "true")
    instance = dg.DagsterInstance.ephemeral()
    invoice = dict(number="1", date="08/03/2026", start="08/01/2026", end="08/31/2026")
    write_export(settings.inbox / "aug.csv", [line(**invoice), line(number="3", date="08/05/2026", start="08/01/2026",
                                                                    end="08/31/2026")])
    _run(settings, instance)
    assert _staged(settings) == [("create", "1"), ("create", "3")]

    write_export(settings.inbox / "aug-credits.csv", [
        line(number="2", date="08/20/2026", doc_type="Credit", applies="1", cycle="", start="", end="")])
    _run(settings, instance)
    _run(settings, instance)                                    # the next night: nothing more
    assert _staged(settings) == [("create", "1"), ("create", "3"), ("void", "1")]
    with db.connect() as con:
        states = dict(con.execute("SELECT doc_number, state FROM ledger_postings").fetchall())
        (message,) = con.execute("SELECT message FROM ledger_events WHERE doc_key = 'sedona:invoice:1' "
                                 "AND outcome = 'voided'").fetchall()
        plan = dict(con.execute("SELECT doc_number, reason FROM posting_plan").fetchall())
    assert states == {"1": "voided", "3": "posted"}                 # the credit is never posted
    assert "credited off in full by credit 2" in message[0]
    assert plan["2"].startswith("cancelled before it was posted")

    # Switched off: the two documents are ordinary again; the invoice is posted afresh, then the credit.
    monkeypatch.setenv("BRIDGE_SEDONA_FULL_CREDIT_MEANS_CANCELLED", "false")
    _run(settings, instance)
    assert _staged(settings)[3:] == [("create", "1"), ("create", "2")]
    with db.connect() as con:
        ids = con.execute("SELECT request_id FROM ledger_events WHERE doc_key = 'sedona:invoice:1' AND outcome = 'created'"
                          ).fetchall()
    assert len({i[0] for i in ids}) == 2                             # a new request, never a replay of the first


def test_a_document_cancelled_before_it_was_posted_is_never_posted(settings, db, monkeypatch):
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv")
    monkeypatch.setenv("BRIDGE_SEDONA_FULL_CREDIT_MEANS_CANCELLED", "true")
    instance = dg.DagsterInstance.ephemeral()
    write_export(settings.inbox / "aug.csv", [
        line(number="1", date="08/03/2026", start="08/01/2026", end="08/31/2026"),
        line(number="2", date="08/20/2026", doc_type="Credit", applies="1", cycle="", start="", end="")])
    _run(settings, instance)
    assert _staged(settings) == []
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM ledger_postings").fetchall()[0][0] == 0
        assert sorted(con.execute("SELECT doc_number, action FROM posting_plan").fetchall()) == [("1", "skip"), ("2", "skip")]


def test_with_export_files_and_sedona_api_both_on_an_invoice_deleted_in_sedonaoffice_is_voided_once(
        settings, db, tmp_path, monkeypatch):
    """The newest complete statement of a period wins: a full SedonaAPI pull newer than the export file
    that carried an invoice, and without it, means it was deleted in SedonaOffice."""
    import io
    from decimal import Decimal

    from bridge_assets.cli import print_summary
    from bridge_assets.sandbox.book import generate_book
    from bridge_assets.sandbox.export_writer import write_exports
    from bridge_assets.sandbox.sedona_api import run_emulator

    from .conftest import quickbooks

    book = generate_book(5, 300, "2026-08", 2)
    with run_emulator(tmp_path / "sedona.sqlite3") as sedona, \
            quickbooks(tmp_path, monkeypatch, "both-paths-app", "both-paths-key") as (qbo, realm):
        sedona.admin.seed_book(book, open_periods=2)
        for name, value in sedona.client_environment().items():
            monkeypatch.setenv(name, value)
        write_exports(book, settings.inbox)                     # every invoice comes both ways, as in the demo
        instance = dg.DagsterInstance.ephemeral()
        job = build_definitions(settings.home).resolve_job_def("bridge_job")

        def run(first, last):
            assert job.execute_in_process(instance=instance, tags={RANGE_START: first, RANGE_END: last}, run_config={
                "ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}}).success

        run("2026-08", "2026-09")
        with db.connect() as con:
            victim = con.execute(
                "SELECT doc_number FROM ledger_postings WHERE doc_type = 'invoice' AND period = '2026-09' "
                "AND state = 'posted' AND doc_key NOT IN (SELECT applies_to_key FROM accounting_document_applications) "
                "AND doc_key NOT IN (SELECT applies_to_key FROM accounting_documents WHERE applies_to_key IS NOT NULL) "
                "ORDER BY doc_number LIMIT 1").fetchone()[0]
            in_files = con.execute("SELECT count(*) FROM sedona_export_lines WHERE invoice_number = ? "
                                   "AND file_name NOT LIKE 'sedonaapi:%'", [victim]).fetchone()[0]
        assert in_files > 0
        key = f"sedona:invoice:{victim}"
        sedona.admin.delete_invoice(victim, force=True)
        monkeypatch.setenv("SEDONA_API_FULL_PULL_HOURS", "0")          # the nightly full pull
        run("2026-09", "2026-09")
        run("2026-09", "2026-09")                                     # a second run does nothing more

        (voided,) = [i for i in qbo.admin.dump(realm, "Invoice") if i["DocNumber"] == victim]
        assert Decimal(str(voided["TotalAmt"])) == 0
        with db.connect() as con:
            assert con.execute("SELECT state FROM ledger_postings WHERE doc_key = ?", [key]).fetchall() == [("voided",)]
            (reason,) = con.execute("SELECT reason FROM cancelled_documents WHERE doc_key = ?", [key]).fetchone()
            voids = con.execute("SELECT outcome FROM ledger_events WHERE doc_key = ? AND action = 'void' ORDER BY event_id",
                                [key]).fetchall()
            others = con.execute("SELECT state, count(*) FROM ledger_postings WHERE doc_key <> ? GROUP BY 1",
                                 [key]).fetchall()
        assert reason.startswith("deleted in SedonaOffice") and "after export file" in reason
        assert voids == [("sending",), ("voided",)]
        assert [s for s, _ in others] == ["posted"]                   # nothing else touched
        summary = io.StringIO()
        print_summary(settings, ["2026-09"], out=summary)
        assert "cancelled at the source (sedona, deleted in source): 1 document(s)" in summary.getvalue()
