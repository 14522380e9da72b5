"""Sage Business Cloud Accounting: what the adapter promises beyond the platform scenario. Sage publishes no
Python SDK (PyPI has only an unofficial 2017 client of the retired v1 API), so its wire is driven by the
adapter and by plain HTTP here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from bridge_assets.destinations.base import Status
from bridge_assets.destinations.sage.adapter import SageDestination
from bridge_assets.sandbox import sage as sandbox
from bridge_assets.sandbox.sage import EmulatorHandle

from .cloud_documents import connected, create, document, running


@pytest.fixture(scope="module")
def sage(tmp_path_factory) -> Iterator[EmulatorHandle]:
    yield from running(sandbox, tmp_path_factory.mktemp("sage"))


@pytest.fixture
def destination(sage: EmulatorHandle, tmp_path: Path) -> Iterator[SageDestination]:
    yield from connected(sage, SageDestination, tmp_path)


def invoices(sage: EmulatorHandle) -> list[dict]:
    return sage.admin.documents("sales_invoices")


def test_a_create_sent_again_is_answered_from_its_idempotency_id_and_the_tax_goes_as_billed(
        sage: EmulatorHandle, destination: SageDestination):
    invoice = document("S-1", lines=(("RMR-MON", "1", "29.95", "2.10"), ("LAB", "1.5", "85", "0.00")))
    first, again = destination.post([create("sage", invoice)]) + destination.post([create("sage", invoice)])
    assert first.status is Status.CREATED and again.dest_id == first.dest_id
    [held] = invoices(sage)
    assert held["reference"] == "S-1" and Decimal(str(held["total_amount"])) == Decimal("159.55")
    assert [line["tax_rate"]["id"] for line in held["invoice_lines"]] == ["US_SALES_TAX", "US_NO_TAX"]
    posts = [r for r in sage.admin.journal() if r["method"] == "POST" and r["path"].endswith("/sales_invoices")]
    assert len(posts) == 2 and all(r["status"] == 201 for r in posts)        # the second answered from the first


def test_five_minute_tokens_are_refreshed_and_each_spent_refresh_token_dies(sage: EmulatorHandle,
                                                                          destination: SageDestination,
                                                                          tmp_path: Path):
    configured = sage.admin.mint_tokens()["refresh_token"]
    adapter = SageDestination.from_env(None, sage.client_environment(configured, tmp_path / "rotating.json"))
    try:
        adapter.post([create("sage", document("T-1"))])
        sage.admin.expire_tokens()                     # five minutes pass
        assert adapter.post([create("sage", document("T-2"))])[0].status is Status.CREATED
        assert adapter.session.refreshes == 2
    finally:
        adapter.close()
    spent = httpx.post(f"{sage.base_url}/token", data={"grant_type": "refresh_token", "refresh_token": configured,
                                                       "client_id": sage.client_id,
                                                       "client_secret": sage.settings.clients[sage.client_id]})
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"


def test_a_credit_is_allocated_once_and_one_receipt_pays_two_invoices_the_rest_on_account(
        sage: EmulatorHandle, destination: SageDestination):
    destination.post([create("sage", document("A-1", lines=(("RMR", "1", "80.00", "0.00"),))),
                      create("sage", document("A-2"))])
    credit = document("CN-1", doc_type="credit_memo", lines=(("RMR", "1", "20.00", "0.00"),), applies=(("A-1", "20"),))
    [made] = destination.post([create("sage", credit)])
    destination.post([create("sage", credit)])                        # replayed: allocated once still
    assert len(sage.admin.documents("contact_allocations")) == 1
    receipt = document("R-1", doc_type="payment", applies=(("A-1", "60"), ("A-2", "29.95")), total="100.00")
    [paid] = destination.post([create("sage", receipt)])
    assert paid.status is Status.CREATED
    [held] = sage.admin.documents("contact_payments")
    assert Decimal(str(held["payment_on_account"]["total_amount"])) == Decimal("10.05")
    assert {i["reference"]: i["status"]["id"] for i in invoices(sage)} == {"A-1": "PAID", "A-2": "PAID"}
    voided = destination.void_or_delete("credit_memo", made.dest_id, None)      # its allocation goes first
    assert voided.status is Status.VOIDED and sage.admin.documents("contact_allocations") == []


def test_the_lockdown_date_closes_the_books_through_it(sage: EmulatorHandle, destination: SageDestination):
    sage.admin.set_lock_date("2026-09-01")
    destination.begin_run("run", "2026-09")
    assert destination.book_close_date() == dt.date(2026, 9, 1)
    held, posted = destination.post([create("sage", document("L-1")),
                                     create("sage", document("L-2", date=dt.date(2026, 9, 2)))])
    assert held.status is Status.HELD and posted.status is Status.CREATED
    sage.admin.set_lock_date("2026-09-05")                             # moved during the run: Sage refuses
    [refused] = destination.post([create("sage", document("L-3", date=dt.date(2026, 9, 3)))])
    assert refused.status is Status.HELD and "lockdown" in refused.message
    sage.admin.set_lock_date(None)


def test_a_page_past_the_end_answers_the_last_page_so_the_reader_follows_next(sage: EmulatorHandle,
                                                                             destination: SageDestination):
    destination.post([create("sage", document(f"P-{n}")) for n in range(3)])
    token = sage.admin.mint_tokens()["access_token"]
    past = httpx.get(f"{sage.base_url}/v3.1/sales_invoices", params={"page": 9, "items_per_page": 2},
                     headers={"Authorization": f"Bearer {token}"}).json()
    assert past["$page"] == 2 and past["$next"] is None and len(past["$items"]) == 1
    assert sorted(d.doc_number for d in destination.read_back()) == ["P-0", "P-1", "P-2"]
