"""The ServiceTrade client against the emulator on loopback: one session per run, every page once, a
lost session or token recovered once, a failing page retried without duplicates or gaps, failures
written back with a private comment, and no secret anywhere. Then the mapping to canonical documents,
checked against the sample book it was seeded from.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pandas as pd
import pytest

from bridge_assets.model.document import (
    DOCUMENTS_SCHEMA,
    LINES_SCHEMA,
    canonical_dict,
    line_amount,
)
from bridge_assets.sandbox.book import generate_book
from bridge_assets.sandbox.servicetrade import (
    EmulatorHandle,
    EmulatorSettings,
    run_emulator,
)
from bridge_assets.sources.servicetrade.client import (
    RetryPolicy,
    ServiceTradeAuthError,
    ServiceTradeClient,
    ServiceTradeError,
    ServiceTradeNotConfigured,
    ServiceTradeUnavailable,
    raw_json,
)
from bridge_assets.sources.servicetrade.mapping import (
    FIELD_MAP,
    ServiceTradeFieldMap,
    ServiceTradeInvoiceUnreadable,
    local_date,
    servicetrade_invoice_to_document,
)

USER, PASSWORD = "bridge", "bridge-sandbox-password"
CLIENT_ID, CLIENT_SECRET = "bridge-sandbox-client", "bridge-sandbox-secret"
FAST = RetryPolicy(attempts=4, backoff_s=0.01, max_backoff_s=0.05)
BOOK = generate_book(7, 300, "2026-08", 3)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("servicetrade") / "account.sqlite3") as handle:
        yield handle


@pytest.fixture
def st(emulator: EmulatorHandle) -> EmulatorHandle:
    emulator.admin.reset()
    emulator.admin.seed_book(BOOK)
    return emulator


# Every unconfirmed choice read the other way at once: renamed fields, line tax, no items in lists,
# a refused over-limit, re-queueing allowed.
OTHER_FIELDS = {"item_code": "itemName", "item_total": "total", "tax_total": "tax", "item_tax": "lineTax",
                "location": "site"}
OTHER_READINGS = EmulatorSettings(field_map=OTHER_FIELDS, line_tax_amounts=True, list_includes_items=False,
                                  limit_over_max="refuse", extra_transitions=(("processed", "pending_accounting"),))


@pytest.fixture(scope="module")
def other_emulator(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("servicetrade-other") / "account.sqlite3", OTHER_READINGS) as handle:
        handle.admin.seed_book(BOOK)
        yield handle


def session_client(st: EmulatorHandle, **options: Any) -> ServiceTradeClient:
    return ServiceTradeClient(st.api_url, username=USER, password=PASSWORD, retry=FAST, **options)


def oauth_client(st: EmulatorHandle, **options: Any) -> ServiceTradeClient:
    return ServiceTradeClient(st.api_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, retry=FAST, **options)


class Interjecting(httpx.BaseTransport):
    """Real HTTP, with something done to the emulator just before chosen requests leave."""

    def __init__(self, when: Callable[[httpx.Request], bool], action: Callable[[], None], times: int = 1) -> None:
        self._inner = httpx.HTTPTransport()
        self.when, self.action, self.remaining = when, action, times

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.remaining and self.when(request):
            self.remaining -= 1
            self.action()
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def page(number: int) -> Callable[[httpx.Request], bool]:
    return lambda r: r.method == "GET" and r.url.path == "/api/invoice" and r.url.params.get("page") == str(number)


def requests(st: EmulatorHandle, method: str, path: str) -> list[dict[str, Any]]:
    return [e for e in st.admin.journal() if e["method"] == method and e["path"] == path]


def pending_ids(st: EmulatorHandle) -> list[int]:
    return [i["id"] for i in st.admin.invoices(status="pending_accounting")]


# --- one session per run ---------------------------------------------------------------------------

def test_a_run_reads_every_invoice_once_in_one_session_and_signs_out(st):
    with session_client(st, page_size=7) as client:
        invoices = list(client.pending_invoices())
    assert [i["id"] for i in invoices] == pending_ids(st) and len(invoices) == len(BOOK.invoices)
    pages = [e["query"] for e in requests(st, "GET", "/api/invoice")]
    # Several pages: a second scan confirms nothing slipped past while paging.
    assert len(pages) == 2 * -(-len(BOOK.invoices) // 7)
    assert all("limit=7" in q and "status=pending_accounting" in q for q in pages)
    journal = st.admin.journal()
    assert (journal[0]["method"], journal[0]["path"]) == ("POST", "/api/auth")
    assert (journal[-1]["method"], journal[-1]["path"], journal[-1]["status"]) == ("DELETE", "/api/auth", 200)
    assert {e["principal"] for e in journal} == {"session:bridge#1"}
    assert [s["ended_reason"] for s in st.admin.sessions()] == ["logout"]


def test_the_run_signs_out_even_when_it_fails(st):
    with pytest.raises(RuntimeError), session_client(st) as client:
        client.invoice(pending_ids(st)[0])
        raise RuntimeError("the posting step blew up")
    assert [s["ended_reason"] for s in st.admin.sessions()] == ["logout"]


def test_pending_invoices_for_a_period_are_exactly_that_months(st):
    with session_client(st) as client:
        september = list(client.pending_invoices("2026-09"))
    expected = [doc for doc in BOOK.invoices if doc.period == "2026-09"]
    assert sorted(i["invoiceNumber"] for i in september) == sorted(str(doc.number) for doc in expected)
    assert {local_date(i["transactionDate"], FIELD_MAP.zone).month for i in september} == {9}
    query = requests(st, "GET", "/api/invoice")[0]["query"]
    assert "transactionDateAfter=" in query and "transactionDateBefore=" in query


# --- lost sessions and tokens ----------------------------------------------------------------------

def test_a_session_expired_mid_run_is_replaced_once_and_paging_carries_on(st):
    transport = Interjecting(page(3), lambda: st.admin.expire())
    with session_client(st, page_size=10, transport=transport) as client:
        invoices = list(client.pending_invoices())
    assert [i["id"] for i in invoices] == pending_ids(st)
    assert len(requests(st, "POST", "/api/auth")) == 2
    third = [e for e in requests(st, "GET", "/api/invoice") if "page=3" in e["query"]]
    assert [(e["status"], e["principal"]) for e in third] == [(401, ""), (200, "session:bridge#2"),
                                                                (200, "session:bridge#2")]
    assert [s["ended_reason"] for s in st.admin.sessions()] == ["expired", "logout"]


def test_a_session_dropped_by_another_sign_in_is_replaced_once(st):
    # Someone else signs in as the same user often enough to push the bridge's session out.
    def crowd_out() -> None:
        for _ in range(st.settings.max_sessions_per_user):
            httpx.post(st.api_url + "/auth", json={"username": USER, "password": PASSWORD})

    transport = Interjecting(lambda r: r.method == "GET" and r.url.path.startswith("/api/invoice/"), crowd_out)
    with session_client(st, transport=transport) as client:
        first = client.invoice(pending_ids(st)[0])
    assert first["status"] == "pending_accounting"
    assert sum(e["status"] == 401 for e in st.admin.journal()) == 1


def test_a_second_401_in_a_row_is_an_error_not_a_loop(st):
    transport = Interjecting(lambda r: r.url.path == "/api/invoice", lambda: st.admin.expire(), times=2)
    with session_client(st, transport=transport) as client:
        with pytest.raises(ServiceTradeAuthError, match="right after signing in anew") as failure:
            list(client.pending_invoices())
    assert PASSWORD not in str(failure.value)
    assert len(requests(st, "POST", "/api/auth")) == 2


def test_an_expired_oauth_token_is_refreshed_once_mid_run(st):
    transport = Interjecting(page(2), lambda: st.admin.expire())
    with oauth_client(st, page_size=20, transport=transport) as client:
        invoices = list(client.pending_invoices())
    assert [i["id"] for i in invoices] == pending_ids(st)
    assert len(requests(st, "POST", "/api/oauth2/token")) == 2  # client_credentials, then refresh_token
    tokens = [t for t in st.admin.tokens() if t["kind"] == "refresh"]
    assert [t["revoked_reason"] for t in tokens] == ["rotated", "revoked"]  # rotated, then revoked at the end
    assert sum(e["status"] == 401 for e in st.admin.journal()) == 1


def test_a_refused_refresh_token_falls_back_to_the_client_credentials(st):
    transport = Interjecting(page(2), lambda: st.admin.expire(refresh_tokens=True))
    with oauth_client(st, page_size=40, transport=transport) as client:
        invoices = list(client.pending_invoices())
    assert len(invoices) == len(pending_ids(st))
    assert [e["status"] for e in requests(st, "POST", "/api/oauth2/token")] == [200, 400, 200]


# --- 5xx while paging ------------------------------------------------------------------------------

def test_a_5xx_on_one_page_is_retried_without_duplicating_or_skipping_records(st):
    waits: list[float] = []
    st.admin.set_faults(fail_requests=[3], fail_status=503, methods=["GET"], paths=["/api/invoice"])
    with session_client(st, page_size=9, sleep=waits.append) as client:
        invoices = list(client.pending_invoices())
    ids = [i["id"] for i in invoices]
    assert ids == pending_ids(st) and len(ids) == len(set(ids))
    third = [(e["status"], e["outcome"]) for e in requests(st, "GET", "/api/invoice") if "page=3&" in e["query"] + "&"]
    assert third == [(503, "injected"), (200, "processed"), (200, "processed")]  # the last one: second scan
    assert len(waits) == 1


def test_several_failures_in_a_row_back_off_and_then_succeed(st):
    waits: list[float] = []
    st.admin.set_faults(fail_next=[500, 502, 429], methods=["GET"], paths=["/api/invoice"])
    policy = RetryPolicy(attempts=4, backoff_s=0.01, max_backoff_s=5.0)
    with ServiceTradeClient(st.api_url, username=USER, password=PASSWORD, retry=policy, sleep=waits.append) as client:
        assert len(list(client.pending_invoices())) == len(pending_ids(st))
    assert len(waits) == 3
    assert waits[0] <= 0.02 < waits[1] <= 0.04  # doubling, with jitter
    assert waits[2] >= 1.0                     # the 429's Retry-After: 1 is honoured


def test_a_5xx_that_outlasts_the_retries_is_reported_as_unavailable(st):
    st.admin.set_faults(fail_next=[503] * FAST.attempts, methods=["GET"], paths=["/api/invoice"])
    with session_client(st, sleep=lambda s: None) as client:
        with pytest.raises(ServiceTradeUnavailable, match=r"503 to GET /invoice after 4 tries"):
            list(client.pending_invoices())
    assert len(requests(st, "GET", "/api/invoice")) == FAST.attempts


def test_records_moving_while_paging_are_neither_duplicated_nor_skipped(st):
    ids = pending_ids(st)

    def someone_processes_and_adds() -> None:
        st.admin.edit_invoice(ids[0], status="processed")  # page 1 shrinks: everything shifts left by one
        st.admin.create_invoices([{"customer": {"name": "Late Arrival"}, "transaction_date": "2026-08-20"}])

    transport = Interjecting(page(2), someone_processes_and_adds)
    with session_client(st, page_size=10, transport=transport) as client:
        seen = [i["id"] for i in client.pending_invoices()]
    assert len(seen) == len(set(seen))
    assert set(pending_ids(st)) <= set(seen)  # nothing still pending was skipped
    assert ids[0] in seen                     # and what we already read stays read


# --- writing back ----------------------------------------------------------------------------------

def test_set_processed_writes_the_status_and_the_accounting_number_and_can_be_repeated(st):
    invoice_id = pending_ids(st)[0]
    with session_client(st) as client:
        assert client.set_processed(invoice_id, "ST-100001")["status"] == "processed"
        again = client.set_processed(invoice_id, "ST-100001")
    assert again["invoiceNumber"] == "ST-100001" and st.admin.invoice(invoice_id)["status"] == "processed"


def test_set_failed_leaves_a_private_comment_naming_the_reason(st):
    invoice_id = pending_ids(st)[1]
    reason = "QuickBooks refused customer 'Kim, Patricia': the customer is inactive (610)"
    with session_client(st) as client:
        answer = client.set_failed(invoice_id, reason)
        client.set_failed(invoice_id, reason)  # a re-run does not pile up comments
    assert answer["status"] == "failed"
    comments = st.admin.comments(invoice_id, "invoice")
    assert len(comments) == 1
    assert comments[0]["content"] == f"Invoice bridge: {reason}" and comments[0]["visibility"] == []


def test_a_refused_status_change_is_an_error_with_the_validation_map_and_no_retry(st):
    invoice_id = pending_ids(st)[2]
    st.admin.edit_invoice(invoice_id, status="void")
    with session_client(st) as client, pytest.raises(ServiceTradeError) as failure:
        client.set_processed(invoice_id)
    assert failure.value.status == 400 and "void" in failure.value.validation["status"]
    assert len(requests(st, "PUT", f"/api/invoice/{invoice_id}")) == 1


def test_a_comment_whose_answer_was_a_5xx_is_not_posted_twice(st):
    invoice_id = pending_ids(st)[3]
    st.admin.set_faults(fail_next=[503], methods=["POST"], paths=["/api/comment"])
    with session_client(st) as client:
        client.set_failed(invoice_id, "amount does not match")
    assert len(st.admin.comments(invoice_id, "invoice")) == 1
    assert st.admin.invoice(invoice_id)["status"] == "failed"


# --- secrets ---------------------------------------------------------------------------------------

def test_secrets_stay_out_of_logs_errors_reprs_and_comments(st, caplog):
    caplog.set_level(logging.DEBUG, logger="bridge_assets.sources.servicetrade.client")
    transport = Interjecting(page(2), lambda: st.admin.expire())
    client = session_client(st, page_size=30, transport=transport)
    with client:
        list(client.pending_invoices())
        client.set_failed(pending_ids(st)[0], f"sign-in used {PASSWORD} and session {client._session.reveal()}")
        assert PASSWORD not in repr(client) and PASSWORD not in repr(vars(client))
    comment = st.admin.comments()[0]["content"]
    assert PASSWORD not in comment and comment.count("***") == 2
    assert caplog.records and PASSWORD not in caplog.text
    assert not re.search(r"[0-9a-f]{32}", caplog.text)  # no session id

    with pytest.raises(ServiceTradeAuthError) as failure:
        ServiceTradeClient(st.api_url, username=USER, password="wrong-" + PASSWORD, retry=FAST).sign_in()
    assert "SERVICETRADE_PASSWORD" in str(failure.value) and PASSWORD not in str(failure.value)

    with pytest.raises(ServiceTradeAuthError) as failure:
        ServiceTradeClient(st.api_url, client_id=CLIENT_ID, client_secret="not-the-secret", retry=FAST).sign_in()
    assert "invalid_client" in str(failure.value) and "not-the-secret" not in str(failure.value)


def test_credentials_come_from_the_environment(st):
    client = ServiceTradeClient.from_env({"SERVICETRADE_BASE_URL": st.api_url, "SERVICETRADE_USERNAME": USER,
                                          "SERVICETRADE_PASSWORD": PASSWORD}, retry=FAST)
    with client:
        assert client.auth_mode == "session" and client.invoice(pending_ids(st)[0])
    oauth = ServiceTradeClient.from_env({"SERVICETRADE_BASE_URL": st.api_url, "SERVICETRADE_CLIENT_ID": CLIENT_ID,
                                         "SERVICETRADE_CLIENT_SECRET": CLIENT_SECRET})
    assert oauth.auth_mode == "oauth"
    oauth.close()
    with pytest.raises(ServiceTradeNotConfigured, match="SERVICETRADE_USERNAME and SERVICETRADE_PASSWORD"):
        ServiceTradeClient.from_env({"SERVICETRADE_BASE_URL": st.api_url})
    with pytest.raises(ServiceTradeNotConfigured, match="only one is set"):
        ServiceTradeClient.from_env({"SERVICETRADE_USERNAME": USER})


# --- mapping to canonical documents ----------------------------------------------------------------

def documents_by_number(client: ServiceTradeClient, fields: ServiceTradeFieldMap = FIELD_MAP,
                        period: str | None = None) -> dict[str, Any]:
    return {i["invoiceNumber"]: servicetrade_invoice_to_document(i, fields=fields)
            for i in client.pending_invoices(period)}


def test_the_books_invoices_and_credits_map_to_documents_with_the_books_amounts(st):
    with session_client(st) as client:
        documents = documents_by_number(client)
    assert len(documents) == len(BOOK.invoices)
    for doc in BOOK.invoices:
        mapped = documents[str(doc.number)]
        assert mapped.doc_type == doc.doc_type and mapped.doc_number == f"ST-{doc.number}"
        assert mapped.doc_key == f"servicetrade:{doc.doc_type}:{mapped.source_id}"
        assert (mapped.subtotal, mapped.tax_total, mapped.total) == (doc.subtotal, doc.tax_total, doc.total)
        assert mapped.txn_date == doc.invoice_date and mapped.period == doc.period
        assert mapped.customer_name == doc.customer_name and mapped.site == doc.site_name
        assert [(l.item_code, l.qty, l.unit_price, l.amount, l.taxable) for l in mapped.lines] == [
            (l.item_code, l.quantity, l.rate, l.amount, l.taxable) for l in doc.lines]
        assert [l.kind for l in mapped.lines] == [l.kind for l in doc.lines]
        assert sum(l.tax_amount for l in mapped.lines) == mapped.tax_total
        assert len(mapped.content_hash) == 64


def test_mapped_documents_pass_the_canonical_schemas(st):
    with session_client(st) as client:
        documents = list(documents_by_number(client).values())
    cents = lambda value: int(value * 100)
    docs = pd.DataFrame([{
        "doc_key": d.doc_key, "source": d.source, "doc_type": d.doc_type, "source_id": d.source_id,
        "doc_number": d.doc_number, "txn_date": pd.Timestamp(d.txn_date), "period": d.period,
        "customer_key": d.customer_key, "customer_name": d.customer_name, "subtotal_cents": cents(d.subtotal),
        "tax_total_cents": cents(d.tax_total), "total_cents": cents(d.total), "line_count": len(d.lines),
        "lines_amount_cents": sum(cents(l.amount) for l in d.lines),
        "lines_tax_cents": sum(cents(l.tax_amount) for l in d.lines), "content_hash": d.content_hash,
    } for d in documents])
    lines = pd.DataFrame([{
        "doc_key": d.doc_key, "line_no": l.line_no, "kind": l.kind, "item_code": l.item_code,
        "amount_cents": cents(l.amount), "tax_amount_cents": cents(l.tax_amount),
        "qty_x_price_cents": cents(line_amount(l.qty, l.unit_price)),
    } for d in documents for l in d.lines])
    DOCUMENTS_SCHEMA.validate(docs, lazy=True)
    LINES_SCHEMA.validate(lines, lazy=True)


def test_content_hash_changes_only_when_the_invoice_changes(st):
    invoice_id = pending_ids(st)[0]
    with session_client(st) as client:
        before = servicetrade_invoice_to_document(client.invoice(invoice_id))
        same = servicetrade_invoice_to_document(client.invoice(invoice_id))
        st.admin.edit_invoice(invoice_id, items=[{"code": "LAB-STD", "description": "Labor", "quantity": 2,
                                                   "price": "95.00"}], tax_amount="0")
        after = servicetrade_invoice_to_document(client.invoice(invoice_id))
        client.set_processed(invoice_id, before.doc_number)  # the accounting number written back
        written_back = servicetrade_invoice_to_document(client.invoice(invoice_id))
    assert before.content_hash == same.content_hash != after.content_hash
    assert after.total == Decimal("190.00")
    assert written_back.doc_number == before.doc_number  # the prefix is not added twice
    assert written_back.content_hash == after.content_hash


def test_every_unconfirmed_choice_read_the_other_way_gives_the_same_documents(st, other_emulator):
    fields = ServiceTradeFieldMap.from_mapping(OTHER_FIELDS)
    with session_client(st) as client:
        expected = documents_by_number(client, period="2026-08")
    with session_client(other_emulator, page_size=20) as client:
        invoices = list(client.pending_invoices("2026-08"))
        assert "itemName" in invoices[0]["items"][0] and "site" in invoices[0]
        other = {i["invoiceNumber"]: servicetrade_invoice_to_document(i, fields=fields) for i in invoices}
        with pytest.raises(ServiceTradeError, match="limit"):
            client._call("GET", "/invoice", params={"limit": 2001})
    # Items were left out of the list, so each invoice was read on its own.
    assert len([e for e in other_emulator.admin.journal() if e["path"].startswith("/api/invoice/")]) >= len(invoices)
    assert set(other) == set(expected)
    for number, document in expected.items():
        ours, theirs = canonical_dict(document), canonical_dict(other[number])
        # Line tax given per line may differ from the header tax spread by cents; the totals never do.
        for d in (ours, theirs):
            for line in d["lines"]:
                line.pop("tax_amount")
        assert ours == theirs, number
    # With line tax shown, the book's own per-line tax comes through exactly.
    for doc in BOOK.documents_in("2026-08"):
        assert [l.tax_amount for l in other[str(doc.number)].lines] == [l.tax_amount for l in doc.lines]


def test_an_invoice_that_does_not_add_up_is_refused_with_a_sentence(st):
    taxed_nothing = st.admin.create_invoices([{"customer": {"name": "Odd Co"}, "tax_amount": "5.00", "items": [
        {"code": "LAB-STD", "quantity": 1, "price": "95.00", "taxable": False}]}])[0]
    with session_client(st) as client:
        invoice = client.invoice(taxed_nothing["id"])
    with pytest.raises(ServiceTradeInvoiceUnreadable, match="no line is taxable"):
        servicetrade_invoice_to_document(invoice)
    wrong_total = {**invoice, "taxAmount": 0, "totalPrice": Decimal("1.00")}
    with pytest.raises(ServiceTradeInvoiceUnreadable, match=rf"invoice {invoice['id']} .*'totalPrice' is 1.00"):
        servicetrade_invoice_to_document(wrong_total)
    bad_line = {**invoice, "items": [{**invoice["items"][0], "totalPrice": Decimal("90.00")}], "taxAmount": 0}
    with pytest.raises(ServiceTradeInvoiceUnreadable, match="quantity x price"):
        servicetrade_invoice_to_document(bad_line)
    with pytest.raises(ServiceTradeInvoiceUnreadable, match="longer than the 21 characters"):
        servicetrade_invoice_to_document({**invoice, "taxAmount": 0, "totalPrice": Decimal(95)},
                                         doc_number_prefix="SERVICETRADE-EAST-")


def test_raw_json_keeps_the_record_as_received(st):
    with session_client(st) as client:
        invoice = client.invoice(pending_ids(st)[0])
    text = raw_json(invoice)
    assert '"totalPrice": 593.07' in text and '"invoiceNumber": "100001"' in text
