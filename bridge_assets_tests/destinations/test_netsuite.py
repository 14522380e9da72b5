"""NetSuite: the emulator as Oracle documents SuiteTalk REST (plain HTTP: the PyPI `netsuite` 0.12.0 SDK speaks
only token-based auth to a fixed host and pins httpx below the project's 0.29, so it cannot be pointed at an
emulator unmodified), and the adapter against it: eid: upserts, closed periods, credits and payments, voids by
credit, restores, lost answers, OAuth 2.0 tokens through the kit's store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from bridge_assets.destinations.base import Action, PostRequest, Status
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.netsuite.adapter import NetSuiteDestination
from bridge_assets.sandbox.netsuite import EmulatorHandle, EmulatorSettings, run_emulator
from bridge_assets_tests.destinations.erp_documents import create, document

CLIENT, SECRET = "bridge-sandbox-integration", "bridge-sandbox-integration-secret"


@pytest.fixture(scope="module")
def ns(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("ns") / "ns.sqlite3", EmulatorSettings(time_scale=60)) as handle:
        yield handle


@pytest.fixture
def books(ns: EmulatorHandle) -> Iterator[EmulatorHandle]:
    ns.admin.reset()
    yield ns


@pytest.fixture
def adapter(books: EmulatorHandle, tmp_path: Path) -> Iterator[NetSuiteDestination]:
    with NetSuiteDestination(account=books.settings.account, client_id=CLIENT, client_secret=SECRET,
                             token_store=tmp_path / "tokens.json", refresh_token=books.admin.mint_tokens()["refresh_token"],
                             base_url=books.base_url, token_url=books.token_url, limits=Limits(time_scale=60)) as made:
        yield made


def api(ns: EmulatorHandle) -> httpx.Client:
    token = ns.admin.mint_tokens()["access_token"]
    return httpx.Client(base_url=f"{ns.base_url}/services/rest/record/v1", headers={"Authorization": f"Bearer {token}"})


# --- the emulator, as the documentation describes the API ------------------------------------------------

def test_a_refresh_grant_keeps_the_refresh_token_and_no_token_is_invalid_login(books: EmulatorHandle):
    first = books.admin.mint_tokens()["refresh_token"]
    grant = {"grant_type": "refresh_token", "refresh_token": first}
    renewed = httpx.post(books.token_url, data=grant, auth=(CLIENT, SECRET))
    assert renewed.status_code == 200 and renewed.json()["refresh_token"] == first
    assert httpx.post(books.token_url, data=grant, auth=("someone-else", "x")).json()["error"] == "invalid_client"
    anonymous = httpx.get(f"{books.base_url}/services/rest/record/v1/invoice")
    assert anonymous.status_code == 401 and anonymous.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"


def test_eid_put_is_an_upsert_and_sublists_append_unless_replaced(books: EmulatorHandle):
    http = api(books)
    http.put("/customer/eid:C001", json={"companyName": "Smith, J"})
    http.put("/serviceSaleItem/eid:RMR", json={"itemId": "RMR"})
    body = {"tranId": "7", "entity": {"externalId": "C001"}, "tranDate": "2026-09-01",
            "item": {"items": [{"item": {"externalId": "RMR"}, "quantity": 1, "rate": 10}]}}
    first = http.put("/invoice/eid:inv-7", json=body)
    again = http.put("/invoice/eid:inv-7", json=body)
    assert first.status_code == again.status_code == 204 and first.headers["location"] == again.headers["location"]
    listed = http.get("/invoice", params={"q": 'tranId IS "7"'}).json()
    assert listed["totalResults"] == 1 and set(listed["items"][0]) == {"links", "id"}
    duplicate = http.post("/invoice", json={**body, "externalId": "inv-7", "tranId": "8"})
    assert duplicate.json()["o:errorDetails"][0]["o:errorCode"] == "DUP_RCRD"
    invoice_id = first.headers["location"].rsplit("/", 1)[1]
    line = {"item": {"items": [{"item": {"externalId": "RMR"}, "quantity": 1, "rate": 5}]}}
    http.patch(f"/invoice/{invoice_id}", json=line)                           # unkeyed: appended
    assert http.get(f"/invoice/{invoice_id}").json()["total"] == 15.0
    http.patch(f"/invoice/{invoice_id}", json=line, params={"replace": "item"})
    expanded = http.get(f"/invoice/{invoice_id}", params={"expandSubResources": "true"}).json()
    assert expanded["total"] == 5.0 and len(expanded["item"]["items"]) == 1
    assert "links" in http.get(f"/invoice/{invoice_id}").json()["item"]       # not expanded: a link


def test_a_closed_period_refuses_saves_and_a_transform_credits_the_invoice(books: EmulatorHandle):
    http = api(books)
    http.put("/customer/eid:C001", json={"companyName": "Smith, J"})
    http.put("/serviceSaleItem/eid:RMR", json={"itemId": "RMR"})
    body = {"entity": {"externalId": "C001"}, "tranDate": "2026-09-01",
            "item": {"items": [{"item": {"externalId": "RMR"}, "rate": 10}]}}
    books.admin.close_periods("2026-09-30")
    refused = http.post("/invoice", json=body)
    assert refused.status_code == 400 and "Sep 2026 is closed" in refused.json()["o:errorDetails"][0]["detail"]
    books.admin.close_periods(None)
    invoice = http.post("/invoice", json=body).headers["location"].rsplit("/", 1)[1]
    credit = http.post(f"/invoice/{invoice}/!transform/creditMemo", json={})
    assert credit.status_code == 204
    assert http.get(f"/invoice/{invoice}").json()["status"] == "Paid In Full"


# --- the adapter -----------------------------------------------------------------------------------------

def test_credits_and_a_payment_over_two_invoices_apply_once(adapter: NetSuiteDestination, books: EmulatorHandle):
    outcomes = adapter.post([create(document("201", rate="100.00")), create(document("202", rate="50.00")),
                             create(document("801", doc_type="credit_memo", rate="20.00", applies=(("201", "20"),)))])
    assert [o.status for o in outcomes] == [Status.CREATED] * 3
    payment = document("CHK-9", doc_type="payment", total="150.00", applies=(("201", "80"), ("202", "50")))
    assert adapter.post([create(payment)])[0].status is Status.CREATED
    assert adapter.post([create(payment)])[0].status is Status.CREATED        # the same external id: one payment
    [record] = books.admin.records("customerPayment")
    assert record["unapplied"] == 20.0
    assert {r["tranId"]: r["status"] for r in books.admin.records("invoice")} == {"201": "Paid In Full",
                                                                                  "202": "Paid In Full"}


def test_an_update_is_the_same_upsert_and_revert_restores_the_saved_state(adapter, books):
    [created] = adapter.post([create(document("300"))])
    [updated] = adapter.post([PostRequest(Action.UPDATE, document("300", rate="39.95"), "rid-u",
                                          dest_id=created.dest_id)])
    assert updated.status is Status.UPDATED and updated.dest_id == created.dest_id
    assert updated.before["total"] == 29.95 and updated.after["total"] == 39.95
    restored = adapter.restore("invoice", created.dest_id, updated.before)
    assert restored.status is Status.UPDATED and restored.after["total"] == 29.95
    assert adapter.restore("invoice", created.dest_id, updated.before).message.endswith("restored to")


def test_a_lost_answer_is_sent_again_to_the_same_external_id(adapter, books):
    adapter.post([create(document("400"))])
    books.admin.set_faults(drop_next_writes=1, drop_entities=["invoice"])
    [lost] = adapter.post([create(document("401"))])
    assert lost.status is Status.CREATED            # the kit retried the idempotent PUT after the dropped answer
    assert sorted(r["tranId"] for r in books.admin.records("invoice")) == ["400", "401"]


def test_a_closed_period_holds_and_a_void_credits_in_full_once(adapter, books):
    books.admin.close_periods("2026-09-30")
    assert adapter.book_close_date() == dt.date(2026, 9, 30)
    [held] = adapter.post([create(document("500"))])
    assert held.status is Status.HELD and "closed through 09/30/2026" in held.message
    books.admin.close_periods(None)
    [created] = adapter.post([create(document("500"))])
    voided = adapter.void_or_delete("invoice", created.dest_id, None)
    assert voided.status is Status.VOIDED and voided.after["credit_memo"]["total"] == 29.95
    assert "already credited" in adapter.void_or_delete("invoice", created.dest_id, None).message
    assert len(books.admin.records("creditMemo")) == 1
    assert {d.doc_type: d.status for d in adapter.read_back()} == {"invoice": "voided", "credit_memo": "voided"}


def test_the_refresh_token_is_kept_in_the_store_and_never_shown(adapter, books, tmp_path: Path):
    adapter.post([create(document("600"))])
    saved = json.loads((tmp_path / "tokens.json").read_text())
    assert saved["refresh_token"] and SECRET not in json.dumps(saved)
    assert saved["refresh_token"] not in repr(adapter.client.session)
