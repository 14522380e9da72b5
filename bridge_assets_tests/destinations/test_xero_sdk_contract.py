"""The Xero emulator answers Xero's official SDK, `xero-python`, unmodified: pointed at the emulator by
its own configuration (`AccountingApi(api_client, base_url=...)`, a token handed to its token getter),
nothing of the SDK patched. If the emulator's wire drifted from Xero's (dates, envelopes, errors,
headers), the SDK's own parsing would fail here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import httpx
import pytest

from xero_python.accounting import (Account, AccountingApi, Allocation, Allocations, Contact, CreditNote, CreditNotes,
                                    Invoice, Invoices, LineAmountTypes, LineItem, Payment)
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.exceptions import AccountingBadRequestException, RateLimitException

from bridge_assets.sandbox.xero import EmulatorSettings, run_emulator

CLIENT_ID, CLIENT_SECRET = "sdk-app", "sdk-secret"
SEPT = dt.date(2026, 9, 1)


@pytest.fixture(scope="module")
def xero(tmp_path_factory):
    settings = EmulatorSettings(clients={CLIENT_ID: CLIENT_SECRET}, time_scale=60)
    with run_emulator(tmp_path_factory.mktemp("xero-sdk") / "xero.sqlite3", settings) as emulator:
        yield emulator


@pytest.fixture
def api(xero) -> AccountingApi:
    """The SDK as a developer configures it, with a fresh token from the emulator's token endpoint (at the
    module's time scale a token lives 30 s)."""
    answer = httpx.post(xero.token_url, data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                               "client_secret": CLIENT_SECRET})
    assert answer.status_code == 200, answer.text
    token = {**answer.json(), "scope": ["accounting.transactions"]}
    token["expires_at"] = dt.datetime.now().timestamp() + token["expires_in"]
    client = ApiClient(Configuration(oauth2_token=OAuth2Token(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)),
                       pool_threads=1, oauth2_token_getter=lambda: token, oauth2_token_saver=token.update)
    return AccountingApi(client, base_url=xero.api_url)


def _invoice(number: str, amount: float = 100.0, tax: float = 8.25, *, day: dt.date = SEPT,
             contact: str = "Smith, J") -> Invoice:
    return Invoice(type="ACCREC", contact=Contact(name=contact), invoice_number=number, date=day,
                   due_date=day + dt.timedelta(days=30), status="AUTHORISED", line_amount_types=LineAmountTypes.EXCLUSIVE,
                   line_items=[LineItem(description="Monitoring", quantity=1.0, unit_amount=amount,
                                        account_code="200", tax_type="OUTPUT", tax_amount=tax)])


def _create(api, xero, *invoices: Invoice, key: str | None = None) -> list[Invoice]:
    answer = api.create_invoices(xero.tenant_id, Invoices(invoices=list(invoices)), summarize_errors=False,
                                 idempotency_key=key or str(uuid.uuid4()))
    return answer.invoices


def test_a_created_invoice_keeps_the_tax_as_sent_and_comes_back_with_net_dates(api, xero):
    [made] = _create(api, xero, _invoice("SDK-1", 100.0, 7.77))
    assert made.status == "AUTHORISED" and not made.has_errors
    assert (made.sub_total, made.total_tax, made.total, made.amount_due) == tuple(
        map(Decimal, ("100", "7.77", "107.77", "107.77")))
    assert made.date == SEPT and made.invoice_number == "SDK-1"
    again = api.get_invoice(xero.tenant_id, made.invoice_id).invoices[0]
    assert again.total == Decimal("107.77") and again.contact.name == "Smith, J"


def test_a_second_invoice_with_the_same_number_is_refused_per_item(api, xero):
    _create(api, xero, _invoice("SDK-2"))
    [refused, fine] = _create(api, xero, _invoice("SDK-2"), _invoice("SDK-3"))
    assert refused.has_errors and [e.message for e in refused.validation_errors] == ["Invoice # must be unique."]
    assert not fine.has_errors and fine.invoice_id
    with pytest.raises(AccountingBadRequestException):          # summarizeErrors left true: one 400
        api.create_invoices(xero.tenant_id, Invoices(invoices=[_invoice("SDK-2")]))


def test_the_same_idempotency_key_and_body_replays_the_first_answer_and_another_body_is_refused(api, xero):
    key = str(uuid.uuid4())
    [first] = _create(api, xero, _invoice("SDK-4"), key=key)
    [second] = _create(api, xero, _invoice("SDK-4"), key=key)
    assert second.invoice_id == first.invoice_id and not second.has_errors
    assert [i["InvoiceNumber"] for i in xero.admin.dump(xero.tenant_id, "Invoices")].count("SDK-4") == 1
    with pytest.raises(AccountingBadRequestException) as refused:
        _create(api, xero, _invoice("SDK-4b"), key=key)
    assert "already used for a different request" in refused.value.body.decode()


