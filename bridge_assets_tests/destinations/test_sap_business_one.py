"""SAP Business One: the emulator driven by the PyPI Service Layer client `SAPB1SL` (unmodified, pointed at it by
its base URL, as at any Service Layer), and the adapter against it: sessions that time out, documents that post
on add and are corrected by Cancel, credit notes applied, payments, locked periods, lost answers."""

from __future__ import annotations

import datetime as dt
from typing import Iterator

import pytest
from SAPB1SL import AuthenticationError, SAPB1SL, SAPRequestError

from bridge_assets.destinations.base import Action, DestinationError, PostRequest, Status
from bridge_assets.destinations.sap_business_one.adapter import SapBusinessOneDestination
from bridge_assets.sandbox.sap_business_one import EmulatorHandle, EmulatorSettings, run_emulator
from bridge_assets_tests.destinations.erp_documents import create, document

USER, PASSWORD = "manager", "bridge-sandbox-password"


@pytest.fixture(scope="module")
def b1(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("b1") / "b1.sqlite3", EmulatorSettings(time_scale=60)) as handle:
        yield handle


@pytest.fixture
def books(b1: EmulatorHandle) -> Iterator[EmulatorHandle]:
    b1.admin.reset()
    yield b1


@pytest.fixture
def adapter(books: EmulatorHandle) -> Iterator[SapBusinessOneDestination]:
    with SapBusinessOneDestination(service_url=books.service_url, company_db=books.settings.company_db, user=USER,
                                   password=PASSWORD) as made:
        yield made


# --- the emulator, through a Service Layer client from PyPI ----------------------------------------------

def test_sapb1sl_logs_in_adds_an_invoice_and_logs_in_again_when_the_session_times_out(books: EmulatorHandle):
    with pytest.raises(AuthenticationError):
        SAPB1SL(books.service_url, USER, "wrong", books.settings.company_db)
    sl = SAPB1SL(books.service_url, USER, PASSWORD, books.settings.company_db)
    sl.post("BusinessPartners", {"CardCode": "C001", "CardName": "Smith, J"})
    sl.post("Items", {"ItemCode": "RMR-MON", "ItemName": "Monitoring"})
    invoice = sl.post("Invoices", {"CardCode": "C001", "DocDate": "2026-09-01", "NumAtCard": "100",
                                   "DocumentLines": [{"ItemCode": "RMR-MON", "Quantity": 2, "UnitPrice": 14.99}]})
    assert invoice["DocTotal"] == 29.98 and invoice["DocumentStatus"] == "bost_Open" and invoice["DocNum"] == 1001
    with pytest.raises(SAPRequestError) as duplicate:
        sl.post("BusinessPartners", {"CardCode": "C001", "CardName": "Again"})
    assert "-2035" in duplicate.value.message
    books.admin.expire_sessions()                        # idle past SessionTimeout: the client logs in again
    found = sl.get("Invoices", params={"$filter": "NumAtCard eq '100'"})["value"]
    assert [i["DocEntry"] for i in found] == [invoice["DocEntry"]]
    with pytest.raises(SAPRequestError) as posted:       # an added document keeps its posting fields
        sl.patch(f"Invoices({invoice['DocEntry']})", {"DocDate": "2026-09-02"})
    assert "-5002" in posted.value.message
    sl.logout()


def test_a_locked_period_refuses_with_4013_and_paging_follows_next_links(books: EmulatorHandle):
    sl = SAPB1SL(books.service_url, USER, PASSWORD, books.settings.company_db)
    sl.post("BusinessPartners", {"CardCode": "C001", "CardName": "Smith, J"})
    sl.post("Items", {"ItemCode": "RMR-MON", "ItemName": "Monitoring"})
    books.admin.lock_periods("2026-09-30")
    with pytest.raises(SAPRequestError) as locked:
        sl.post("Invoices", {"CardCode": "C001", "DocDate": "2026-09-01",
                             "DocumentLines": [{"ItemCode": "RMR-MON", "UnitPrice": 5}]})
    assert "-4013" in locked.value.message and "Posting period locked" in locked.value.message
    first = sl.get("FinancePeriods")
    assert len(first["value"]) == 20 and first["odata.nextLink"].startswith("FinancePeriods?")
    assert len(sl.get(first["odata.nextLink"])["value"]) == 4


