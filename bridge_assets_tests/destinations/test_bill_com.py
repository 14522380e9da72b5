"""BILL: the bridge's calls as the AR API v3 takes them (no SDK on PyPI: plain HTTP with the devKey and session
headers), the emulator refusing what BILL refuses, the adapter's failure paths (a session that went idle is
renewed by signing in again; a create is never repeated blindly: numbers are not unique), and 10 SIGKILL trials
while posting a period.

One emulator (a real server on loopback) for the module; a fresh organization per test.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Iterator

import httpx
import pytest

from bridge_assets.destinations.base import DestinationError, Status
from bridge_assets.destinations.bill_com.adapter import BillDestination
from bridge_assets.sandbox.bill_com import EmulatorSettings, bridge_environment, run_emulator

from .crash_trials import CrashTarget, crash_forkserver, make_template, run_crash_trials
from .small_ledgers import adapter_from, create, one_line_invoice


@pytest.fixture(scope="module")
def bill(tmp_path_factory):
    with run_emulator(tmp_path_factory.mktemp("bill") / "bill.sqlite3", EmulatorSettings(time_scale=600)) as handle:
        yield handle


@pytest.fixture
def environment(bill) -> dict[str, str]:
    return bridge_environment(bill)


@pytest.fixture
def destination(environment) -> Iterator[BillDestination]:
    yield from adapter_from(BillDestination, environment)


invoice = functools.partial(one_line_invoice, customer='Acme "North"')


def test_a_session_is_needed_and_a_wrong_dev_key_is_refused_in_bills_error_shape(bill, environment):
    no_session = httpx.get(bill.api_url + "/invoices", headers={"devKey": environment["BILL_DEV_KEY"]})
    assert no_session.status_code == 401 and no_session.json()[0]["code"] == "BDC_1109"
    wrong = httpx.post(bill.api_url + "/login", headers={"devKey": "nope"}, json={})
    assert wrong.status_code == 401 and wrong.json()[0]["code"] == "BDC_1102"
    adapter = BillDestination.from_env(environ={**environment, "BILL_PASSWORD": "wrong"})
    with pytest.raises(DestinationError, match="BILL_PASSWORD") as refused:
        adapter.post([create(invoice())])
    assert "wrong" not in str(refused.value)
    adapter.close()


def test_an_invoice_carries_its_tax_as_a_line_and_is_read_back(destination, bill, environment):
    [created] = destination.post([create(invoice("1001", amount="127.50", tax="9.52"))])
    assert created.status is Status.CREATED and created.dest_id.startswith("00e")
    [held] = bill.admin.invoices(environment["BILL_ORGANIZATION_ID"])
    assert held["totalAmount"] == "137.02" and held["invoiceLineItems"][-1]["description"] == "Sales tax"
    [books] = destination.read_back()
    assert (books.doc_number, books.total, books.status) == ("1001", Decimal("137.02"), "active")


def test_an_idle_session_is_renewed_by_signing_in_again(destination, bill):
    destination.post([create(invoice("1001"))])
    bill.admin.expire_sessions()
    [outcome] = destination.post([create(invoice("1002"))])
    assert outcome.status is Status.CREATED and destination.client.session.logins == 2


def test_a_create_is_not_repeated_blindly_and_a_void_archives_once(destination, bill, environment):
    bill.admin.set_faults(fail_next=[502], methods=["POST"], paths=["/connect/v3/invoices"])
    [unknown] = destination.post([create(invoice("1001"))])
    bill.admin.clear_faults()
    assert unknown.status is Status.RETRY and bill.admin.invoices(environment["BILL_ORGANIZATION_ID"]) == []
    [created] = destination.post([create(invoice("1001"))])
    first = destination.void_or_delete("invoice", created.dest_id, None)
    again = destination.void_or_delete("invoice", created.dest_id, None)
    assert first.status is again.status is Status.VOIDED and again.version == first.version   # not written twice
    assert destination.find("invoice", "1001") is None                   # an archived invoice is not live
    assert destination.read_back()[0].status == "voided"


def test_credit_memos_and_payments_are_left_to_a_person(destination):
    [credit] = destination.post([create(invoice("5001", doc_type="credit_memo"))])
    assert credit.error_code == "payment_unsupported" and "whole balance" in credit.message
    assert destination.capabilities.lacks("create", "payment") == "links_payments"


def test_ten_kills_while_posting_leave_every_invoice_in_bill_exactly_once(bill, tmp_path):
    target = CrashTarget(name="bill_com", fresh_books=lambda folder: bridge_environment(bill),
                         held=lambda env: [("invoice", i["invoiceNumber"], i["id"])
                                           for i in bill.admin.invoices(env["BILL_ORGANIZATION_ID"])
                                           if not i["archived"]])
    figures = run_crash_trials(target, crash_forkserver("bridge_assets.destinations.bill_com.adapter"),
                               make_template(tmp_path / "template"), tmp_path, trials=10)
    assert figures.trials == 10 and figures.killed_mid_run >= 5, figures
