"""Oracle Fusion Receivables: the emulator as Oracle documents the REST API (plain HTTP with Basic auth: PyPI has no
client for Fusion Financials REST), and the adapter against it: the narrow PATCH, corrections as the API allows,
voids as Incomplete, on-account credit memos, receipts applied and reversed, privileges, lost answers."""

from __future__ import annotations

import dataclasses
from typing import Iterator

import httpx
import pytest

from bridge_assets.destinations.base import Action, DestinationError, PostRequest, Status
from bridge_assets.destinations.oracle_fusion_receivables.adapter import OracleReceivablesDestination
from bridge_assets.sandbox.oracle_fusion_receivables import EmulatorHandle, EmulatorSettings, run_emulator
from bridge_assets_tests.destinations.erp_documents import create, document

USER, PASSWORD = "bridge.integration", "bridge-sandbox-password"
ROOT = "/fscmRestApi/resources/11.13.18.05"


@pytest.fixture(scope="module")
def ar(tmp_path_factory) -> Iterator[EmulatorHandle]:
    settings = EmulatorSettings(users={USER: {"password": PASSWORD, "privileges": [
        "AR_CREATE_RECEIVABLES_INVOICE_PRIV", "AR_CREATE_RECEIVABLES_TRANSACTION_PRIV", "AR_CREATE_RECEIPT_PRIV"]},
        "viewer": {"password": "viewer-pass", "privileges": []}})
    with run_emulator(tmp_path_factory.mktemp("ar") / "ar.sqlite3", settings) as handle:
        yield handle


@pytest.fixture
def books(ar: EmulatorHandle) -> Iterator[EmulatorHandle]:
    ar.admin.reset()
    ar.admin.add_customers([("C001", "Smith, J")])
    yield ar


@pytest.fixture
def adapter(books: EmulatorHandle) -> Iterator[OracleReceivablesDestination]:
    with OracleReceivablesDestination(url=books.base_url, user=USER, password=PASSWORD,
                                      business_unit=books.settings.business_unit) as made:
        yield made


def api(ar: EmulatorHandle, user: str = USER, password: str = PASSWORD) -> httpx.Client:
    return httpx.Client(base_url=ar.base_url + ROOT, auth=(user, password))


def invoice_body(number: str, price: float = 29.95, **extra) -> dict:
    return {"TransactionNumber": number, "TransactionDate": "2026-09-01", "BillToCustomerNumber": "C001",
            "BusinessUnit": "US1 Business Unit", "TransactionSource": "Manual-NES", "TransactionType": "Invoice",
            "receivablesInvoiceLines": [{"LineNumber": 1, "Description": "Monitoring", "Quantity": 1,
                                         "UnitSellingPrice": price}], **extra}


# --- the emulator, as the documentation describes the API ------------------------------------------------

def test_a_completed_invoice_changes_only_status_terms_and_date(books: EmulatorHandle):
    http = api(books)
    created = http.post("/receivablesInvoices", json=invoice_body("100"))
    assert created.status_code == 201 and created.json()["InvoiceStatus"] == "Complete"
    invoice = created.json()["CustomerTransactionId"]
    refused = http.patch(f"/receivablesInvoices/{invoice}", json={"Comments": "x"})
    assert refused.json()["o:errorDetails"][0]["o:errorCode"] == "AR_UPDATE_NOT_ALLOWED"
    assert http.delete(f"/receivablesInvoices/{invoice}").json()["o:errorDetails"][0]["o:errorCode"] == \
        "AR_DELETE_COMPLETE_TRX"
    assert http.patch(f"/receivablesInvoices/{invoice}", json={"InvoiceStatus": "Incomplete"}).status_code == 200
    assert http.delete(f"/receivablesInvoices/{invoice}").status_code == 204
    listed = http.get("/receivablesInvoices", params={"q": "TransactionNumber='100'", "totalResults": "true"}).json()
    assert listed["totalResults"] == 0 and listed["hasMore"] is False
    unknown = http.post("/receivablesInvoices", json={**invoice_body("101"), "BillToCustomerNumber": "C999"})
    assert unknown.json()["o:errorDetails"][0]["o:errorCode"] == "AR_BILL_TO_CUST_NOT_FOUND"


