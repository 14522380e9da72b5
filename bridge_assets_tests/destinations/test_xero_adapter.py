"""The Xero adapter's own promises on the emulator, beyond the shared scenario: a credit note allocated to
its invoice, a payment over two invoices as one batch payment, each voided or deleted in the right way
(and asking again is recognised as done), an update restored as it was, a document posted while the lock
date covers it held, and a payment that pays no invoice left to a person with the amount."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from bridge_assets.destinations.base import Action, PostRequest, Status
from bridge_assets.destinations.xero.adapter import XeroDestination
from bridge_assets.destinations.xero.client import XeroLimits
from bridge_assets.model.document import AccountingDocument, Application, DocumentLine, doc_key
from bridge_assets.sandbox.xero import EmulatorSettings, run_emulator

CLIENT_ID, CLIENT_SECRET = "adapter-app", "adapter-secret"
SEPT = dt.date(2026, 9, 10)


@pytest.fixture(scope="module")
def xero(tmp_path_factory):
    settings = EmulatorSettings(clients={CLIENT_ID: CLIENT_SECRET}, time_scale=300)
    with run_emulator(tmp_path_factory.mktemp("xero-adapter") / "xero.sqlite3", settings) as emulator:
        yield emulator


@pytest.fixture
def adapter(xero, tmp_path):
    tenant = xero.admin.create_organisation(name="Adapter test")
    with XeroDestination(api_url=xero.api_url, token_url=xero.token_url, client_id=CLIENT_ID,
                         client_secret=CLIENT_SECRET, token_store=tmp_path / "tokens.json", tenant_id=tenant,
                         refresh_token=xero.admin.mint_tokens(tenant, CLIENT_ID)["refresh_token"],
                         limits=XeroLimits(time_scale=300)) as destination:
        yield destination


def _doc(doc_type: str, number: str, total: str, *, tax: str = "0.00", applies=(), customer="Smith, J",
         day: dt.date = SEPT) -> AccountingDocument:
    total_d, tax_d = Decimal(total), Decimal(tax)
    lines = () if doc_type == "payment" else (DocumentLine(1, "other", "SVC-CALL", "Service call", Decimal(1),
                                                           total_d - tax_d, total_d - tax_d, tax_d > 0, tax_d),)
    return AccountingDocument(
        doc_key=doc_key("sedona", doc_type, number), source="sedona", doc_type=doc_type, source_id=number,
        doc_number=number, txn_date=day, period=f"{day:%Y-%m}", due_date=None, customer_key="C1",
        customer_name=customer, master_account="", site="", terms="", po_number="", subtotal=total_d - tax_d,
        tax_total=tax_d, total=total_d, currency="USD", memo="", source_ref="",
        lines=lines, applies_to=tuple(Application(doc_key("sedona", "invoice", n), n, Decimal(a)) for n, a in applies),
    ).with_hash()


def _create(*documents: AccountingDocument) -> list[PostRequest]:
    return [PostRequest(Action.CREATE, d, str(uuid.uuid4())) for d in documents]


def test_credit_allocated_payment_batched_and_each_undone_in_the_right_way(adapter, xero):
    invoices = [_doc("invoice", "A-1", "108.25", tax="8.25"), _doc("invoice", "A-2", "50.00")]
    made = adapter.post(_create(*invoices))
    assert [o.status for o in made] == [Status.CREATED, Status.CREATED]
    assert made[0].after["TotalTax"] == Decimal("8.25")                    # the source's tax, not recomputed
    credit, payment = adapter.post(_create(_doc("credit_memo", "CN-1", "8.25", applies=[("A-1", "8.25")]),
                                           _doc("payment", "P-1", "150.00", applies=[("A-1", "100.00"),
                                                                                     ("A-2", "50.00")])))
    assert credit.status is Status.CREATED and "8.25 allocated to invoice A-1" in credit.message
    assert payment.status is Status.CREATED and payment.after["TotalAmount"] == Decimal("150.00")
    held = {i["InvoiceNumber"]: i for i in xero.admin.dump(adapter.tenant_id, "Invoices")}
    assert held["A-1"]["Status"] == held["A-2"]["Status"] == "PAID"
    refused = adapter.void_or_delete("invoice", made[0].dest_id, None)    # money still allocated to it
    assert refused.status is Status.FAILED and "allocated" in refused.message
    for doc_type, outcome in (("payment", payment), ("credit_memo", credit), ("invoice", made[0])):
        assert adapter.void_or_delete(doc_type, outcome.dest_id, None).status is Status.VOIDED
        again = adapter.void_or_delete(doc_type, outcome.dest_id, None)
        assert again.status is Status.VOIDED and "already" in again.message
    assert {b["Status"] for b in xero.admin.dump(adapter.tenant_id, "BatchPayments")} == {"DELETED"}
    assert {i["InvoiceNumber"]: i["Status"] for i in xero.admin.dump(adapter.tenant_id, "Invoices")} == {
        "A-1": "VOIDED", "A-2": "AUTHORISED"}                        # the batch payment took both back


def test_an_update_is_restored_as_it_was(adapter):
    [created] = adapter.post(_create(_doc("invoice", "R-1", "40.00")))
    changed = _doc("invoice", "R-1", "45.00")
    [updated] = adapter.post([PostRequest(Action.UPDATE, changed, str(uuid.uuid4()), dest_id=created.dest_id)])
    assert updated.status is Status.UPDATED and updated.after["Total"] == Decimal("45.00")
    assert updated.before["Total"] == Decimal("40.00")
    restored = adapter.restore("invoice", created.dest_id, updated.before)
    assert restored.status is Status.UPDATED and restored.after["Total"] == Decimal("40.00")
    assert "already" in adapter.restore("invoice", created.dest_id, updated.before).message


def test_a_document_the_lock_date_covers_is_held_and_an_unapplied_payment_is_left_to_a_person(adapter, xero):
    xero.admin.set_lock_dates(adapter.tenant_id, "2026-09-30")           # set after the plan was made
    [held] = adapter.post(_create(_doc("invoice", "L-1", "10.00")))
    assert held.status is Status.HELD and "lock date" in held.message
    xero.admin.set_lock_dates(adapter.tenant_id, None)
    assert adapter.book_close_date(fresh=True) is None
    [posted] = adapter.post(_create(_doc("invoice", "L-1", "10.00")))
    assert posted.status is Status.CREATED
    [cash] = adapter.post(_create(_doc("payment", "P-9", "25.00")))
    assert cash.status is Status.FAILED and "25.00" in cash.message and "overpayment" in cash.message


def test_a_payment_over_what_is_due_leaves_the_rest_as_the_contacts_overpayment_once(adapter, xero):
    [invoice] = adapter.post(_create(_doc("invoice", "O-1", "60.00")))
    payment = _doc("payment", "P-O", "75.00", applies=[("O-1", "75.00")])
    [paid] = adapter.post(_create(payment))
    assert paid.status is Status.CREATED and "15.00 beyond what the invoices owed" in paid.message
    [again] = adapter.post(_create(payment))                            # sent again (a new run): adopted
    assert again.status is Status.CREATED and again.dest_id == paid.dest_id
    over = [o for o in xero.admin.dump(adapter.tenant_id, "Overpayments") if o["Status"] == "AUTHORISED"]
    assert [(o["Reference"], o["Total"]) for o in over] == [("P-O", 15)]
    [books] = [d for d in adapter.read_back() if d.doc_type == "payment"]
    assert books.total == Decimal("75.00")                              # the books hold the whole payment
    assert adapter.void_or_delete("payment", paid.dest_id, None).status is Status.VOIDED
    assert {o["Status"] for o in xero.admin.dump(adapter.tenant_id, "Overpayments")} == {"DELETED"}


def test_a_create_sent_again_after_its_answer_was_lost_is_adopted_not_duplicated(adapter, xero):
    document = _doc("invoice", "D-1", "12.00")
    [first] = adapter.post(_create(document))
    [again] = adapter.post(_create(document))                          # a new run: another key, same number
    assert again.status is Status.CREATED and again.dest_id == first.dest_id and "already in Xero" in again.message
    [other] = adapter.post(_create(dataclasses.replace(_doc("invoice", "D-1", "13.00"))))
    assert other.status is Status.FAILED and other.error_code == "number_taken" and "LineItems" in other.message
    assert [i["InvoiceNumber"] for i in xero.admin.dump(adapter.tenant_id, "Invoices")].count("D-1") == 1
