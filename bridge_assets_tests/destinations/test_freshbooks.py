"""FreshBooks: the official SDK (`freshbooks-sdk`, unmodified) against the emulator, and what the bridge's
adapter promises beyond the platform scenario: single-use refresh tokens never lost, tax carried as the
percentage that gives the source's amount (or refused), credits applied once, a payment of several
invoices left to a person, a lost answer adopted instead of duplicated; and FreshBooks' webhook handshake
and signature, which the bridge's check (`payloads.delivery_signed`) accepts and a forgery fails."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl

import httpx
import pytest
from freshbooks import Client as FreshBooksClient
from freshbooks import FilterBuilder, IncludesBuilder
from freshbooks.errors import FreshBooksError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge_assets.destinations.base import BY_HAND_CODES, Status
from bridge_assets.destinations.freshbooks import payloads
from bridge_assets.destinations.freshbooks.adapter import FreshbooksDestination
from bridge_assets.sandbox import freshbooks as sandbox
from bridge_assets.sandbox.freshbooks import EmulatorHandle

from .cloud_documents import connected, create, document, running, update
from .loopback import serving

REDIRECT = "https://bridge.example.invalid/freshbooks/callback"


@pytest.fixture(scope="module")
def freshbooks(tmp_path_factory) -> Iterator[EmulatorHandle]:
    yield from running(sandbox, tmp_path_factory.mktemp("freshbooks"))


@pytest.fixture
def destination(freshbooks: EmulatorHandle, tmp_path: Path) -> Iterator[FreshbooksDestination]:
    yield from connected(freshbooks, FreshbooksDestination, tmp_path)


def test_the_official_sdk_refreshes_once_and_posts_reads_and_deletes(freshbooks: EmulatorHandle, monkeypatch):
    freshbooks.admin.reset()
    monkeypatch.setenv("FRESHBOOKS_API_URL", freshbooks.base_url)
    first = freshbooks.admin.mint_tokens()["refresh_token"]
    sdk = FreshBooksClient(client_id=freshbooks.client_id, client_secret=freshbooks.settings.clients[freshbooks.client_id],
                           redirect_uri=REDIRECT, refresh_token=first)
    issued = sdk.refresh_access_token()
    assert issued.refresh_token != first and issued.access_token_expires_at is not None
    with pytest.raises(FreshBooksError):          # single use: the first refresh token is spent
        sdk.refresh_access_token(first)
    account = sdk.current_user().data["business_memberships"][0]["business"]["account_id"]
    assert account == freshbooks.settings.account_id

    client = sdk.clients.create(account, {"organization": "Jones, K"})
    invoice = sdk.invoices.create(account, {"customerid": client.id, "create_date": "2026-09-01",
                                            "invoice_number": "SDK-1", "lines": [
                                                {"type": 0, "name": "RMR", "qty": 1, "unit_cost": {"amount": "100.00"},
                                                 "taxName1": "Sales Tax", "taxAmount1": "7.5"}]})
    assert invoice.amount.amount == "107.50" and invoice.v3_status == "draft"
    with pytest.raises(FreshBooksError) as taken:
        sdk.invoices.create(account, {"customerid": client.id, "create_date": "2026-09-01", "invoice_number": "SDK-1",
                                      "lines": [{"name": "RMR", "qty": 1, "unit_cost": {"amount": "1.00"}}]})
    assert taken.value.error_code == 1004 and taken.value.status_code == 422
    read = sdk.invoices.get(account, invoice.id, includes=IncludesBuilder().include("lines"))
    assert read.data["lines"][0]["amount"]["amount"] == "100.00"
    found = sdk.invoices.list(account, builders=[FilterBuilder().equals("invoice_number", "SDK-1")])
    assert [i.id for i in found] == [invoice.id] and found.pages.total == 1
    sdk.invoices.update(account, invoice.id, {"action_mark_as_sent": True})
    payment = sdk.payments.create(account, {"invoiceid": invoice.id, "amount": {"amount": "50.00"},
                                            "date": "2026-09-05", "type": "Check"})
    assert sdk.invoices.get(account, invoice.id).v3_status == "partial"
    with pytest.raises(FreshBooksError) as paid:                 # a paid invoice is not deleted from under it
        sdk.invoices.delete(account, invoice.id)
    assert paid.value.error_code == 1004
    sdk.payments.delete(account, payment.id)
    sdk.invoices.delete(account, invoice.id)
    assert list(sdk.invoices.list(account)) == []
    gone = sdk.invoices.list(account, builders=[FilterBuilder().equals("vis_state", 1)])
    assert [i.id for i in gone] == [invoice.id]


def test_a_single_use_refresh_token_is_saved_before_use_and_a_second_adapter_uses_the_saved_one(
        freshbooks: EmulatorHandle, destination: FreshbooksDestination, tmp_path: Path):
    configured = freshbooks.admin.mint_tokens()["refresh_token"]
    env = freshbooks.client_environment(configured, tmp_path / "shared.json")
    one, two = FreshbooksDestination.from_env(None, env), FreshbooksDestination.from_env(None, env)
    try:
        one.post([create("freshbooks", document("R-1"))])
        freshbooks.admin.expire_tokens()              # both must refresh now; the configured token is spent
        assert two.post([create("freshbooks", document("R-2"))])[0].status is Status.CREATED
        assert one.post([create("freshbooks", document("R-3"))])[0].status is Status.CREATED
    finally:
        one.close(), two.close()
    spent = httpx.post(f"{freshbooks.base_url}/auth/oauth/token",
                       json={"grant_type": "refresh_token", "refresh_token": configured, "client_id": freshbooks.client_id,
                             "client_secret": freshbooks.settings.clients[freshbooks.client_id]})
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
    assert configured not in (tmp_path / "shared.json").read_text()


def test_tax_goes_as_the_percentage_that_gives_the_source_amount_or_the_document_is_refused(
        freshbooks: EmulatorHandle, destination: FreshbooksDestination):
    taxed = document("T-1", lines=(("LAB", "1.5", "85", "9.56"), ("PART", "2", "12.345", "1.85")))
    [outcome] = destination.post([create("freshbooks", taxed)])
    assert outcome.status is Status.CREATED and Decimal(outcome.after["total"]) == taxed.total
    [held] = [i for i in freshbooks.admin.documents("invoice") if i["invoice_number"] == "T-1"]
    assert held["tax"]["amount"] == "11.41" and held["v3_status"] == "sent"
    assert held["lines"][1]["qty"] == "1" and "2 x 12.345" in held["lines"][1]["description"]
    odd = document("T-2", lines=(("LAB", "1", "0.10", "0.07"),))     # 70 % of 0.10 is exactly 0.07
    impossible = document("T-3", lines=(("LAB", "1", "0.01", "0.50"),))
    outcomes = destination.post([create("freshbooks", odd), create("freshbooks", impossible)])
    assert outcomes[0].status is Status.CREATED
    assert outcomes[1].status is Status.FAILED and "percentage" in outcomes[1].message and "T-3" in outcomes[1].message
    assert "T-3" not in {i["invoice_number"] for i in freshbooks.admin.documents("invoice")}


def test_a_credit_is_applied_once_and_a_payment_of_two_invoices_is_left_to_a_person(
        freshbooks: EmulatorHandle, destination: FreshbooksDestination):
    destination.post([create("freshbooks", document("C-1", lines=(("RMR", "1", "80.00", "0.00"),))),
                      create("freshbooks", document("C-2"))])
    credit = document("CR-1", doc_type="credit_memo", lines=(("RMR", "1", "20.00", "0.00"),), applies=(("C-1", "20"),))
    [made] = destination.post([create("freshbooks", credit)])
    assert made.status is Status.CREATED
    assert destination.find("credit_memo", "CR-1").dest_id == made.dest_id      # found again: nothing applied twice
    [invoice] = [i for i in freshbooks.admin.documents("invoice") if i["invoice_number"] == "C-1"]
    assert invoice["outstanding"]["amount"] == "60.00"
    assert [p["type"] for p in freshbooks.admin.documents("payment")] == ["Credit"]

    paid = document("P-1", doc_type="payment", applies=(("C-1", "60"),), total="60.00")
    both = document("P-2", doc_type="payment", applies=(("C-1", "10"), ("C-2", "29.95")), total="39.95")
    one, two = destination.post([create("freshbooks", paid), create("freshbooks", both)])
    assert one.status is Status.CREATED and destination.find("payment", "P-1").dest_id == one.dest_id
    assert two.error_code == BY_HAND_CODES["links_payments"] and "C-2" in two.message and "one payment" in two.message
    [invoice] = [i for i in freshbooks.admin.documents("invoice") if i["invoice_number"] == "C-1"]
    assert invoice["v3_status"] == "paid"


def test_a_lost_answer_is_adopted_an_update_replaces_the_lines_and_a_taken_number_is_refused(
        freshbooks: EmulatorHandle, destination: FreshbooksDestination):
    first = document("L-1")
    [created] = destination.post([create("freshbooks", first)])
    [again] = destination.post([create("freshbooks", first)])       # as after a lost answer
    assert again.status is Status.CREATED and again.dest_id == created.dest_id
    assert [i["invoice_number"] for i in freshbooks.admin.documents("invoice")].count("L-1") == 1
    other = document("L-1", customer="Someone Else", lines=(("X", "1", "5.00", "0.00"),))
    [refused] = destination.post([create("freshbooks", other)])
    assert refused.status is Status.FAILED and "already holds" in refused.message

    changed = document("L-1", lines=(("RMR-MON", "1", "39.95", "0.00"), ("FEE", "1", "2.00", "0.00")))
    [updated] = destination.post([update("freshbooks", changed, created.dest_id, created.version)])
    assert updated.status is Status.UPDATED and updated.after["total"] == "41.95"
    assert updated.before["total"] == "29.95"
    restored = destination.restore("invoice", created.dest_id, updated.before)
    assert restored.status is Status.UPDATED and restored.after["total"] == "29.95"
    assert destination.restore("invoice", created.dest_id, updated.before).message == "already as it was"


def test_a_callback_is_verified_through_the_sdk_and_its_deliveries_carry_freshbooks_signature(
        freshbooks: EmulatorHandle, monkeypatch):
    freshbooks.admin.reset()
    received: list[tuple[list[tuple[str, str]], str | None]] = []

    async def hook(request: Request) -> Response:
        received.append((parse_qsl((await request.body()).decode("utf-8")),
                         request.headers.get("x-freshbooks-hmac-sha256")))
        return Response(status_code=200)

    monkeypatch.setenv("FRESHBOOKS_API_URL", freshbooks.base_url)
    sdk = FreshBooksClient(client_id=freshbooks.client_id, access_token=freshbooks.admin.mint_tokens()["access_token"])
    account = freshbooks.settings.account_id
    with serving(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as receiver:
        callback = sdk.callbacks.create(account, {"event": "invoice", "uri": f"{receiver}/hook"})
        verify = _wait_for(received, 1)
        assert dict(verify[0])["name"] == "callback.verify" and verify[1] is None
        assert not sdk.callbacks.get(account, callback.id).verified
        sdk.callbacks.verify(account, callback.id, dict(verify[0])["verifier"])
        client = sdk.clients.create(account, {"organization": "Lee, A"})
        sdk.invoices.create(account, {"customerid": client.id, "create_date": "2026-09-01", "invoice_number": "H-1",
                                      "lines": [{"name": "RMR", "qty": 1, "unit_cost": {"amount": "10.00"}}]})
        fields, signed = _wait_for(received, 2)
    verifier = dict(verify[0])["verifier"]
    assert dict(fields)["name"] == "invoice.create" and dict(fields)["account_id"] == account
    assert payloads.delivery_signed(verifier, dict(fields), signed)
    assert not payloads.delivery_signed(verifier, {**dict(fields), "object_id": "999"}, signed)
    assert not payloads.delivery_signed("another-verifier", dict(fields), signed)


def _wait_for(received: list, count: int, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(received) >= count, f"only {len(received)} deliveries arrived"
    return received[count - 1]