def test_an_approved_invoice_is_updated_then_voided_and_a_voided_one_cannot_change(api, xero):
    [made] = _create(api, xero, _invoice("SDK-5"))
    changed = _invoice("SDK-5", 120.0, 9.90)
    updated = api.update_invoice(xero.tenant_id, made.invoice_id, Invoices(invoices=[changed])).invoices[0]
    assert updated.total == Decimal("129.90") and updated.invoice_id == made.invoice_id
    voided = api.update_invoice(xero.tenant_id, made.invoice_id,
                                Invoices(invoices=[Invoice(status="VOIDED")])).invoices[0]
    assert voided.status == "VOIDED"
    with pytest.raises(AccountingBadRequestException) as refused:
        api.update_invoice(xero.tenant_id, made.invoice_id, Invoices(invoices=[changed]))
    assert "not of valid status for modification" in refused.value.body.decode()


def test_a_credit_note_is_allocated_to_an_invoice_and_a_payment_pays_the_rest(api, xero):
    [invoice] = _create(api, xero, _invoice("SDK-6", 100.0, 0.0, contact="Lee, A"))
    credit = CreditNote(type="ACCRECCREDIT", contact=Contact(contact_id=invoice.contact.contact_id),
                        credit_note_number="SDK-CN-6", date=SEPT, status="AUTHORISED", line_amount_types=LineAmountTypes.EXCLUSIVE,
                        line_items=[LineItem(description="Refund", quantity=1.0, unit_amount=30.0,
                                             account_code="200", tax_type="NONE")])
    [made] = api.create_credit_notes(xero.tenant_id, CreditNotes(credit_notes=[credit])).credit_notes
    allocation = Allocation(invoice=Invoice(invoice_id=invoice.invoice_id), amount=30.0, date=SEPT)
    api.create_credit_note_allocation(xero.tenant_id, made.credit_note_id, Allocations(allocations=[allocation]))
    assert api.get_invoice(xero.tenant_id, invoice.invoice_id).invoices[0].amount_due == Decimal("70.00")
    assert api.get_credit_note(xero.tenant_id, made.credit_note_id).credit_notes[0].remaining_credit == 0
    too_much = Payment(invoice=Invoice(invoice_id=invoice.invoice_id), account=Account(code="090"), date=SEPT,
                       amount=70.01)
    with pytest.raises(AccountingBadRequestException) as refused:
        api.create_payment(xero.tenant_id, too_much)
    assert "Payment amount exceeds the amount outstanding on this document" in refused.value.body.decode()
    paid = Payment(invoice=Invoice(invoice_id=invoice.invoice_id), account=Account(code="090"), date=SEPT, amount=70.0)
    assert api.create_payment(xero.tenant_id, paid).payments[0].amount == Decimal("70.00")
    assert api.get_invoice(xero.tenant_id, invoice.invoice_id).invoices[0].status == "PAID"


def test_a_document_dated_on_or_before_the_period_lock_date_is_refused(api, xero):
    org = api.get_organisations(xero.tenant_id).organisations[0]
    assert org.period_lock_date is None
    xero.admin.set_lock_dates(xero.tenant_id, "2026-09-30")
    try:
        assert api.get_organisations(xero.tenant_id).organisations[0].period_lock_date == dt.date(2026, 9, 30)
        with pytest.raises(AccountingBadRequestException) as refused:
            api.create_invoices(xero.tenant_id, Invoices(invoices=[_invoice("SDK-7", day=dt.date(2026, 9, 30))]))
        assert "cannot be before the period lock date, currently set at 30-Sep-2026" in refused.value.body.decode()
        [draft] = _create(api, xero, _draft("SDK-8"))
        assert draft.status == "DRAFT" and not draft.has_errors          # drafts may sit in a locked period
    finally:
        xero.admin.set_lock_dates(xero.tenant_id, None)


def _draft(number: str) -> Invoice:
    invoice = _invoice(number)
    invoice.status = "DRAFT"
    return invoice


def test_a_throttled_call_says_which_limit_and_when_to_come_back(api, xero):
    # (a POST: urllib3 under the SDK would itself wait out Retry-After and repeat an idempotent GET or PUT)
    xero.admin.set_faults(throttle_next=1)
    with pytest.raises(RateLimitException) as throttled:
        api.update_or_create_invoices(xero.tenant_id, Invoices(invoices=[_invoice("SDK-T1")]))
    assert throttled.value.rate_limit == "minute" and throttled.value.headers["Retry-After"] == "60"
    assert "SDK-T1" not in [i["InvoiceNumber"] for i in xero.admin.dump(xero.tenant_id, "Invoices")]
    assert api.get_invoices(xero.tenant_id, page=1).invoices          # the next call is answered


def test_invoices_come_in_pages_with_their_lines(api, xero):
    _create(api, xero, _invoice("SDK-P1"), _invoice("SDK-P2"), _invoice("SDK-P3"))
    where = 'Contact.Name=="Paging, P"'
    _create(api, xero, *[_invoice(f"SDK-Q{n}", contact="Paging, P") for n in range(3)])
    first = api.get_invoices(xero.tenant_id, where=where, page=1, page_size=2)
    second = api.get_invoices(xero.tenant_id, where=where, page=2, page_size=2)
    assert [len(first.invoices), len(second.invoices)] == [2, 1]
    assert first.pagination.item_count == 3 and first.pagination.page_count == 2
    assert first.invoices[0].line_items and first.invoices[0].line_items[0].tax_amount == Decimal("8.25")
    summary = api.get_invoices(xero.tenant_id, where=where)                # no page: no lines
    assert len(summary.invoices) == 3 and not summary.invoices[0].line_items
