"""Reckon One: the bridge's calls as the API v2 takes them (no SDK on PyPI: plain HTTP with the bearer token
and the APIM subscription key), the emulator refusing what Reckon refuses, the adapter's failure paths (a
create is never repeated blindly: `reference` is not unique), and 10 SIGKILL trials while posting a period.

One emulator (a real server on loopback) for the module; a fresh book per test.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from bridge_assets.destinations.base import Action, DestinationError, PostRequest, Status
from bridge_assets.destinations.reckon_one.adapter import ReckonOneDestination
from bridge_assets.sandbox.reckon_one import EmulatorSettings, bridge_environment, run_emulator

from .crash_trials import CrashTarget, crash_forkserver, make_template, run_crash_trials, store_live_tokens
from .small_ledgers import adapter_from, create, one_line_invoice


@pytest.fixture(scope="module")
def reckon(tmp_path_factory):
    with run_emulator(tmp_path_factory.mktemp("r1") / "r1.sqlite3", EmulatorSettings(time_scale=600)) as handle:
        yield handle


@pytest.fixture
def book(reckon) -> str:
    return reckon.admin.create_book()


@pytest.fixture
def environment(reckon, book, tmp_path) -> dict[str, str]:
    return bridge_environment(reckon, book, tmp_path / "tokens.json")


@pytest.fixture
def destination(environment) -> Iterator[ReckonOneDestination]:
    yield from adapter_from(ReckonOneDestination, environment)


invoice = functools.partial(one_line_invoice, customer="O'Brien & Sons, J", currency="AUD")


def test_every_call_needs_the_subscription_key_and_a_token_for_that_book(reckon, book, environment):
    token = reckon.admin.mint_tokens(book)["access_token"]
    url = f"{reckon.api_url}/{book}/invoices"
    no_key = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert no_key.status_code == 401 and "subscription key" in no_key.json()["message"]
    keyed = {"Authorization": f"Bearer {token}", "Ocp-Apim-Subscription-Key": environment["RECKON_SUBSCRIPTION_KEY"]}
    assert httpx.get(url, headers=keyed).status_code == 200
    other = reckon.admin.create_book()
    assert httpx.get(f"{reckon.api_url}/{other}/invoices", headers=keyed).status_code == 403
    bad_filter = httpx.get(url, headers=keyed, params={"filter": "reference like '1%'"})
    assert bad_filter.status_code == 400 and bad_filter.json()["errors"][0]["location"] == "filter"


def test_a_wrong_book_is_a_setting_to_fix_named_without_secrets(reckon, environment):
    adapter = ReckonOneDestination.from_env(environ={**environment, "RECKON_BOOK_ID": reckon.admin.create_book()})
    with pytest.raises(DestinationError, match="RECKON_BOOK_ID") as refused:
        adapter.post([create(invoice())])
    assert environment["RECKON_SUBSCRIPTION_KEY"] not in str(refused.value)
    adapter.close()


def test_reckon_numbers_the_invoice_and_the_bridges_number_finds_it(destination, reckon, book):
    [created] = destination.post([create(invoice("1001", amount="127.50", tax="9.52"))])
    assert created.status is Status.CREATED
    [held] = reckon.admin.invoices(book)
    assert (held["reference"], held["amount"], held["taxAmount"]) == ("1001", "137.02", "9.52")
    assert held["invoiceNumber"] == created.dest_doc_number == "1"        # Reckon's own number
    assert destination.find("invoice", "1001").dest_id == created.dest_id
    [updated] = destination.post([PostRequest(Action.UPDATE, invoice("1001", amount="39.95"), "u",
                                              dest_id=created.dest_id)])
    assert updated.status is Status.UPDATED and [i["amount"] for i in reckon.admin.invoices(book)] == ["39.95"]


def test_a_create_is_not_repeated_blindly_but_a_429_is_waited_out(destination, reckon, book):
    reckon.admin.set_faults(fail_next=[503], methods=["POST"], paths=[f"/r1/v2/{book}/invoices"])
    [unknown] = destination.post([create(invoice("1001"))])
    assert unknown.status is Status.RETRY and reckon.admin.invoices(book) == []
    assert destination.find("invoice", "1001") is None                  # so the next run sends it again
    reckon.admin.set_faults(throttle_next=1)
    [created] = destination.post([create(invoice("1001"))])
    reckon.admin.clear_faults()
    assert created.status is Status.CREATED and len(reckon.admin.invoices(book)) == 1


def test_a_paid_invoice_credits_payments_and_voids_are_left_to_a_person(destination, reckon):
    [posted] = destination.post([create(invoice("1001"))])
    reckon.admin.mark_paid(posted.dest_id)
    [update] = destination.post([PostRequest(Action.UPDATE, invoice("1001", amount="39.95"), "u",
                                              dest_id=posted.dest_id)])
    assert update.error_code == "update_unsupported" and "paid invoice" in update.message
    [credit] = destination.post([create(invoice("5001", doc_type="credit_memo"))])
    assert credit.error_code == "payment_unsupported" and "credit notes" in credit.message
    void = destination.void_or_delete("invoice", posted.dest_id, None)
    assert void.error_code == "void_unsupported" and "reference 1001" in void.message


def test_ten_kills_while_posting_leave_every_invoice_in_reckon_exactly_once(reckon, tmp_path):
    def fresh_books(folder: Path) -> dict[str, str]:
        book = reckon.admin.create_book()
        tokens = reckon.admin.mint_tokens(book)
        store_live_tokens(folder / "tokens.json", tokens)
        return {**bridge_environment(reckon, book, folder / "tokens.json"), "RECKON_REFRESH_TOKEN": tokens["refresh_token"]}

    target = CrashTarget(name="reckon_one", fresh_books=fresh_books,
                         held=lambda env: [("invoice", i["reference"], i["id"])
                                           for i in reckon.admin.invoices(env["RECKON_BOOK_ID"])])
    figures = run_crash_trials(target, crash_forkserver("bridge_assets.destinations.reckon_one.adapter"),
                               make_template(tmp_path / "template"), tmp_path, trials=10)
    assert figures.trials == 10 and figures.killed_mid_run >= 5, figures
