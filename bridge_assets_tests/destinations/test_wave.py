"""Wave: the bridge's GraphQL documents as a GraphQL client sends them (`gql`, its schema fetched from the
emulator by introspection and every document validated against it client-side), the emulator refusing what
its schema or Wave's rules refuse, the adapter's failure paths, and 10 SIGKILL trials while posting a period.

One emulator (a real server on loopback, 600x clock) for the module; a fresh business per test.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Iterator, Mapping

import httpx
import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.requests import RequestsHTTPTransport

from bridge_assets.destinations.base import Action, PostRequest, Status
from bridge_assets.destinations.wave import documents
from bridge_assets.destinations.wave.adapter import WaveDestination
from bridge_assets.model.document import Application
from bridge_assets.sandbox.wave import EmulatorSettings, run_emulator
from bridge_assets.sandbox.wave.server import bridge_environment

from .crash_trials import CrashTarget, crash_forkserver, make_template, run_crash_trials, store_live_tokens
from .small_ledgers import adapter_from, create, one_line_invoice


@pytest.fixture(scope="module")
def wave(tmp_path_factory):
    with run_emulator(tmp_path_factory.mktemp("wave") / "wave.sqlite3", EmulatorSettings(time_scale=600)) as handle:
        yield handle


@pytest.fixture
def business(wave) -> str:
    return wave.admin.create_business()


@pytest.fixture
def environment(wave, business, tmp_path) -> dict[str, str]:
    return bridge_environment(wave, business, tmp_path / "wave_tokens.json")


@pytest.fixture
def destination(environment) -> Iterator[WaveDestination]:
    yield from adapter_from(WaveDestination, environment)


def gql_client(wave, business: str, *, schema: bool = True) -> Client:
    token = wave.admin.mint_tokens(business)["access_token"]
    transport = RequestsHTTPTransport(url=wave.graphql_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(transport=transport, fetch_schema_from_transport=schema)


invoice = one_line_invoice


# --- the documents, as a GraphQL client sends them ----------------------------------------------------------


def test_every_document_the_bridge_sends_is_valid_against_the_schema_gql_fetches_from_the_emulator(wave, business):
    client = gql_client(wave, business)
    with client as session:
        for name in ("REFERENCES", "INVOICES", "INVOICE", "CUSTOMER_CREATE", "PRODUCT_CREATE", "INVOICE_CREATE",
                     "INVOICE_APPROVE", "INVOICE_PATCH"):
            client.validate(gql(getattr(documents, name)))      # raises on any field the schema lacks
        refs = session.execute(GraphQLRequest(documents.REFERENCES, variable_values={"businessId": business, "page": 1}))
        account = refs["business"]["accounts"]["edges"][0]["node"]["id"]
        tax = refs["business"]["salesTaxes"]["edges"][0]["node"]["id"]
        customer = session.execute(GraphQLRequest(documents.CUSTOMER_CREATE, variable_values={"input": {
            "businessId": business, "name": "Smith, J", "displayId": "C001"}}))["customerCreate"]["customer"]["id"]
        product = session.execute(GraphQLRequest(documents.PRODUCT_CREATE, variable_values={"input": {
            "businessId": business, "name": "LAB-TECH", "unitPrice": "85", "incomeAccountId": account}}))
        items = [{"productId": product["productCreate"]["product"]["id"], "quantity": "1.5", "unitPrice": "85",
                  "taxes": [{"salesTaxId": tax, "amount": "9.52"}]}]
        created = session.execute(GraphQLRequest(documents.INVOICE_CREATE, variable_values={"input": {
            "businessId": business, "customerId": customer, "invoiceNumber": "1003", "invoiceDate": "2026-09-03",
            "items": items}}))["invoiceCreate"]
        assert created["didSucceed"] and created["invoice"]["status"] == "DRAFT"
        assert created["invoice"]["total"]["value"] == "137.02"          # 127.50 + the tax as sent, not recomputed
        approved = session.execute(GraphQLRequest(documents.INVOICE_APPROVE, variable_values={"input": {
            "invoiceId": created["invoice"]["id"]}}))["invoiceApprove"]
        assert approved["invoice"]["status"] == "SAVED"


def test_a_document_outside_the_schema_is_refused_before_anything_runs(wave, business):
    client = gql_client(wave, business, schema=False)            # no client-side check: the server must refuse
    bad = """mutation { invoiceCreate(input: {businessId: "%s", customerId: "x", items: [], voidReason: "no"})
              { didSucceed } }""" % business
    with pytest.raises(TransportQueryError, match="voidReason"):
        with client as session:
            session.execute(gql(bad))
    wrong_type = httpx.post(wave.graphql_url, headers=client.transport.headers, json={
        "query": documents.INVOICE_CREATE, "variables": {"input": {"businessId": business, "customerId": "x",
                                                                    "invoiceDate": "09/01/2026"}}})
    assert "Date must be YYYY-MM-DD" in wrong_type.text
    assert wave.admin.invoices(business) == []


def test_a_token_for_one_business_reaches_no_other(wave, business):
    other = wave.admin.create_business("Another Co")
    with gql_client(wave, business, schema=False) as session:
        assert session.execute(GraphQLRequest("query($id: ID!) { business(id: $id) { id } }",
                                              variable_values={"id": other})) == {"business": None}


# --- the adapter against the emulator --------------------------------------------------------------------


def test_an_invoice_is_created_approved_and_read_back_with_its_tax(destination, wave, business):
    [outcome] = destination.post([create(invoice("1001", amount="127.50", tax="9.52"))])
    assert outcome.status is Status.CREATED and outcome.dest_doc_number == "1001"
    [held] = wave.admin.invoices(business)
    assert (held["status"], held["total"]["value"], held["taxTotal"]["value"]) == ("SAVED", "137.02", "9.52")
    [books] = destination.read_back()
    assert (books.doc_number, books.total, books.status) == ("1001", Decimal("137.02"), "active")


def test_an_expired_token_is_refreshed_once_and_the_rotated_refresh_token_saved(destination, wave, environment):
    destination.post([create(invoice("1001"))])
    stored = Path(environment["WAVE_TOKEN_STORE"]).read_text()
    wave.admin.expire()
    [outcome] = destination.post([create(invoice("1002"))])
    assert outcome.status is Status.CREATED and destination.session.refreshes >= 1
    assert Path(environment["WAVE_TOKEN_STORE"]).read_text() != stored
    assert environment["WAVE_REFRESH_TOKEN"] not in Path(environment["WAVE_TOKEN_STORE"]).read_text()


def test_throttling_and_a_503_are_waited_out(destination, wave):
    wave.admin.set_faults(throttle_next=2, fail_next=[503])
    [outcome] = destination.post([create(invoice("1001"))])
    wave.admin.clear_faults()
    assert outcome.status is Status.CREATED
    assert [e["status"] for e in wave.admin.journal()][-8:].count(429) >= 2


def test_a_draft_left_by_a_lost_approval_is_found_by_number_and_approved(destination, wave, business):
    with gql_client(wave, business, schema=False) as session:          # the create landed, its approval did not
        refs = session.execute(GraphQLRequest(documents.REFERENCES, variable_values={"businessId": business, "page": 1}))
        customer = session.execute(GraphQLRequest(documents.CUSTOMER_CREATE, variable_values={"input": {
            "businessId": business, "name": "Smith, J", "displayId": "C001"}}))["customerCreate"]["customer"]["id"]
        product = session.execute(GraphQLRequest(documents.PRODUCT_CREATE, variable_values={"input": {
            "businessId": business, "name": "RMR-MON", "unitPrice": "29.95",
            "incomeAccountId": refs["business"]["accounts"]["edges"][0]["node"]["id"]}}))
        session.execute(GraphQLRequest(documents.INVOICE_CREATE, variable_values={"input": {
            "businessId": business, "customerId": customer, "invoiceNumber": "1001",
            "items": [{"productId": product["productCreate"]["product"]["id"], "unitPrice": "29.95"}]}}))
    found = destination.find("invoice", "1001")
    assert found is not None and [i["status"] for i in wave.admin.invoices(business)] == ["SAVED"]
    assert destination.find("invoice", "1002") is None


def test_a_number_wave_holds_for_another_customer_fails_with_what_to_do(destination, wave, business):
    destination.post([create(invoice("1001", customer="Jones, K", key="C002"))])
    [outcome] = destination.post([create(invoice("1001"))])
    assert outcome.status is Status.FAILED and outcome.error_code == "number_in_use"
    assert "Jones, K" in outcome.message and "renumber" in outcome.message
    assert len(wave.admin.invoices(business)) == 1


def test_a_paid_invoice_cannot_change_and_credits_and_payments_are_left_to_a_person(destination, wave, business):
    [posted] = destination.post([create(invoice("1001"))])
    wave.admin.record_payment(posted.dest_id, "10.00")
    changed = invoice("1001", amount="39.95")
    [update] = destination.post([PostRequest(Action.UPDATE, changed, "u1", dest_id=posted.dest_id)])
    assert update.status is Status.FAILED and update.error_code == "update_unsupported"
    assert "payment recorded" in update.message and "39.95" in update.message
    credit = invoice("5001", doc_type="credit_memo", applies_to=(Application("test:invoice:1001", "1001",
                                                                             Decimal("10.00")),))
    [refused] = destination.post([create(credit)])
    assert refused.error_code == "payment_unsupported" and "no credit notes" in refused.message
    assert destination.capabilities.lacks("create", "payment") == "links_payments"
    assert [i["total"]["value"] for i in wave.admin.invoices(business)] == ["29.95"]


def test_missing_settings_name_the_variables():
    with pytest.raises(Exception, match="WAVE_CLIENT_SECRET and WAVE_BUSINESS_ID|WAVE_CLIENT_SECRET, WAVE_BUSINESS_ID"):
        WaveDestination.from_env(environ={"WAVE_CLIENT_ID": "x"})


# --- SIGKILL while posting a period ------------------------------------------------------------------------


def wave_target(wave) -> CrashTarget:
    def fresh_books(folder: Path) -> dict[str, str]:
        business = wave.admin.create_business()
        tokens = wave.admin.mint_tokens(business)
        store_live_tokens(folder / "wave_tokens.json", tokens)
        return {**bridge_environment(wave, business, folder / "wave_tokens.json"), "WAVE_REFRESH_TOKEN": tokens["refresh_token"]}

    def held(env: Mapping[str, str]):
        return [("invoice", i["invoiceNumber"], i["id"]) for i in wave.admin.invoices(env["WAVE_BUSINESS_ID"])]

    return CrashTarget(name="wave", fresh_books=fresh_books, held=held)


def test_ten_kills_while_posting_leave_every_invoice_in_wave_exactly_once(wave, tmp_path):
    template = make_template(tmp_path / "template")
    figures = run_crash_trials(wave_target(wave), crash_forkserver("bridge_assets.destinations.wave.adapter"),
                               template, tmp_path, trials=10)
    assert figures.trials == 10
    assert figures.killed_mid_run >= 5 and figures.left_unknown >= 1, figures
