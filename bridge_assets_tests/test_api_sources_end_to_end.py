"""SedonaAPI and ServiceTrade end to end: the Dagster job against the three emulators on loopback.

ServiceTrade: pending invoices post to QuickBooks and are set `processed` with the QuickBooks number;
one that cannot post ends `failed` with a private comment naming the reason, and after the cause is
fixed the next run posts it and sets it `processed`; an invoice voided in ServiceTrade after posting is
voided in QuickBooks once. SedonaAPI: invoices, credits and payments post, payments applied to their
invoices by QuickBooks Id (partial and over-payments as QuickBooks keeps them); an invoice deleted in
SedonaOffice is voided in QuickBooks once, with the reason in the ledger.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
import dagster as dg
import pytest

from bridge_assets.definitions import build_definitions
from bridge_assets.defs.api_sources import servicetrade_pending_sensor
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.sensors import RANGE_END, RANGE_START
from bridge_assets.destinations.registry import opened
from bridge_assets.sandbox.book import generate_book
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.sources.servicetrade.client import ServiceTradeClient
from bridge_assets.sources.servicetrade.mapping import servicetrade_invoice_to_document

from .conftest import quickbooks

def run_periods(settings: BridgeSettings, first: str, last: str, instance: dg.DagsterInstance):
    job = build_definitions(settings.home).resolve_job_def("bridge_job")
    result = job.execute_in_process(instance=instance, tags={RANGE_START: first, RANGE_END: last},
                                    run_config={"ops": {"sedona_export_lines": {"config": {"min_age_seconds": 0}}}})
    assert result.success
    return result


def ledger(db, sql: str, params=()):
    with db.connect() as con:
        return con.execute(sql, list(params)).fetchall()


# --- ServiceTrade -----------------------------------------------------------------------------------

@pytest.fixture
def servicetrade(tmp_path, monkeypatch):
    from bridge_assets.sandbox.servicetrade import run_emulator

    with run_emulator(tmp_path / "servicetrade.sqlite3") as handle:
        handle.admin.seed_book(generate_book(11, 90, "2026-08", 1))
        monkeypatch.setenv("SERVICETRADE_BASE_URL", handle.api_url)
        monkeypatch.setenv("SERVICETRADE_USERNAME", "bridge")
        monkeypatch.setenv("SERVICETRADE_PASSWORD", "bridge-sandbox-password")
        yield handle


def _st_invoices(handle) -> dict[str, dict]:
    with ServiceTradeClient.from_env() as client:
        return {str(inv["id"]): inv for inv in client.invoices(status="pending_accounting,processed,failed,void")}


def _st_comments(handle, invoice_id: str) -> list[str]:
    with ServiceTradeClient.from_env() as client:
        return [c["content"] for c in client.comments(invoice_id) if not c.get("visibility")]


def test_servicetrade_invoices_post_write_back_fail_with_a_reason_recover_and_void_once(
        settings, db, servicetrade, tmp_path, monkeypatch):
    with quickbooks(tmp_path, monkeypatch) as (qbo, realm):
        pending = _st_invoices(servicetrade)
        documents = {i: servicetrade_invoice_to_document(inv) for i, inv in pending.items()}
        customers = sorted({d.customer_name for d in documents.values()})
        unknown = customers[0]
        # Every customer but one already exists in QuickBooks; auto-create is off.
        monkeypatch.setenv("QBO_AUTO_CREATE_CUSTOMERS", "true")
        with opened("qbo", BridgeSettings.from_env(settings.home)) as destination:
            assert destination.resolve_references([d for d in documents.values() if d.customer_name != unknown]) == {}
        monkeypatch.setenv("QBO_AUTO_CREATE_CUSTOMERS", "false")

        tick = servicetrade_pending_sensor(dg.build_sensor_context(resources={"bridge": BridgeResource(home=str(settings.home))}))
        (request,) = tick.run_requests
        assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-08", "2026-08")
        again = servicetrade_pending_sensor(dg.build_sensor_context(resources={"bridge": BridgeResource(home=str(settings.home))}))
        assert again.run_requests[0].run_key == request.run_key            # the same waiting invoices: one run

        instance = dg.DagsterInstance.ephemeral()
        run_periods(settings, "2026-08", "2026-08", instance)
        after = _st_invoices(servicetrade)
        failed = {i for i, inv in after.items() if inv["status"] == "failed"}
        expected_failed = {i for i, d in documents.items() if d.customer_name == unknown}
        assert failed == expected_failed and failed
        assert {inv["status"] for i, inv in after.items() if i not in failed} == {"processed"}
        for invoice_id in failed:
            (comment,) = _st_comments(servicetrade, invoice_id)
            assert f"Customer '{unknown}' not found in QuickBooks" in comment and "auto-create is off" in comment
        books = {inv["DocNumber"]: inv for inv in qbo.admin.dump(realm, "Invoice")}
        for invoice_id, inv in after.items():
            if invoice_id not in failed and documents[invoice_id].doc_type == "invoice":
                assert inv["invoiceNumber"] in books                       # the number QuickBooks holds
        # Nothing is left pending without a recorded reason, and a re-run writes nothing again.
        assert not [i for i, inv in after.items() if inv["status"] == "pending_accounting"]
        events = ledger(db, "SELECT count(*) FROM ledger_events WHERE destination = 'servicetrade'")[0][0]
        assert events == len(pending)
        run_periods(settings, "2026-08", "2026-08", instance)
        assert ledger(db, "SELECT count(*) FROM ledger_events WHERE destination = 'servicetrade'")[0][0] == events
        assert _st_invoices(servicetrade) == after

        # The cause is fixed (auto-create switched on): the next run posts them and sets them processed.
        monkeypatch.setenv("QBO_AUTO_CREATE_CUSTOMERS", "true")
        run_periods(settings, "2026-08", "2026-08", instance)
        fixed = _st_invoices(servicetrade)
        assert {fixed[i]["status"] for i in failed} == {"processed"}
        assert all(fixed[i]["invoiceNumber"] for i in failed)
        assert isinstance(servicetrade_pending_sensor(dg.build_sensor_context(
            resources={"bridge": BridgeResource(home=str(settings.home))})), dg.SkipReason)

        # Voided in ServiceTrade after posting: voided in QuickBooks on the next run, once.
        victim = next(i for i, d in documents.items() if d.doc_type == "invoice" and i not in failed)
        servicetrade.admin.edit_invoice(int(victim), status="void")
        assert _st_invoices(servicetrade)[victim]["status"] == "void"
        run_periods(settings, "2026-08", "2026-08", instance)
        run_periods(settings, "2026-08", "2026-08", instance)
        number = documents[victim].doc_number
        (voided,) = [inv for inv in qbo.admin.dump(realm, "Invoice") if inv["DocNumber"] == number]
        assert Decimal(str(voided["TotalAmt"])) == 0 and "Voided" in (voided.get("PrivateNote") or "")
        rows = ledger(db, "SELECT state FROM ledger_postings WHERE doc_key = ?", [documents[victim].doc_key])
        assert rows == [("voided",)]
        (message,) = ledger(db, "SELECT message FROM ledger_events WHERE doc_key = ? AND outcome = 'voided'",
                            [documents[victim].doc_key])[0:1]
        assert "voided in ServiceTrade" in message[0]
        assert ledger(db, "SELECT count(*) FROM ledger_events WHERE doc_key = ? AND action = 'void'",
                      [documents[victim].doc_key])[0][0] == 2                    # sending + voided, once


# --- SedonaAPI ----------------------------------------------------------------------------------------

@pytest.fixture
def sedona(tmp_path, monkeypatch):
    from bridge_assets.sandbox.sedona_api import run_emulator

    with run_emulator(tmp_path / "sedona.sqlite3") as handle:
        book = generate_book(5, 400, "2026-08", 2)
        handle.admin.seed_book(book, open_periods=2)
        for name, value in handle.client_environment().items():
            monkeypatch.setenv(name, value)
        yield handle, book


def test_sedona_api_invoices_credits_and_payments_post_and_a_deleted_invoice_is_voided_once(
        settings, db, sedona, tmp_path, monkeypatch):
    handle, book = sedona
    with quickbooks(tmp_path, monkeypatch) as (qbo, realm):
        instance = dg.DagsterInstance.ephemeral()
        run_periods(settings, "2026-08", "2026-09", instance)

        states = Counter(r[0] for r in ledger(db, "SELECT doc_type || ':' || state FROM ledger_postings"))
        assert states["invoice:posted"] > 0 and states["credit_memo:posted"] > 0 and states["payment:posted"] > 0
        assert not [s for s in states if not s.endswith(":posted")], states
        invoice_ids = dict(ledger(db, "SELECT doc_number, dest_id FROM ledger_postings WHERE doc_type = 'invoice'"))
        payments = {p["PaymentRefNum"]: p for p in qbo.admin.dump(realm, "Payment") if p.get("PaymentRefNum")}
        applications = ledger(db, "SELECT p.doc_number, a.applies_to_number, a.amount FROM accounting_document_applications a "
                                  "JOIN accounting_documents p USING (doc_key) WHERE p.doc_type = 'payment'")
        assert applications
        for payment_number, invoice_number, amount in applications:
            lines = payments[payment_number]["Line"]
            linked = {link["TxnId"]: Decimal(str(line["Amount"])) for line in lines for link in line["LinkedTxn"]}
            assert linked[invoice_ids[invoice_number]] == amount                # applied by QuickBooks Id
        # Partial payments leave the rest open: QuickBooks' Balance is the total less what was applied.
        paid: dict[str, Decimal] = {}
        for _, invoice_number, amount in applications:
            paid[invoice_number] = paid.get(invoice_number, Decimal(0)) + amount
        for credit in (d for d in book.invoices if d.applies_to):
            paid[str(credit.applies_to)] = paid.get(str(credit.applies_to), Decimal(0)) + credit.total
        by_number = {inv["DocNumber"]: inv for inv in qbo.admin.dump(realm, "Invoice")}
        partial = [n for n, amount in paid.items() if n in by_number and amount < Decimal(str(by_number[n]["TotalAmt"]))]
        assert partial
        for number in paid:
            if number in by_number:
                invoice = by_number[number]
                assert Decimal(str(invoice["Balance"])) == max(Decimal(str(invoice["TotalAmt"])) - paid[number], 0)
        over = [p for p in book.payments if p.unapplied > 0]
        assert over
        for payment in over:                                                  # kept as unapplied cash
            assert Decimal(str(payments[str(payment.payment_number)]["UnappliedAmt"])) == payment.unapplied

        # An invoice deleted in SedonaOffice (nothing applied to it) is voided in QuickBooks, once.
        applied = {a[1] for a in applications} | {str(d.applies_to) for d in book.invoices if d.applies_to}
        victim = next(n for n, _ in sorted(invoice_ids.items()) if n not in applied
                      and ledger(db, "SELECT period FROM ledger_postings WHERE doc_number = ?", [n])[0][0] == "2026-09")
        handle.admin.delete_invoice(victim, force=True)
        monkeypatch.setenv("SEDONA_API_FULL_PULL_HOURS", "0")               # the nightly full pull
        run_periods(settings, "2026-09", "2026-09", instance)
        run_periods(settings, "2026-09", "2026-09", instance)
        (voided,) = [inv for inv in qbo.admin.dump(realm, "Invoice") if inv["DocNumber"] == victim]
        assert Decimal(str(voided["TotalAmt"])) == 0
        key = f"sedona:invoice:{victim}"
        assert ledger(db, "SELECT state FROM ledger_postings WHERE doc_key = ?", [key]) == [("voided",)]
        (reason,) = ledger(db, "SELECT message FROM ledger_events WHERE doc_key = ? AND outcome = 'voided'", [key])
        assert "deleted in SedonaOffice" in reason[0]
        # Everything else is untouched.
        assert Counter(r[0] for r in ledger(db, "SELECT state FROM ledger_postings")) == Counter(
            {"posted": sum(states.values()) - 1, "voided": 1})


def test_servicetrade_invoices_held_by_closed_books_stay_pending_with_a_note_then_post_when_reopened(
        settings, db, servicetrade, tmp_path, monkeypatch):
    with quickbooks(tmp_path, monkeypatch) as (qbo, realm):
        qbo.admin.set_book_close_date(realm, "2026-08-31")
        instance = dg.DagsterInstance.ephemeral()
        run_periods(settings, "2026-08", "2026-08", instance)
        run_periods(settings, "2026-08", "2026-08", instance)            # a night later: no second note
        invoices = _st_invoices(servicetrade)
        assert {inv["status"] for inv in invoices.values()} == {"pending_accounting"}
        for invoice_id in invoices:
            (note,) = _st_comments(servicetrade, invoice_id)
            assert "waiting" in note and "posted when the period reopens" in note
        assert qbo.admin.dump(realm, "Invoice") == []
        noted = ledger(db, "SELECT count(*) FROM ledger_events WHERE destination = 'servicetrade' AND outcome = 'noted'")
        assert noted == [(len(invoices),)]

        qbo.admin.set_book_close_date(realm, "2026-07-31")
        run_periods(settings, "2026-08", "2026-08", instance)
        assert {inv["status"] for inv in _st_invoices(servicetrade).values()} == {"processed"}
