"""Zoho Books: what the adapter promises beyond the platform scenario. No official Zoho Books SDK is on PyPI
(the packages there are third-party and of unknown provenance), so the emulator's wire is driven by the
adapter and by plain HTTP here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from bridge_assets.destinations.base import Status
from bridge_assets.destinations.zoho_books.adapter import ZohoBooksDestination
from bridge_assets.sandbox import zoho_books as sandbox
from bridge_assets.sandbox.zoho_books import EmulatorHandle

from .cloud_documents import connected, create, document, running


@pytest.fixture(scope="module")
def zoho(tmp_path_factory) -> Iterator[EmulatorHandle]:
    yield from running(sandbox, tmp_path_factory.mktemp("zoho"))


@pytest.fixture
def destination(zoho: EmulatorHandle, tmp_path: Path) -> Iterator[ZohoBooksDestination]:
    yield from connected(zoho, ZohoBooksDestination, tmp_path)


def test_an_invoice_sent_twice_is_upserted_once_by_the_unique_field_and_marked_sent(
        zoho: EmulatorHandle, destination: ZohoBooksDestination):
    invoice = document("Z-1", lines=(("RMR-MON", "1", "29.95", "2.25"), ("LAB", "1.5", "85", "0.00")))
    first, again = destination.post([create("zoho_books", invoice)]) + destination.post([create("zoho_books", invoice)])
    assert first.status is Status.CREATED and again.status is Status.CREATED and again.dest_id == first.dest_id
    [held] = [i for i in zoho.admin.documents("invoice") if i["invoice_number"] == "Z-1"]
    assert held["status"] == "sent" and Decimal(str(held["total"])) == Decimal("159.70")
    assert Decimal(str(held["adjustment"])) == Decimal("2.25")
    assert {"api_name": "cf_bridge_key", "value": invoice.doc_key} in held["custom_fields"]
    assert sorted(i["name"] for i in zoho.admin.documents("item")) == ["LAB", "RMR-MON"]
    puts = [row for row in zoho.admin.journal() if row["method"] == "PUT" and row["path"].endswith("/invoices")]
    assert len(puts) == 2                               # both went by the upsert, no look-up needed


def test_one_payment_pays_two_invoices_and_a_credit_is_applied_once(zoho: EmulatorHandle,
                                                                    destination: ZohoBooksDestination):
    destination.post([create("zoho_books", document("A-1", lines=(("RMR", "1", "80.00", "0.00"),))),
                      create("zoho_books", document("A-2"))])
    credit = document("CN-1", doc_type="credit_memo", lines=(("RMR", "1", "20.00", "0.00"),), applies=(("A-1", "20"),))
    [made] = destination.post([create("zoho_books", credit)])
    [again] = destination.post([create("zoho_books", credit)])        # as after a lost answer: looked up, not redone
    assert made.status is Status.CREATED and again.dest_id == made.dest_id
    [applied] = zoho.admin.documents("creditnote")
    assert [Decimal(str(a["amount_applied"])) for a in applied["invoices"]] == [Decimal(20)]
    payment = document("PAY-1", doc_type="payment", applies=(("A-1", "60"), ("A-2", "29.95")), total="100.00")
    [paid] = destination.post([create("zoho_books", payment)])
    assert paid.status is Status.CREATED
    [held] = zoho.admin.documents("payment")
    assert [i["invoice_number"] for i in held["invoices"]] == ["A-1", "A-2"] and Decimal(str(held["unused_amount"])) == Decimal("10.05")
    assert {i["invoice_number"]: i["status"] for i in zoho.admin.documents("invoice")} == {"A-1": "paid", "A-2": "paid"}


def test_the_transaction_lock_holds_what_is_dated_before_it(zoho: EmulatorHandle, destination: ZohoBooksDestination):
    zoho.admin.set_lock_date("2026-09-02")                        # 1 September locked, the 2nd open
    destination.begin_run("run", "2026-09")
    assert destination.book_close_date() == dt.date(2026, 9, 1)
    locked, open_ = destination.post([create("zoho_books", document("L-1")),
                                      create("zoho_books", document("L-2", date=dt.date(2026, 9, 2)))])
    assert locked.status is Status.HELD and "closed through 2026-09-01" in locked.message
    assert open_.status is Status.CREATED
    zoho.admin.set_lock_date("2026-09-03")                        # moved while the run goes on: Zoho refuses
    [refused] = destination.post([create("zoho_books", document("L-3", date=dt.date(2026, 9, 2)))])
    assert refused.status is Status.HELD and "transaction lock" in refused.message
    zoho.admin.set_lock_date(None)


def test_organization_id_is_required_and_a_refresh_token_mints_ten_access_tokens_per_ten_minutes(
        zoho: EmulatorHandle):
    zoho.admin.reset()
    refresh = zoho.admin.mint_tokens()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": zoho.client_id,
            "client_secret": zoho.settings.clients[zoho.client_id]}
    answers = [httpx.post(f"{zoho.base_url}/oauth/v2/token", data=form) for _ in range(11)]
    assert [a.status_code for a in answers] == [200] * 10 + [400]
    assert "refresh_token" not in answers[0].json() and answers[10].json()["error"] == "Access Denied"
    token = {"Authorization": f"Zoho-oauthtoken {answers[0].json()['access_token']}"}
    missing = httpx.get(f"{zoho.base_url}/books/v3/invoices", headers=token)
    assert missing.status_code == 400 and missing.json()["code"] == 6041
    bearer = httpx.get(f"{zoho.base_url}/books/v3/invoices?organization_id={zoho.settings.organization_id}",
                       headers={"Authorization": f"Bearer {answers[0].json()['access_token']}"})
    assert bearer.status_code == 401