def test_receipts_apply_to_an_installment_and_privileges_and_periods_are_enforced(books: EmulatorHandle):
    http = api(books)
    invoice = http.post("/receivablesInvoices", json=invoice_body("200", 100.0)).json()["CustomerTransactionId"]
    schedule = http.get(f"/receivablesInvoices/{invoice}/child/receivablesInvoiceInstallments").json()["items"][0]
    receipt = http.post("/standardReceipts", json={"ReceiptNumber": "R1", "BusinessUnit": "US1 Business Unit",
                                                   "Amount": "120.00", "CustomerAccountNumber": "C001",
                                                   "ReceiptDate": "2026-09-05"}).json()
    applied = http.post(f"/standardReceipts/{receipt['StandardReceiptId']}/action/applyReceipt",
                        json={"appliedPaymentScheduleId": schedule["InstallmentId"]}).json()["result"]
    assert applied["UnappliedAmount"] == 20.0                 # without an amount: the open balance
    busy = http.patch(f"/receivablesInvoices/{invoice}", json={"InvoiceStatus": "Incomplete"})
    assert busy.json()["o:errorDetails"][0]["o:errorCode"] == "AR_TRX_HAS_ACTIVITY"
    assert api(books, "viewer", "viewer-pass").get("/receivablesInvoices").status_code == 403
    assert api(books, USER, "wrong").get("/receivablesInvoices").status_code == 401
    books.admin.close_periods("2026-09-30")
    closed = http.post("/receivablesInvoices", json=invoice_body("201"))
    assert closed.json()["o:errorDetails"][0]["o:errorCode"] == "AR_GL_DATE_CLOSED"


# --- the adapter -----------------------------------------------------------------------------------------

def test_an_update_is_incomplete_delete_and_reissue_and_a_void_is_incomplete(adapter, books):
    [created] = adapter.post([create(document("300"))])
    [updated] = adapter.post([PostRequest(Action.UPDATE, document("300", rate="39.95"), "rid-u",
                                          dest_id=created.dest_id)])
    assert updated.status is Status.UPDATED and updated.dest_id != created.dest_id
    assert updated.before["EnteredAmount"] == 29.95 and updated.after["correction"]["deleted"] == "300"
    assert [(r["TransactionNumber"], r["EnteredAmount"]) for r in books.admin.records("receivablesInvoices")] == \
        [("300", 39.95)]
    voided = adapter.void_or_delete("invoice", updated.dest_id, None)
    assert voided.status is Status.VOIDED and voided.after["InvoiceStatus"] == "Incomplete"
    assert "already incomplete" in adapter.void_or_delete("invoice", updated.dest_id, None).message
    assert [d.status for d in adapter.read_back()] == ["voided"]
    assert adapter.post([create(document("300", rate="41.00"))])[0].status is Status.CREATED   # current again


def test_credit_memos_are_on_account_and_receipts_pay_invoices_once(adapter, books):
    adapter.post([create(document("201", rate="100.00")), create(document("202", rate="50.00"))])
    [credit] = adapter.post([create(document("801", doc_type="credit_memo", rate="20.00", applies=(("201", "20"),)))])
    assert credit.status is Status.CREATED and "Manage Transactions > Apply" in credit.message
    payment = document("CHK-9", doc_type="payment", total="160.00", applies=(("201", "100"), ("202", "50")))
    assert adapter.post([create(payment)])[0].status is Status.CREATED
    assert adapter.post([create(payment)])[0].status is Status.CREATED           # found, not received twice
    [receipt] = books.admin.records("standardReceipts")
    assert receipt["UnappliedAmount"] == 10.0
    balances = {r["TransactionNumber"]: r["InvoiceBalanceAmount"] for r in books.admin.records("receivablesInvoices")}
    assert balances == {"201": 0.0, "202": 0.0}


def test_a_lost_answer_is_found_and_a_missing_customer_is_a_sentence(adapter, books):
    books.admin.set_faults(drop_next_writes=1, drop_entities=["receivablesInvoices"])
    [lost] = adapter.post([create(document("400"))])
    assert lost.status is Status.RETRY
    assert adapter.find("invoice", "400") is not None
    assert adapter.post([create(document("400"))])[0].status is Status.CREATED
    assert len(books.admin.records("receivablesInvoices")) == 1
    stranger = dataclasses.replace(document("401"), customer_key="C777").with_hash()
    [refused] = adapter.post([create(stranger)])
    assert refused.status is Status.FAILED and "create the account in Oracle" in refused.message


def test_a_refused_password_is_a_sentence_without_it(books: EmulatorHandle):
    with OracleReceivablesDestination(url=books.base_url, user=USER, password="pw-typo-55",
                                      business_unit=books.settings.business_unit) as wrong, \
            pytest.raises(DestinationError) as refused:
        wrong.post([create(document("700"))])
    assert "ORACLE_PASSWORD" in str(refused.value) and "pw-typo-55" not in str(refused.value)
