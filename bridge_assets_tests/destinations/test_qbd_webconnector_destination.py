"""QuickBooks Desktop through the Web Connector, what the issue promises: payments applied to the invoices they
pay (partial and over-payments as QuickBooks keeps them), a changed invoice as one InvoiceMod against the
current EditSequence, a revert that leaves the company as it was, the qbXML rules the emulator enforces and
the sentences a bookkeeper gets. Everything travels through the real service and the emulated Web Connector."""

from __future__ import annotations

import datetime as dt
import zlib
from decimal import Decimal
from typing import Iterator

import pytest

from bridge_assets.destinations.base import Action, PostRequest, Status
from bridge_assets.destinations.qbd_webconnector.adapter import QbdWebConnectorDestination
from bridge_assets.destinations.qbd_webconnector.qbxml import E, message_set, parse_responses
from bridge_assets.destinations.registry import opened
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import posting, revert
from bridge_assets.ledger import store as ledger
from bridge_assets.model.document import AccountingDocument, Application, DocumentLine, line_amount, money
from bridge_assets.sandbox.qbd import messages
from bridge_assets.sandbox.qbd.rules import MessageRefused

from ..conftest import line, receive_and_map, write_export
from .qbd_loopback import quickbooks_desktop

SEPT = "2026-09"


@pytest.fixture(scope="module")
def qbd(tmp_path_factory):
    with quickbooks_desktop(tmp_path_factory.mktemp("qbd")) as stand_up:
        yield stand_up


@pytest.fixture()
def destination(qbd) -> Iterator[QbdWebConnectorDestination]:
    built = QbdWebConnectorDestination.from_env(environ=qbd.environment)
    yield built
    built.close()


def document(number: str, *, doc_type: str = "invoice", customer: str = "Smith, J",
             lines=(("RMR-MON", "1", "29.95"),), applies=(), total: str | None = None,
             date: dt.date = dt.date(2026, 9, 1)) -> AccountingDocument:
    built = tuple(DocumentLine(n, "rmr", code, f"{code} for September", Decimal(qty), Decimal(rate),
                               line_amount(Decimal(qty), Decimal(rate)), False)
                  for n, (code, qty, rate) in enumerate(lines, start=1)) if doc_type != "payment" else ()
    subtotal = sum((l.amount for l in built), Decimal("0.00"))
    return AccountingDocument(
        doc_key=f"sedona:{doc_type}:{number}", source="sedona", doc_type=doc_type, source_id=number,
        doc_number=number, txn_date=date, period=date.strftime("%Y-%m"), due_date=date + dt.timedelta(days=30),
        customer_key=f"C{zlib.crc32(customer.encode()) % 1000:03d}", customer_name=customer, master_account="",
        site="1 Main St", terms="NET30", po_number="", subtotal=subtotal, tax_total=Decimal("0.00"),
        total=money(total) if total is not None else subtotal, currency="USD", memo="", source_ref="",
        lines=built, applies_to=tuple(Application(f"sedona:invoice:{n}", n, money(a)) for n, a in applies),
    ).with_hash()


def create(doc: AccountingDocument) -> PostRequest:
    return PostRequest(Action.CREATE, doc, ledger.request_id("qbd_webconnector", doc.doc_key, doc.content_hash, 0))


def by_ref(qbd, kind: str) -> dict[str, dict]:
    return {t["ref_number"]: t for t in qbd.admin.transactions(kind)}


