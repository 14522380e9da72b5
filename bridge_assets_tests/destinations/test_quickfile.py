"""QuickFile: the bridge's calls as QuickFile's v1.2 JSON API takes them (no SDK on PyPI: plain HTTP in the
`payload` envelope with the MD5-signed header), the emulator refusing what QuickFile refuses, the adapter's
failure paths, and 10 SIGKILL trials while posting a period.

One emulator (a real server on loopback) for the module; a fresh account per test.
"""

from __future__ import annotations

import hashlib
from typing import Iterator, Mapping

import httpx
import pytest

from bridge_assets.destinations.base import Action, DestinationError, PostRequest, Status
from bridge_assets.destinations.quickfile.adapter import QuickFileDestination
from bridge_assets.sandbox.quickfile import EmulatorSettings, bridge_environment, run_emulator

from .crash_trials import CrashTarget, crash_forkserver, make_template, run_crash_trials
from .small_ledgers import adapter_from, create, one_line_invoice


@pytest.fixture(scope="module")
def quickfile(tmp_path_factory):
    with run_emulator(tmp_path_factory.mktemp("qf") / "qf.sqlite3", EmulatorSettings(time_scale=600)) as handle:
        yield handle


@pytest.fixture
def environment(quickfile) -> dict[str, str]:
    return bridge_environment(quickfile)


@pytest.fixture
def destination(environment) -> Iterator[QuickFileDestination]:
    yield from adapter_from(QuickFileDestination, environment)


invoice = one_line_invoice


def signed(env: Mapping[str, str], submission: str, *, key: str | None = None) -> dict:
    md5 = hashlib.md5(f"{env['QUICKFILE_ACCOUNT_NUMBER']}{key or env['QUICKFILE_API_KEY']}{submission}".encode())
    return {"MessageType": "Request", "SubmissionNumber": submission,
            "Authentication": {"AccNumber": env["QUICKFILE_ACCOUNT_NUMBER"], "MD5Value": md5.hexdigest(),
                               "ApplicationID": env["QUICKFILE_APPLICATION_ID"]}}


# --- the wire -----------------------------------------------------------------------------------------------


def test_the_md5_signed_header_is_checked_and_a_submission_number_is_used_once(quickfile, environment):
    url = quickfile.api_url + "/1_2/client/search"
    body = {"SearchParameters": {"ReturnCount": 10, "Offset": 0, "OrderResultsBy": "CompanyName", "OrderDirection": "ASC"}}
    first = httpx.post(url, json={"payload": {"Header": signed(environment, "s-1"), "Body": body}})
    assert first.status_code == 200 and first.json()["Client_Search"]["Body"]["RecordsetCount"] == 0
    again = httpx.post(url, json={"payload": {"Header": signed(environment, "s-1"), "Body": body}})
    assert again.status_code == 400 and "already been used" in again.json()["Errors"]["Error"][0]
    forged = httpx.post(url, json={"payload": {"Header": signed(environment, "s-2", key="guess"), "Body": body}})
    assert forged.status_code == 401
    bare = httpx.post(url, json={"Header": signed(environment, "s-3"), "Body": body})
    assert bare.status_code == 400 and "payload" in bare.json()["Errors"]["Error"][0]


def test_an_app_whose_manifest_lacks_a_method_is_told_which_setting_to_fix(quickfile):
    env = bridge_environment(quickfile, manifest=["Client_Search", "Client_Create"])
    adapter = QuickFileDestination.from_env(environ=env)
    with pytest.raises(DestinationError, match="Invoice_Create") as refused:
        adapter.post([create(invoice())])
    assert "QUICKFILE_APPLICATION_ID" in str(refused.value) and env["QUICKFILE_API_KEY"] not in str(refused.value)
    adapter.close()


def test_missing_settings_name_the_variables():
    with pytest.raises(DestinationError, match="QUICKFILE_API_KEY, QUICKFILE_APPLICATION_ID"):
        QuickFileDestination.from_env(environ={"QUICKFILE_ACCOUNT_NUMBER": "1"})


# --- the adapter against the emulator --------------------------------------------------------------------


def test_an_invoice_keeps_the_sources_tax_and_a_change_replaces_it(destination, quickfile, environment):
    [created] = destination.post([create(invoice("1001", amount="127.50", tax="9.52"))])
    assert created.status is Status.CREATED and created.dest_doc_number == "1001"
    [held] = quickfile.admin.invoices(environment["QUICKFILE_ACCOUNT_NUMBER"])
    assert (held["Gross"], held["Vat"]) == ("137.02", "9.52")
    [updated] = destination.post([PostRequest(Action.UPDATE, invoice("1001", amount="39.95"), "u",
                                              dest_id=created.dest_id)])
    assert updated.status is Status.UPDATED and updated.dest_id == created.dest_id
    assert [i["Gross"] for i in quickfile.admin.invoices(environment["QUICKFILE_ACCOUNT_NUMBER"])] == ["39.95"]
    assert destination.find("invoice", "1001").dest_id == created.dest_id
    assert destination.find("invoice", "1002") is None


def test_a_503_is_retried_under_a_new_submission_number(destination, quickfile):
    quickfile.admin.set_faults(fail_next=[503, 503])
    [outcome] = destination.post([create(invoice())])
    quickfile.admin.clear_faults()
    assert outcome.status is Status.CREATED
    assert not any("already been used" in str(e) for e in quickfile.admin.journal() if e["status"] == 400)


def test_a_create_whose_answer_was_lost_is_recognised_by_its_number_not_made_twice(destination, quickfile, environment):
    destination.post([create(invoice("1001"))])
    again = QuickFileDestination.from_env(environ=environment)          # the next run sends the same again
    [outcome] = again.post([create(invoice("1001"))])
    again.close()
    assert outcome.status is Status.CREATED
    assert len(quickfile.admin.invoices(environment["QUICKFILE_ACCOUNT_NUMBER"])) == 1


def test_a_number_held_by_another_client_fails_with_what_to_do(destination, quickfile, environment):
    destination.post([create(invoice("1001", customer="Jones, K", key="C002"))])
    [outcome] = destination.post([create(invoice("1001"))])
    assert outcome.status is Status.FAILED and outcome.error_code == "number_in_use" and "renumber" in outcome.message


def test_credits_payments_and_voids_are_left_to_a_person_with_the_sentence(destination):
    [credit] = destination.post([create(invoice("5001", doc_type="credit_memo"))])
    assert credit.error_code == "payment_unsupported" and "credit note" in credit.message
    [posted] = destination.post([create(invoice("1001"))])
    void = destination.void_or_delete("invoice", posted.dest_id, None)
    assert void.error_code == "void_unsupported" and "invoice 1001" in void.message and "Void" in void.message
    assert destination.capabilities.lacks("create", "payment") == "links_payments"


# --- SIGKILL while posting a period ------------------------------------------------------------------------


def test_ten_kills_while_posting_leave_every_invoice_in_quickfile_exactly_once(quickfile, tmp_path):
    target = CrashTarget(
        name="quickfile", fresh_books=lambda folder: bridge_environment(quickfile),
        held=lambda env: [("invoice", i["InvoiceNumber"], str(i["InvoiceID"]))
                          for i in quickfile.admin.invoices(env["QUICKFILE_ACCOUNT_NUMBER"]) if i["Status"] != "DELETED"])
    figures = run_crash_trials(target, crash_forkserver("bridge_assets.destinations.quickfile.adapter"),
                               make_template(tmp_path / "template"), tmp_path, trials=10)
    assert figures.trials == 10 and figures.killed_mid_run >= 5, figures
