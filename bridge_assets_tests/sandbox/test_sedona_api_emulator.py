"""The SedonaAPI emulator keeps the promises of API_FACTS.md, over real HTTP on loopback.

One emulator serves the module; every test starts from the same seeded sample book. Settings the
facts leave open (auth scheme, paging, envelope, error body, time-stamp format) are exercised on a
second emulator started with the other choices.
"""

from __future__ import annotations

import collections
import datetime as dt
from decimal import Decimal
from typing import Any, Iterator

import httpx
import pytest

from bridge_assets.sandbox.book import Book, generate_book
from bridge_assets.sandbox.sedona_api import (
    AdminCallFailed,
    EmulatorHandle,
    EmulatorSettings,
    run_emulator,
    seed_from_book,
    spawn_emulator,
)

NULL_DATE = "12/30/1899"
DENIED = "Authorization has been denied for this request."


@pytest.fixture(scope="module")
def book() -> Book:
    return generate_book(5, 300, "2026-08", 3)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("sedona") / "company.sqlite3") as handle:
        yield handle


@pytest.fixture
def sedona(emulator: EmulatorHandle, book: Book) -> EmulatorHandle:
    emulator.admin.reset()
    emulator.admin.seed_book(book)
    return emulator


def token_for(handle: EmulatorHandle) -> str:
    answer = httpx.post(handle.base_url + handle.settings.token_path,
                        data={"grant_type": "password", "username": handle.settings.username,
                              "password": handle.settings.password})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