def test_a_payment_is_applied_to_each_invoice_it_pays_partly_or_with_cash_left_over(qbd, destination):
    customer = "Okafor, N"
    first, second = document("PAY101", customer=customer, lines=(("RMR-MON", "1", "100.00"),)), \
        document("PAY102", customer=customer, lines=(("RMR-MON", "1", "50.00"),))
    assert [o.status for o in destination.post([create(first), create(second)])] == [Status.CREATED] * 2
    # 130 paid: 100 on the first (paid off), 20 on the second (30 left open), 10 unapplied cash
    payment = document("CHK-5521", doc_type="payment", customer=customer, applies=(("PAY101", "100.00"),
                                                                                     ("PAY102", "20.00")), total="130.00")
    [outcome] = destination.post([create(payment)])
    assert outcome.status is Status.CREATED, outcome.message
    held = by_ref(qbd, "ReceivePayment")["CHK-5521"]
    invoices = by_ref(qbd, "Invoice")
    assert held["total"] == "130.00" and sorted((a["invoice"], a["amount"]) for a in held["applied"]) == sorted(
        [(invoices["PAY101"]["txn_id"], "100.00"), (invoices["PAY102"]["txn_id"], "20.00")])
    books = {(d.doc_type, d.doc_number): d for d in destination.read_back()}
    assert books[("invoice", "PAY101")].balance == Decimal("0.00")
    assert books[("invoice", "PAY102")].balance == Decimal("30.00")
    assert books[("payment", "CHK-5521")].balance == Decimal("10.00")        # QuickBooks' unused payment
    assert destination.find("payment", "CHK-5521").dest_id == outcome.dest_id
    # paying the second invoice more than it still owes is refused with what to do, nothing applied
    [too_much] = destination.post([create(document("CHK-5522", doc_type="payment", customer=customer,
                                                   applies=(("PAY102", "31.00"),), total="31.00"))])
    assert too_much.status is Status.FAILED and too_much.error_code == "3210"
    assert "more than the amount due" in too_much.message and "CHK-5522" in too_much.message
    assert "CHK-5522" not in by_ref(qbd, "ReceivePayment")
    # a payment is deleted once; asking again finds it gone
    assert destination.void_or_delete("payment", outcome.dest_id, outcome.version).status is Status.VOIDED
    assert destination.void_or_delete("payment", outcome.dest_id, outcome.version).status is Status.VOIDED
    assert "CHK-5521" not in by_ref(qbd, "ReceivePayment")


def test_a_payment_of_an_invoice_not_in_quickbooks_is_not_sent(destination):
    [outcome] = destination.post([create(document("CHK-9", doc_type="payment", applies=(("NOPE1", "5.00"),),
                                                  total="5.00"))])
    assert outcome.status is Status.FAILED and outcome.error_code == "invoice_not_posted"
    assert "NOPE1" in outcome.message and "next run" in outcome.message


def test_a_changed_invoice_is_one_invoice_mod_and_a_stale_edit_sequence_is_read_again(qbd, destination):
    original = document("MOD201", customer="Ruiz, P")
    [made] = destination.post([create(original)])
    before = len([j for j in qbd.admin.journal() if j["request"] == "InvoiceModRq"])
    changed = document("MOD201", customer="Ruiz, P", lines=(("RMR-MON", "1", "39.95"), ("FEE-SVC", "2", "5.00")))
    # someone edits it in QuickBooks first: the EditSequence the ledger holds is stale (3200)
    stale = PostRequest(Action.UPDATE, changed, "rid-mod", dest_id=made.dest_id, version="1", previous=made.after)
    [updated] = destination.post([stale])
    assert updated.status is Status.UPDATED and updated.before["Total"] == "29.95"
    held = by_ref(qbd, "Invoice")["MOD201"]
    assert held["total"] == "49.95" and held["edit_sequence"] == updated.version
    mods = [j for j in qbd.admin.journal() if j["request"] == "InvoiceModRq"][before:]
    assert [j["status_code"] for j in mods] == [0]                          # one InvoiceMod, sent once
    [again] = destination.post([stale])                                      # already holds it: nothing sent
    assert again.status is Status.UPDATED and "nothing was sent" in again.message
    assert len([j for j in qbd.admin.journal() if j["request"] == "InvoiceModRq"]) == before + 1


def test_numbers_too_long_and_names_in_use_are_sentences_a_bookkeeper_can_act_on(qbd, destination):
    [long] = destination.post([create(document("SEDONA-100234"))])
    assert long.status is Status.FAILED and "11 characters" in long.message and "SEDONA-100234" in long.message
    # names are unique whatever their case (3100); a customer already there is matched by name, not added
    answers = parse_responses(qbd_process(qbd, [E("CustomerAddRq", E("CustomerAdd", E("Name", "Taken Name Co")))]))
    assert answers[0].ok
    answers = parse_responses(qbd_process(qbd, [E("CustomerAddRq", E("CustomerAdd", E("Name", "taken name co")))]))
    assert answers[0].code == 3100 and "already in use" in answers[0].message
    [same] = destination.post([create(document("NAME301", customer="Taken Name Co"))])
    assert same.status is Status.CREATED
    assert [c for c in qbd.admin.company()["per_customer"] if c.casefold() == "taken name co"] == ["Taken Name Co"]


def qbd_process(qbd, requests) -> str:
    """A message straight into the emulated company (its own rules, no bridge code in between)."""
    from bridge_assets.sandbox.qbd.store import CompanyStore

    company = CompanyStore(qbd.emulator.state_path)     # the company file the emulator keeps
    try:
        return messages.process(company, message_set(requests))
    finally:
        company.close()


