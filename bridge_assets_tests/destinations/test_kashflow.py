"""KashFlow: its SOAP API as a SOAP client drives it (`zeep`, the WSDL loaded from the emulator), the bridge's
own envelopes taken the same way, the emulator refusing what KashFlow refuses, the adapter's failure paths, and
10 SIGKILL trials while posting a period.

One emulator (a real server on loopback) for the module; a fresh account per test.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Iterator

import pytest
import zeep
from zeep.exceptions import Fault

from bridge_assets.destinations.base import Action, DestinationError, PostRequest, Status
from bridge_assets.destinations.kashflow.adapter import KashFlowDestination
from bridge_assets.sandbox.kashflow import bridge_environment, run_emulator

from .crash_trials import CrashTarget, crash_forkserver, make_template, run_crash_trials
from .small_ledgers import adapter_from, create, one_line_invoice


@pytest.fixture(scope="module")
def kashflow(tmp_path_factory):
    with run_emulator(tmp_path_factory.mktemp("kf") / "kf.sqlite3") as handle:
        yield handle


@pytest.fixture
def environment(kashflow) -> dict[str, str]:
    return bridge_environment(kashflow)


@pytest.fixture
def destination(environment) -> Iterator[KashFlowDestination]:
    yield from adapter_from(KashFlowDestination, environment)


invoice = functools.partial(one_line_invoice, customer='Smith & Sons <Ltd>', currency="GBP")


def test_zeep_reads_the_wsdl_and_sees_what_the_bridge_posted(destination, kashflow, environment):
    destination.post([create(invoice("1001", amount="127.50", tax="9.52"))])
    client = zeep.Client(kashflow.service_url + "?WSDL")
    user, password = environment["KASHFLOW_USERNAME"], environment["KASHFLOW_PASSWORD"]
    held = client.service.GetInvoice(UserName=user, Password=password, InvoiceNumber=1001)
    assert held.Status == "OK" and (held.GetInvoiceResult.NetAmount, held.GetInvoiceResult.VatAmount) == (
        Decimal("127.50"), Decimal("9.52"))
    customer = client.service.GetCustomer(UserName=user, Password=password, CustomerCode="C001")
    assert customer.GetCustomerResult.Name == "Smith & Sons <Ltd>"           # escaped on the wire, intact
    again = client.service.InsertCustomer(UserName=user, Password=password,
                                          custr={"CustomerID": 0, "Code": "c001", "Name": "Other"})
    assert again.Status == "NO" and "already in use" in again.StatusDetail
    with pytest.raises(Fault, match="Invalid username or password"):
        client.service.GetInvoice(UserName=user, Password="guess", InvoiceNumber=1001)


def test_wrong_credentials_name_the_settings_and_never_the_password(kashflow, environment):
    adapter = KashFlowDestination.from_env(environ={**environment, "KASHFLOW_PASSWORD": "guess-9"})
    with pytest.raises(DestinationError, match="KASHFLOW_PASSWORD") as refused:
        adapter.post([create(invoice())])
    assert "guess-9" not in str(refused.value)
    adapter.close()


def test_a_number_kashflow_cannot_hold_is_refused_with_what_to_do(destination):
    [outcome] = destination.post([create(invoice("ST-1001"))])
    assert outcome.error_code == "invalid_reference" and "whole numbers" in outcome.message
    assert destination.resolve_references([invoice("0042")])


def test_a_change_replaces_the_invoice_and_a_lost_answer_is_not_posted_twice(destination, kashflow, environment):
    destination.post([create(invoice("1001"))])
    kashflow.admin.set_faults(fail_next=[503])          # a gateway error: the bridge tries again
    [updated] = destination.post([PostRequest(Action.UPDATE, invoice("1001", amount="39.95"), "u", dest_id="1001")])
    kashflow.admin.clear_faults()
    assert updated.status is Status.UPDATED
    again = KashFlowDestination.from_env(environ=environment)          # the next run sends the create again
    [outcome] = again.post([create(invoice("1001", amount="39.95"))])
    again.close()
    assert outcome.status is Status.CREATED
    assert [i["Gross"] for i in kashflow.admin.invoices(environment["KASHFLOW_USERNAME"])] == ["39.95"]
    [clash] = destination.post([create(invoice("1001", customer="Jones, K", key="C002"))])
    assert clash.error_code == "number_in_use" and "renumber" in clash.message


def test_credits_payments_and_voids_are_left_to_a_person(destination):
    [credit] = destination.post([create(invoice("5001", doc_type="credit_memo"))])
    assert credit.error_code == "payment_unsupported" and "credit notes" in credit.message
    void = destination.void_or_delete("invoice", "1001", None)
    assert void.error_code == "void_unsupported" and "invoice 1001" in void.message


def test_ten_kills_while_posting_leave_every_invoice_in_kashflow_exactly_once(kashflow, tmp_path):
    target = CrashTarget(name="kashflow", fresh_books=lambda folder: bridge_environment(kashflow),
                         held=lambda env: [("invoice", str(i["InvoiceNumber"]), str(i["InvoiceNumber"]))
                                           for i in kashflow.admin.invoices(env["KASHFLOW_USERNAME"])])
    figures = run_crash_trials(target, crash_forkserver("bridge_assets.destinations.kashflow.adapter"),
                               make_template(tmp_path / "template"), tmp_path, trials=10)
    assert figures.trials == 10 and figures.killed_mid_run >= 5, figures