class Api:
    """The tenant API with a valid token, as the bridge's client sees it."""

    def __init__(self, handle: EmulatorHandle) -> None:
        self.http = httpx.Client(base_url=handle.api_base_url, timeout=10,
                                 headers={"Authorization": f"Bearer {token_for(handle)}"})

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params or None)

    def ok(self, path: str, **params: Any) -> Any:
        answer = self.get(path, **params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def every(self, model: str, page_size: int = 10, **params: Any) -> list[dict[str, Any]]:
        records, page = [], 1
        while chunk := self.ok(model, page=page, pageSize=page_size, **params):
            records += chunk
            page += 1
        return records


@pytest.fixture
def api(sedona: EmulatorHandle) -> Iterator[Api]:
    client = Api(sedona)
    yield client
    client.http.close()


def _sort_key(record: dict[str, Any], id_field: str) -> tuple:
    return dt.datetime.strptime(record["ModifiedDate"], "%m/%d/%Y %H:%M:%S"), record[id_field]


# --- credentials ---------------------------------------------------------------------------------

def test_the_token_endpoint_issues_bearer_tokens_that_expire(sedona: EmulatorHandle):
    token = token_for(sedona)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(sedona.api_base_url + "Customer", headers=headers).status_code == 200

    refused = httpx.post(sedona.base_url + "/api/token",
                         data={"grant_type": "password", "username": "bridge", "password": "wrong-password"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert "wrong-password" not in refused.text

    anonymous = httpx.get(sedona.api_base_url + "Customer")
    assert anonymous.status_code == 401 and anonymous.json() == {"Message": DENIED}

    assert sedona.admin.expire_tokens() >= 1
    expired = httpx.get(sedona.api_base_url + "Customer", headers=headers)
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]


def test_basic_and_api_key_schemes_can_replace_tokens(tmp_path, book: Book):
    with run_emulator(tmp_path / "basic.sqlite3", EmulatorSettings(auth_scheme="basic")) as handle:
        handle.admin.seed_book(book)
        assert httpx.get(handle.api_base_url + "Customer", auth=("bridge", "sandbox-password")).status_code == 200
        assert httpx.get(handle.api_base_url + "Customer", auth=("bridge", "nope")).status_code == 401
        assert httpx.post(handle.base_url + "/api/token", data={"grant_type": "password"}).status_code == 404
    settings = EmulatorSettings(auth_scheme="api_key", api_key_header="X-Sedona-Key", api_key="k-123")
    with run_emulator(tmp_path / "key.sqlite3", settings) as handle:
        handle.admin.seed_book(book)
        assert httpx.get(handle.api_base_url + "Customer", headers={"X-Sedona-Key": "k-123"}).status_code == 200
        assert httpx.get(handle.api_base_url + "Customer", headers={"X-Sedona-Key": "k-999"}).status_code == 401
        shown = httpx.get(handle.base_url + "/_emulator/settings").json()
        assert shown["api_key"] == "***" and shown["password"] == "***"


# --- the book ------------------------------------------------------------------------------------

def test_the_api_serves_the_same_book_the_generator_writes(api: Api, book: Book):
    invoices = {r["InvoiceNumber"]: r for r in api.every("CustomerInvoice", 50)}
    credits = {r["CreditNumber"]: r for r in api.every("CustomerCredit", 50)}
    assert set(invoices) | set(credits) == {doc.number for doc in book.invoices}
    for doc in book.invoices:
        served = invoices.get(doc.number) or credits[doc.number]
        assert Decimal(str(served["Amount"])) == doc.subtotal           # pre-tax, for credits by fact
        assert Decimal(str(served["TaxAmount"])) == doc.tax_total
        assert [i["ItemCode"] or i["PartCode"] for i in served["Items"]] == [line.item_code for line in doc.lines]
        if doc.doc_type == "credit_memo":
            detail, = served["Details"]
            assert detail["InvoiceNumber"] == doc.applies_to
            assert Decimal(str(detail["Amount"])) == doc.total         # includes tax, by fact
    tickets = api.every("ServiceTicket", 50)
    assert {t["InvoiceNumber"] for t in tickets} == {d.number for d in book.invoices
                                                      if d.ticket_number and d.doc_type == "invoice"}
    assert {t["StatusCode"] for t in tickets} <= {"CL", "DP", "IP", "OP", "RS", "SC"}
    customers = api.every("Customer", 50)
    assert {c["CustomerNumber"] for c in customers} == {c.customer_number for c in book.customers}
    assert "Muñoz, José" in {c["CustomerName"] for c in customers}
    recurring = api.every("CustomerRecurring", 50)
    assert len(recurring) == sum(len(site.recurring) for c in book.customers for site in c.sites)
    assert {r["BillCycle"] for r in recurring} == {"M", "Q", "S", "A"}


def test_the_emulator_can_generate_the_book_from_its_arguments(sedona: EmulatorHandle, book: Book):
    from_arguments = sedona.admin.seed(seed=5, lines=300, first_period="2026-08", months=3)
    assert from_arguments["book_seed"] == 5
    assert from_arguments["seeded"] == sedona.admin.seed_book(book)["seeded"]


def test_records_created_in_one_batch_share_their_modification_stamp(api: Api):
    stamps = collections.Counter(r["ModifiedDate"] for r in api.every("CustomerInvoice", 50))
    shared = {stamp: n for stamp, n in stamps.items() if n > 1}
    assert len(shared) >= 3                                  # each month's RMR run, busy ticket days
    assert max(shared.values()) >= 20


def test_lists_are_paged_in_modification_order(api: Api):
    pages = [api.ok("CustomerInvoice", page=n, pageSize=10) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [10, 10, 10]
    ids = [r["InvoiceId"] for p in pages for r in p]
    assert len(set(ids)) == 30
    every = api.every("CustomerInvoice", 10)
    assert every == sorted(every, key=lambda r: _sort_key(r, "InvoiceId"))
    assert api.ok("CustomerInvoice", page=1000, pageSize=10) == []
    assert len(api.ok("CustomerInvoice")) == 99              # no paging asked: the default page (100)
    assert api.get("CustomerInvoice", page="first").status_code == 400


def test_modified_since_keeps_records_stamped_exactly_then(api: Api):
    every = api.every("CustomerInvoice", 50)
    stamp = collections.Counter(r["ModifiedDate"] for r in every).most_common(1)[0][0]
    since = api.every("CustomerInvoice", 50, modifiedSince=stamp)
    moment = dt.datetime.strptime(stamp, "%m/%d/%Y %H:%M:%S")
    assert {r["InvoiceId"] for r in since} == {r["InvoiceId"] for r in every if _sort_key(r, "InvoiceId")[0] >= moment}
    assert any(r["ModifiedDate"] == stamp for r in since)


# --- dates and periods ---------------------------------------------------------------------------

def test_dates_are_mm_dd_yyyy_and_12_30_1899_means_no_date(api: Api):
    september = api.every("CustomerInvoice", 50, startDate="09/01/2026", endDate="09/30/2026")
    assert september and all(r["InvoiceDate"].endswith("/2026") and r["InvoiceDate"].startswith("09/")
                             for r in september)
    items = [i for r in september for i in r["Items"]]
    rmr = [i for i in items if i["BillCycle"]]
    parts = [i for i in items if i["PartCode"]]
    assert rmr and all(i["ServiceStartDate"] == "09/01/2026" for i in rmr)
    assert parts and all(i["ServiceStartDate"] == NULL_DATE and i["ServiceEndDate"] == NULL_DATE for i in parts)
    assert all(r["CycleEndDate"] == NULL_DATE for r in api.ok("CustomerRecurring"))
    refused = api.get("CustomerInvoice", startDate="2026-09-01")
    assert refused.status_code == 400 and "MM/DD/YYYY" in refused.json()["Message"]


def test_accounting_periods_are_future_open_closed_or_re_open(sedona: EmulatorHandle, api: Api, book: Book):
    periods = api.ok("AccountingPeriod")
    assert [(p["StartDate"], p["Status"]) for p in periods] == [
        ("08/01/2026", "Closed"), ("09/01/2026", "Open"), ("10/01/2026", "Open"), ("11/01/2026", "Future")]
    august_invoice = next(d.number for d in book.invoices if d.period == "2026-08" and d.doc_type == "invoice")
    with pytest.raises(AdminCallFailed, match="refuses to post into a period that is not Open"):
        sedona.admin.edit_invoice(august_invoice, {"PONumber": "PO-LATE"})
    sedona.admin.set_period_status("2026-08", "Re-Open")
    assert api.ok("AccountingPeriod")[0]["Status"] == "Re-Open"
    assert sedona.admin.edit_invoice(august_invoice, {"PONumber": "PO-LATE"})["PONumber"] == "PO-LATE"
    with pytest.raises(AdminCallFailed, match="Status must be one of"):
        sedona.admin.set_period_status("2026-08", "Reopened")


def test_a_deleted_invoice_is_gone(sedona: EmulatorHandle, api: Api, book: Book):
    victim = next(d for d in book.invoices if d.period == "2026-09" and d.doc_type == "invoice")
    served = next(r for r in api.every("CustomerInvoice", 50) if r["InvoiceNumber"] == victim.number)
    sedona.admin.delete_invoice(victim.number)
    assert api.get(f"CustomerInvoice/{served['InvoiceId']}").status_code == 404
    assert victim.number not in {r["InvoiceNumber"] for r in api.every("CustomerInvoice", 50)}
    tombstones = [r for r in sedona.admin.records("CustomerInvoice", include_deleted=True) if "DeletedAt" in r]
    assert [r["InvoiceNumber"] for r in tombstones] == [victim.number]


def test_payments_are_searched_by_customer_number_and_date_range(api: Api, book: Book):
    assert api.get("CustomerPayment").status_code == 400
    payment = book.payments[0]
    found = api.ok("CustomerPayment", customerNumber=payment.customer_number,
                   startDate=f"{payment.payment_date:%m/%d/%Y}", endDate=f"{payment.payment_date:%m/%d/%Y}")
    served = next(p for p in found if p["PaymentNumber"] == payment.payment_number)
    assert Decimal(str(served["UnappliedAmount"])) == payment.unapplied
    assert [a["InvoiceNumber"] for a in served["Applications"]] == [a.invoice_number for a in payment.applications]


# --- faults, journal, settings, restarts ---------------------------------------------------------

def test_injected_failures_hit_the_requests_asked_for_and_are_journaled(sedona: EmulatorHandle, api: Api):
    sedona.admin.set_faults(fail_on_requests=[2], fail_next=[])
    assert api.get("Customer").status_code == 200
    unavailable = api.get("Customer")
    assert unavailable.status_code == 503 and "Service Unavailable" in unavailable.text
    assert api.get("Customer").status_code == 200
    sedona.admin.set_faults(fail_next=[500])
    failed = api.get("Customer")
    assert failed.status_code == 500 and "Message" in failed.json()
    outcomes = [(e["status"], e["outcome"]) for e in sedona.admin.journal() if e["path"] == "/api/Customer"]
    assert outcomes[-4:] == [(200, "ok"), (503, "injected"), (200, "ok"), (500, "injected")]


def test_other_unconfirmed_choices_are_settings(tmp_path, book: Book):
    settings = EmulatorSettings(paging="skip", envelope="object", max_page_size=7, error_style="problem",
                                timestamp_format="iso", invoice_amount_includes_tax=True)
    with run_emulator(tmp_path / "other.sqlite3", settings) as handle:
        handle.admin.seed_book(book)
        http = httpx.Client(base_url=handle.api_base_url, headers={"Authorization": f"Bearer {token_for(handle)}"})
        answer = http.get("CustomerInvoice", params={"skip": 7, "take": 100}).json()
        assert answer["Skip"] == 7 and answer["Take"] == 7 and len(answer["Items"]) == 7
        assert answer["TotalCount"] == 99
        first = answer["Items"][0]
        assert dt.datetime.fromisoformat(first["ModifiedDate"])
        doc = next(d for d in book.invoices if d.number == first["InvoiceNumber"])
        assert Decimal(str(first["Amount"])) == doc.total
        problem = http.get("CustomerInvoice", params={"startDate": "tomorrow"})
        assert problem.headers["content-type"].startswith("application/problem+json")
        assert problem.json()["status"] == 400
        http.close()


def test_the_company_survives_a_kill_of_the_emulator_process(tmp_path, book: Book):
    state = tmp_path / "company.sqlite3"
    with spawn_emulator(state) as handle:
        handle.admin.seed_book(book)
        handle.admin.delete_invoice(next(d.number for d in book.invoices if d.period == "2026-10"))
        token = token_for(handle)
        port = int(handle.base_url.rsplit(":", 1)[1])
        handle.kill()
    with spawn_emulator(state, port=port) as handle:
        invoices = httpx.get(handle.api_base_url + "CustomerInvoice", params={"pageSize": 500},
                             headers={"Authorization": f"Bearer {token}"})
        assert invoices.status_code == 200                   # the token outlived the process
        assert len(invoices.json()) == seed_from_book(book).count("CustomerInvoice") - 1