def test_the_emulator_refuses_a_message_out_of_schema_order_whole(qbd):
    out_of_order = [E("InvoiceAddRq", E("InvoiceAdd", E("RefNumber", "X1"), E("CustomerRef", E("FullName", "A"))))]
    with pytest.raises(MessageRefused, match="out of order"):
        qbd_process(qbd, out_of_order)
    with pytest.raises(MessageRefused, match="missing the required element <EditSequence>"):
        qbd_process(qbd, [E("InvoiceModRq", E("InvoiceMod", E("TxnID", "1")))])


def test_a_document_dated_in_the_closed_books_is_held_and_posted_when_they_reopen(qbd, destination):
    qbd.admin.set_closing_date("2026-09-30")
    try:
        [held] = destination.post([create(document("CLS401", date=dt.date(2026, 9, 15)))])
        assert held.status is Status.HELD and "closing date" in held.message
        assert QbdWebConnectorDestination.from_env(environ=qbd.environment).book_close_date() == dt.date(2026, 9, 30)
    finally:
        qbd.admin.set_closing_date(None)
    [posted] = destination.post([create(document("CLS401", date=dt.date(2026, 9, 15)))])
    assert posted.status is Status.CREATED


def _per_customer(qbd) -> dict:
    return qbd.admin.company()["per_customer"]


def test_reverting_a_run_leaves_the_company_as_it_was_before_it(tmp_path, monkeypatch, settings, db):
    with quickbooks_desktop(tmp_path / "own", monkeypatch) as own:
        def run(run_id: str) -> posting.PostingReport:
            with opened("qbd_webconnector", settings) as destination:
                with db.transaction() as con:
                    planning.plan_periods(con, destination, [SEPT], closed_through=destination.book_close_date())
                return posting.execute_plan(db, destination, [SEPT], run_id)

        receive_and_map(db, settings, [write_export(settings.inbox / "a.csv", [
            line(number="7001"), line(number="7002", customer="C002", name="Jones, K")])], [SEPT])
        assert run("run-1").outcomes == {"created": 2}
        before = _per_customer(own)
        receive_and_map(db, settings, [write_export(settings.inbox / "b.csv", [
            line(number="7001", rate="39.95", amount="39.95", total="39.95"),
            line(number="7003", customer="C003", name="Lee, A"),
            line(number="7501", doc_type="Credit", applies="7002", customer="C002", name="Jones, K", rate="10.00",
                 amount="10.00", total="10.00")])], [SEPT])
        assert run("run-2").outcomes == {"created": 2, "updated": 1}
        assert _per_customer(own) != before
        with db.transaction() as con:
            plan = revert.preview_revert(con, "qbd_webconnector", run_id="run-2")
        with opened("qbd_webconnector", settings) as destination:
            report = revert.execute_revert(db, destination, plan.plan_id, "revert-2")
        assert report.outcomes == {"reverted": 3} and not report.by_hand
        assert _per_customer(own) == before                      # live documents and totals per customer
        journal = own.admin.journal()
        assert [j["request"] for j in journal if j["request"] == "TxnVoidRq"] == ["TxnVoidRq"]     # invoice 7003
        assert sum(j["request"] == "TxnDelRq" for j in journal) == 2    # the credit and the $0 payment applying it


def test_reading_the_books_back_pages_through_a_query_iterator(qbd, destination, monkeypatch):
    from bridge_assets.destinations.qbd_webconnector import undo

    # its own invoices, so it does not depend on what other tests of this module (maybe on another worker) posted
    assert all(o.status is Status.CREATED for o in destination.post([create(document(f"PAGE30{n}")) for n in range(3)]))
    everything = {(d.doc_type, d.doc_number) for d in destination.read_back()}
    asked = len([j for j in qbd.admin.journal() if j["request"] == "InvoiceQueryRq"])
    monkeypatch.setattr(undo, "READ_PAGE", 2)
    paged = destination.read_back()
    assert {(d.doc_type, d.doc_number) for d in paged} == everything and len(paged) == len(everything)
    invoices = sum(1 for d in paged if d.doc_type == "invoice")
    pages = len([j for j in qbd.admin.journal() if j["request"] == "InvoiceQueryRq"]) - asked
    assert invoices > 2 and pages == -(-invoices // 2)                # pages of two, the last says 0 remain