# --- the adapter -----------------------------------------------------------------------------------------

def test_a_credit_is_applied_by_a_netting_payment_and_a_payment_pays_two_invoices(adapter, books):
    outcomes = adapter.post([create(document("201", rate="100.00")), create(document("202", rate="50.00")),
                             create(document("801", doc_type="credit_memo", rate="20.00", applies=(("201", "20"),)))])
    assert [o.status for o in outcomes] == [Status.CREATED] * 3
    payment = document("CHK-9", doc_type="payment", total="150.00", applies=(("201", "80"), ("202", "50")))
    assert adapter.post([create(payment)])[0].status is Status.CREATED
    assert adapter.post([create(payment)])[0].status is Status.CREATED            # found again, not paid twice
    invoices = {r["NumAtCard"]: (r["PaidToDate"], r["DocumentStatus"]) for r in books.admin.records("Invoices")}
    assert invoices == {"201": (100.0, "bost_Close"), "202": (50.0, "bost_Close")}
    assert len(books.admin.records("IncomingPayments")) == 2                       # the netting one, the payment


def test_an_update_cancels_and_reissues_and_a_lost_answer_is_found_not_doubled(adapter, books):
    [created] = adapter.post([create(document("300"))])
    [updated] = adapter.post([PostRequest(Action.UPDATE, document("300", rate="39.95"), "rid-u",
                                          dest_id=created.dest_id)])
    assert updated.status is Status.UPDATED and updated.dest_id != created.dest_id
    assert updated.after["correction"]["cancelled"] == created.after["DocNum"] and "re-issued" in updated.message
    books.admin.set_faults(drop_next_writes=1, drop_entities=["Invoices"])
    [lost] = adapter.post([create(document("301"))])
    assert lost.status is Status.RETRY
    assert adapter.post([create(document("301"))])[0].status is Status.CREATED
    live = [r["NumAtCard"] for r in books.admin.records("Invoices") if r["Cancelled"] == "tNO"
            and r["CancelStatus"] == "csNo"]
    assert sorted(live) == ["300", "301"]


def test_locked_periods_hold_and_a_void_is_a_cancel_recognised_when_asked_again(adapter, books):
    books.admin.lock_periods("2026-09-30")
    assert adapter.book_close_date() == dt.date(2026, 9, 30)
    [held] = adapter.post([create(document("500"))])
    assert held.status is Status.HELD and "locked through 09/30/2026" in held.message
    books.admin.lock_periods(None)
    [created] = adapter.post([create(document("500"))])
    assert adapter.void_or_delete("invoice", created.dest_id, None).status is Status.VOIDED
    again = adapter.void_or_delete("invoice", created.dest_id, None)
    assert again.status is Status.VOIDED and "already cancelled" in again.message
    assert {d.status for d in adapter.read_back()} == {"voided"}       # the invoice and its cancellation


def test_a_timed_out_session_is_renewed_once_and_a_refused_login_names_the_settings(adapter, books):
    adapter.post([create(document("600"))])
    books.admin.expire_sessions()
    assert adapter.post([create(document("601"))])[0].status is Status.CREATED
    assert adapter.client.session.logins == 2
    with SapBusinessOneDestination(service_url=books.service_url, company_db=books.settings.company_db, user=USER,
                                   password="secret-typo-31") as wrong, pytest.raises(DestinationError) as refused:
        wrong.post([create(document("602"))])
    assert "SAPB1_PASSWORD" in str(refused.value) and "secret-typo-31" not in str(refused.value)
