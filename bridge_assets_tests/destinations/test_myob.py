"""MYOB: the community SDK `pymyob` (unmodified) against the emulator, and what the bridge's adapter promises
beyond the platform scenario. pymyob has no base-URL setting; it is pointed at the emulator through the
standard proxy and CA settings of `requests` (tls_relay.py): it still believes it talks to api.myob.com."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest
from myob import Myob
from myob.credentials import PartnerCredentials
from myob.exceptions import MyobConflict, MyobRateLimitExceeded

from bridge_assets.destinations.base import BY_HAND_CODES, Status
from bridge_assets.destinations.myob.adapter import MyobDestination
from bridge_assets.sandbox import myob as sandbox
from bridge_assets.sandbox.myob import EmulatorHandle

from .cloud_documents import connected, create, document, running, update
from .tls_relay import tls_relay


@pytest.fixture(scope="module")
def myob(tmp_path_factory) -> Iterator[EmulatorHandle]:
    yield from running(sandbox, tmp_path_factory.mktemp("myob"))


@pytest.fixture
def destination(myob: EmulatorHandle, tmp_path: Path) -> Iterator[MyobDestination]:
    yield from connected(myob, MyobDestination, tmp_path)


def test_pymyob_refreshes_creates_filters_updates_by_row_version_and_meets_the_403_rate_limit(
        myob: EmulatorHandle, tmp_path: Path, monkeypatch):
    myob.admin.reset()
    port = int(myob.base_url.rsplit(":", 1)[1])
    with tls_relay(("api.myob.com", "secure.myob.com"), port, tmp_path) as environment:
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        tokens = myob.admin.mint_tokens()
        credentials = PartnerCredentials(myob.client_id, myob.settings.clients[myob.client_id],
                                         "https://bridge.example.invalid/myob", business_id=myob.settings.company_file,
                                         verified=True, oauth_token=tokens["access_token"],
                                         refresh_token=tokens["refresh_token"],
                                         oauth_expires_at=dt.datetime.now() + dt.timedelta(minutes=20))
        credentials.refresh()                                      # rotated: the old refresh token is dead now
        assert credentials.refresh_token != tokens["refresh_token"]
        api = Myob(credentials)
        customer = api.contacts.post_customer(data={"CompanyName": "Jones, K", "IsIndividual": False})
        ledger = {a["DisplayID"]: a["UID"] for a in api.general_ledger.account()["Items"]}
        codes = {c["Code"]: c["UID"] for c in api.general_ledger.taxcode()["Items"]}
        invoice = api.invoices.post_service(data={
            "Number": "SDK-1", "Date": "2026-09-01 00:00:00", "Customer": {"UID": customer["UID"]},
            "Lines": [{"Type": "Transaction", "Description": "Monitoring", "Total": 100.0,
                       "Account": {"UID": ledger["4-1000"]}, "TaxCode": {"UID": codes["GST"]}}]})
        assert Decimal(str(invoice["TotalAmount"])) == Decimal("110.00") and invoice["Status"] == "Open"
        [found] = api.invoices.service(Number="SDK-1")["Items"]
        assert found["UID"] == invoice["UID"]
        stale = {**found, "RowVersion": "0"}
        with pytest.raises(MyobConflict):
            api.invoices.put_service(uid=found["UID"], data=stale)
        api.invoices.put_service(uid=found["UID"], data={**found, "JournalMemo": "changed"})
        payment = api.customer_payments.post(data={
            "DepositTo": "Account", "Account": {"UID": ledger["1-1110"]}, "Customer": {"UID": customer["UID"]},
            "Date": "2026-09-05 00:00:00", "AmountReceived": 110.0, "ReceiptNumber": "R-1",
            "Invoices": [{"UID": invoice["UID"], "AmountApplied": 110.0, "Type": "Invoice"}]})
        assert api.invoices.get_service(uid=invoice["UID"])["Status"] == "Closed"
        myob.admin.set_faults(fail_next=[403])
        with pytest.raises(MyobRateLimitExceeded):
            api.customer_payments.get(uid=payment["UID"])


def test_a_void_is_a_reversing_credit_settled_against_the_invoice_found_again_when_asked_twice(
        myob: EmulatorHandle, destination: MyobDestination):
    [made] = destination.post([create("myob", document("V-1", lines=(("RMR", "1", "100.00", "10.00"),)))])
    assert made.status is Status.CREATED
    first = destination.void_or_delete("invoice", made.dest_id, made.version)
    again = destination.void_or_delete("invoice", made.dest_id, made.version)
    assert first.status is Status.VOIDED and again.status is Status.VOIDED and again.message == "already voided or deleted"
    sales = myob.admin.documents("invoices")
    assert sorted(Decimal(str(s["TotalAmount"])) for s in sales) == [Decimal("-110.00"), Decimal("110.00")]
    assert len(myob.admin.documents("settlements")) == 1
    [read] = destination.read_back()
    assert read.doc_number == "V-1" and read.status == "voided"


def test_payments_apply_what_they_say_or_are_left_to_a_person_and_long_numbers_are_refused(
        myob: EmulatorHandle, destination: MyobDestination):
    destination.post([create("myob", document("A-1", lines=(("RMR", "1", "80.00", "0.00"),))),
                      create("myob", document("A-2"))])
    credit = document("CN-1", doc_type="credit_memo", lines=(("RMR", "1", "20.00", "0.00"),), applies=(("A-1", "20"),))
    [made] = destination.post([create("myob", credit)])
    assert destination.find("credit_memo", "CN-1").dest_id == made.dest_id       # found again: settled once
    assert len(myob.admin.documents("settlements")) == 1
    both = document("R-1", doc_type="payment", applies=(("A-1", "60"), ("A-2", "29.95")), total="89.95")
    extra = document("R-2", doc_type="payment", applies=(("A-2", "5"),), total="10.00")
    long = document("N-123456789012", lines=(("RMR", "1", "1.00", "0.00"),))
    paid, left, refused = destination.post([create("myob", both), create("myob", extra), create("myob", long)])
    assert paid.status is Status.CREATED
    assert left.error_code == BY_HAND_CODES["links_payments"] and "deposit" in left.message
    assert refused.status is Status.FAILED and "13 characters" in refused.message
    balances = {s["Number"]: Decimal(str(s["BalanceDueAmount"])) for s in myob.admin.documents("invoices")}
    assert balances["A-1"] == 0 and balances["A-2"] == 0


def test_an_update_sends_the_whole_invoice_with_its_row_version_and_tax_goes_by_the_matching_code(
        myob: EmulatorHandle, destination: MyobDestination):
    [made] = destination.post([create("myob", document("U-1", lines=(("RMR", "1", "50.00", "5.00"),)))])
    changed = document("U-1", lines=(("RMR", "1", "60.00", "6.00"), ("FEE", "1", "2.00", "0.00")))
    [updated] = destination.post([update("myob", changed, made.dest_id, made.version)])
    assert updated.status is Status.UPDATED and updated.after["total"] == "68.00" and updated.version != made.version
    [held] = myob.admin.documents("invoices")
    assert [line["Total"] for line in held["Lines"]] == [60.0, 2.0]
    odd = document("U-2", lines=(("RMR", "1", "50.00", "4.00"),))                 # 8 %: no MYOB code has that rate
    [refused] = destination.post([create("myob", odd)])
    assert refused.status is Status.FAILED and "tax code" in refused.message
