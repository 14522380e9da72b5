"""The ServiceTrade emulator keeps ServiceTrade's contract (API_FACTS.md), over real HTTP on loopback:
the envelope, not-found, validation maps, sessions with a per-user cap that drops the oldest, OAuth2,
paging and its limit, status transitions, private comments, faults, seeding from the sample book, and
state that survives a restart.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bridge_assets.sandbox.book import generate_book
from bridge_assets.sandbox.servicetrade import (
    DEFAULT_TRANSITIONS,
    STATUSES,
    EmulatorHandle,
    EmulatorSettings,
    run_emulator,
    spawn_emulator,
)

USER, PASSWORD = "bridge", "bridge-sandbox-password"
CLIENT_ID, CLIENT_SECRET = "bridge-sandbox-client", "bridge-sandbox-secret"
NOT_FOUND_BODY = {"messages": {"error": ["Not found"]}, "data": None}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("servicetrade") / "account.sqlite3") as handle:
        yield handle


@pytest.fixture
def st(emulator: EmulatorHandle) -> EmulatorHandle:
    emulator.admin.reset()
    return emulator


class Api:
    """The API as a caller with one session sees it (cookie sent by hand, like the bridge's client)."""

    def __init__(self, handle: EmulatorHandle, username: str = USER, password: str = PASSWORD) -> None:
        self.http = httpx.Client(base_url=handle.api_url, timeout=10)
        answer = self.http.post("/auth", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["data"]["authToken"]
        self.http.cookies.clear()
        self.http.headers["Cookie"] = f"PHPSESSID={self.token}"

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params or None)

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.http.put(path, json=body)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(path, json=body)

    def data(self, response: httpx.Response) -> Any:
        assert response.status_code == 200, response.text
        return json.loads(response.content, parse_float=Decimal)["data"]


def make_invoices(st: EmulatorHandle, count: int, **spec: Any) -> list[dict[str, Any]]:
    base = {"customer": {"name": "Acme Alarm Co"}, "transaction_date": "2026-08-03",
            "items": [{"code": "LAB-STD", "description": "Labor", "quantity": "1.5", "price": "95.00"}]}
    return st.admin.create_invoices([{**base, **spec} for _ in range(count)])


def assert_envelope(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"messages", "data"}
    assert isinstance(body["messages"]["error"], list)
    if response.is_success:
        assert body["messages"]["error"] == [] and isinstance(body["messages"]["success"], list)
    return body


# --- the envelope ----------------------------------------------------------------------------------

def test_every_answer_comes_in_the_messages_and_data_envelope(st):
    invoice = make_invoices(st, 1)[0]
    api = Api(st)
    answers = [
        api.get("/invoice"), api.get(f"/invoice/{invoice['id']}"), api.get("/auth"),
        api.put(f"/invoice/{invoice['id']}", {"status": "processed"}),
        api.post("/comment", {"entityType": "invoice", "entityId": invoice["id"], "content": "x", "visibility": []}),
        api.get("/comment", entityType="invoice", entityId=invoice["id"]),
        api.put(f"/invoice/{invoice['id']}", {"status": "bogus"}), api.get("/invoice/1"),
        httpx.get(st.api_url + "/invoice"),
    ]
    statuses = [a.status_code for a in answers]
    assert statuses == [200, 200, 200, 200, 200, 200, 400, 404, 401]
    for answer in answers:
        assert answer.headers["content-type"].startswith("application/json")
        assert_envelope(answer)
    assert answers[3].json()["messages"]["success"] == ["Invoice updated"]


def test_a_missing_record_or_path_is_the_documented_not_found(st):
    invoice = make_invoices(st, 1)[0]
    api = Api(st)
    for response in (api.get("/invoice/999"), api.get("/invoice/not-a-number"), api.put("/invoice/999", {"status": "void"}),
                     api.post("/comment", {"entityType": "invoice", "entityId": 999, "content": "x"}),
                     api.get("/no/such/thing"), httpx.get(st.api_url + "/no/such/thing")):
        assert response.status_code == 404
        assert response.json() == NOT_FOUND_BODY
    assert api.get(f"/invoice/{invoice['id']}").status_code == 200


def test_validation_problems_come_as_a_field_map(st):
    invoice = make_invoices(st, 1)[0]
    api = Api(st)
    listing = api.get("/invoice", status="pending_accounting,bogus", page=0, createdAfter="yesterday")
    assert listing.status_code == 400
    messages = listing.json()["messages"]
    assert messages["error"] == ["Validation failed"]
    assert set(messages["validation"]) == {"status", "page", "createdAfter"}
    comment = api.post("/comment", {"visibility": "everyone"})
    assert set(comment.json()["messages"]["validation"]) == {"entityType", "entityId", "content", "visibility"}
    update = api.put(f"/invoice/{invoice['id']}", {"status": "archived", "invoiceNumber": ""})
    assert set(update.json()["messages"]["validation"]) == {"status", "invoiceNumber"}


# --- sessions --------------------------------------------------------------------------------------

def test_signing_in_gives_an_auth_token_that_is_also_the_phpsessid_cookie(st):
    answer = httpx.post(st.api_url + "/auth", json={"username": USER, "password": PASSWORD})
    assert answer.status_code == 200
    token = answer.json()["data"]["authToken"]
    assert answer.cookies["PHPSESSID"] == token
    with_cookie = httpx.get(st.api_url + "/invoice", cookies={"PHPSESSID": token})
    assert with_cookie.status_code == 200


def test_requests_without_a_live_session_are_401(st):
    assert httpx.get(st.api_url + "/invoice").status_code == 401
    forged = httpx.get(st.api_url + "/invoice", cookies={"PHPSESSID": "0" * 32})
    assert forged.status_code == 401 and forged.json()["messages"]["error"] == ["Authentication required"]
    bearer = httpx.get(st.api_url + "/invoice", headers={"Authorization": "Bearer nothing"})
    assert bearer.status_code == 401


def test_a_wrong_password_is_refused_and_opens_no_session(st):
    answer = httpx.post(st.api_url + "/auth", json={"username": USER, "password": "guess"})
    assert answer.status_code == 403 and "PHPSESSID" not in answer.cookies
    assert answer.json()["data"] is None
    missing = httpx.post(st.api_url + "/auth", json={"username": USER})
    assert missing.status_code == 400 and set(missing.json()["messages"]["validation"]) == {"password"}
    assert st.admin.sessions() == []


def test_signing_out_ends_the_session(st):
    api = Api(st)
    out = api.http.delete("/auth")
    assert out.status_code == 200 and out.json()["messages"]["success"] == ["Logged out"]
    assert api.get("/invoice").status_code == 401
    assert [(s["live"], s["ended_reason"]) for s in st.admin.sessions()] == [(False, "logout")]


def test_a_user_over_the_session_cap_loses_the_oldest_session(st):
    cap = st.settings.max_sessions_per_user
    callers = [Api(st) for _ in range(cap + 1)]
    assert callers[0].get("/invoice").status_code == 401
    assert [c.get("/invoice").status_code for c in callers[1:]] == [200] * cap
    sessions = st.admin.sessions()
    assert [s["ended_reason"] for s in sessions] == ["dropped"] + [None] * cap
    # Another user's sessions are not touched.
    st.admin.register_user("dispatcher", "pw-2")
    Api(st, "dispatcher", "pw-2")
    assert [c.get("/invoice").status_code for c in callers[1:]] == [200] * cap


def test_admin_expiry_ends_sessions_and_access_tokens_but_not_refresh_tokens(st):
    api = Api(st)
    tokens = st.admin.mint_tokens()
    expired = st.admin.expire()
    assert expired == {"sessions": 1, "access_tokens": 1, "refresh_tokens": 0}
    assert api.get("/invoice").status_code == 401
    assert httpx.get(st.api_url + "/invoice", headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    refreshed = httpx.post(st.api_url + "/oauth2/token",
                           data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200


# --- OAuth2 ----------------------------------------------------------------------------------------

def token_request(st: EmulatorHandle, **form: str) -> httpx.Response:
    return httpx.post(st.api_url + "/oauth2/token", data=form)


def test_client_credentials_give_a_bearer_jwt_that_reads_the_api(st):
    answer = token_request(st, grant_type="client_credentials", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert answer.status_code == 200
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600 and tokens["refresh_token"]
    assert tokens["access_token"].count(".") == 2  # JWT-shaped: the SDKs read `exp`
    read = httpx.get(st.api_url + "/invoice", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert read.status_code == 200
    basic = httpx.post(st.api_url + "/oauth2/token", data={"grant_type": "client_credentials"},
                       auth=(CLIENT_ID, CLIENT_SECRET))
    assert basic.status_code == 200


def test_the_token_endpoint_takes_only_form_encoded_known_clients_and_grants(st):
    wrong = token_request(st, grant_type="client_credentials", client_id=CLIENT_ID, client_secret="guess")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    as_json = httpx.post(st.api_url + "/oauth2/token", json={"grant_type": "client_credentials",
                                                              "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    assert token_request(st, grant_type="implicit").json()["error"] == "unsupported_grant_type"


def test_a_refresh_rotates_the_refresh_token_and_retires_the_old_one(st):
    first = token_request(st, grant_type="client_credentials", client_id=CLIENT_ID, client_secret=CLIENT_SECRET).json()
    second = token_request(st, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    again = token_request(st, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    revoked = httpx.post(st.api_url + "/oauth2/revoke", data={"refresh_token": second.json()["refresh_token"]})
    assert revoked.status_code == 200
    assert token_request(st, grant_type="refresh_token",
                         refresh_token=second.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_sessions_and_access_tokens_die_with_time(tmp_path):
    # An hour lasts half a second: the idle session and the access token are gone after it.
    settings = EmulatorSettings(time_scale=7200)
    with run_emulator(tmp_path / "clock.sqlite3", settings) as handle:
        api = Api(handle)
        tokens = handle.admin.mint_tokens()
        assert api.get("/invoice").status_code == 200
        time.sleep(0.7)
        assert api.get("/invoice").status_code == 401
        bearer = httpx.get(handle.api_url + "/invoice", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert bearer.status_code == 401
        assert [s["ended_reason"] for s in handle.admin.sessions()] == ["expired"]


# --- invoices: paging and filters ------------------------------------------------------------------

def test_paging_counts_pages_and_shows_every_invoice_once(st):
    st.admin.seed(seed=7, lines=300)
    api = Api(st)
    first = api.data(api.get("/invoice", limit=25))
    total = first["totalCount"]
    assert total == len(st.admin.invoices()) > 100
    assert first["page"] == 1 and first["totalPages"] == math.ceil(total / 25)
    ids = [i["id"] for i in first["invoices"]]
    for page in range(2, first["totalPages"] + 1):
        data = api.data(api.get("/invoice", limit=25, page=page))
        assert data["page"] == page and data["totalCount"] == total
        ids += [i["id"] for i in data["invoices"]]
    assert len(ids) == len(set(ids)) == total and ids == sorted(ids)
    beyond = api.data(api.get("/invoice", limit=25, page=first["totalPages"] + 1))
    assert beyond["invoices"] == [] and beyond["totalPages"] == first["totalPages"]
    empty = api.data(api.get("/invoice", status="void"))
    assert empty == {"totalPages": 0, "page": 1, "totalCount": 0, "invoices": []}


def test_limit_defaults_to_2000_and_a_larger_limit_is_capped(st):
    make_invoices(st, 2003)
    api = Api(st)
    default = api.data(api.get("/invoice"))
    assert len(default["invoices"]) == 2000 and default["totalPages"] == 2 and default["totalCount"] == 2003
    larger = api.data(api.get("/invoice", limit=5000))
    assert len(larger["invoices"]) == 2000 and larger["totalPages"] == 2
    assert len(api.data(api.get("/invoice", limit=5000, page=2))["invoices"]) == 3


def test_a_larger_limit_can_be_refused_instead(tmp_path):
    with run_emulator(tmp_path / "refuse.sqlite3", EmulatorSettings(limit_over_max="refuse")) as handle:
        api = Api(handle)
        refused = api.get("/invoice", limit=2001)
        assert refused.status_code == 400 and "2000" in refused.json()["messages"]["validation"]["limit"]
        assert api.get("/invoice", limit=2000).status_code == 200


def test_filters_by_status_customer_job_and_unix_time_windows(st):
    early = make_invoices(st, 2, transaction_date="2026-08-03", customer={"name": "Early Bird"})
    late = make_invoices(st, 3, transaction_date="2026-09-15", job={"number": "T42"})
    st.admin.edit_invoice(late[0]["id"], status="processed")
    st.admin.edit_invoice(early[0]["id"], status="void", touch=False)
    api = Api(st)

    def ids(**params: Any) -> set[int]:
        return {i["id"] for i in api.data(api.get("/invoice", **params))["invoices"]}

    assert ids(status="pending_accounting") == {early[1]["id"], late[1]["id"], late[2]["id"]}
    assert ids(status="processed,void") == {late[0]["id"], early[0]["id"]}
    assert ids(customerId=early[0]["customer"]["id"]) == {i["id"] for i in early}
    assert ids(jobId=late[0]["job"]["id"]) == {i["id"] for i in late}
    september = late[0]["transactionDate"]
    assert ids(transactionDateAfter=september) == {i["id"] for i in late}
    assert ids(transactionDateBefore=september - 1) == {i["id"] for i in early}
    # Bounds are inclusive.
    assert ids(transactionDateAfter=september, transactionDateBefore=september) == {i["id"] for i in late}
    # The admin edit that changed a status bumped `updated`; the one with touch=False did not.
    changed = st.admin.invoice(late[0]["id"])["updated"]
    assert ids(updatedAfter=changed) == {late[0]["id"]}
    created = early[0]["created"]
    assert ids(createdAfter=created, createdBefore=created + 3600) >= {early[0]["id"]}


def test_one_invoice_is_read_with_its_items_and_its_totals_add_up(st):
    invoice = st.admin.create_invoices([{
        "customer": {"name": "Lakeside Animal Hospital, P.C."}, "location": {"name": "12 Main St - Clinic"},
        "transaction_date": "2026-08-04", "tax_amount": "6.72",
        "items": [{"code": "LAB-STD", "description": "Labor", "quantity": "1.25", "price": "95.00"},
                  {"code": "PRT-PIR100", "description": "PIR motion detector", "quantity": 2, "price": "42.50",
                   "taxable": True}]}])[0]
    api = Api(st)
    read = api.data(api.get(f"/invoice/{invoice['id']}"))
    assert [(i["name"], i["quantity"], i["price"], i["totalPrice"], i["taxable"]) for i in read["items"]] == [
        ("LAB-STD", Decimal("1.25"), Decimal(95), Decimal("118.75"), False),
        ("PRT-PIR100", 2, Decimal("42.5"), 85, True)]
    assert read["taxAmount"] == Decimal("6.72") and read["totalPrice"] == Decimal("210.47")
    assert read["customer"]["name"] == "Lakeside Animal Hospital, P.C."
    assert read["location"]["name"] == "12 Main St - Clinic"
    assert read["status"] == "pending_accounting" and isinstance(read["transactionDate"], int)


# --- status transitions ----------------------------------------------------------------------------

def test_the_api_accepts_exactly_the_transitions_in_the_table(st):
    invoice = make_invoices(st, 1)[0]
    api = Api(st)
    for source in STATUSES:
        for target in STATUSES:
            st.admin.edit_invoice(invoice["id"], status=source)
            answer = api.put(f"/invoice/{invoice['id']}", {"status": target})
            allowed = source == target or target in DEFAULT_TRANSITIONS[source]
            assert answer.status_code == (200 if allowed else 400), (source, target, answer.text)
            if not allowed:
                assert "status" in answer.json()["messages"]["validation"]
                assert st.admin.invoice(invoice["id"])["status"] == source


def test_the_integration_path_and_the_refusals_the_facts_name(st):
    invoice = make_invoices(st, 1)[0]
    api = Api(st)
    processed = api.data(api.put(f"/invoice/{invoice['id']}", {"status": "processed", "invoiceNumber": "ST-9001"}))
    assert processed["status"] == "processed" and processed["invoiceNumber"] == "ST-9001"
    # Repeating the write-back is harmless.
    assert api.put(f"/invoice/{invoice['id']}", {"status": "processed", "invoiceNumber": "ST-9001"}).status_code == 200
    back = api.put(f"/invoice/{invoice['id']}", {"status": "pending_accounting"})
    assert back.status_code == 400
    assert "from 'processed' to 'pending_accounting'" in back.json()["messages"]["validation"]["status"]
    st.admin.edit_invoice(invoice["id"], status="void")
    for target in ("ok", "pending_accounting", "processed", "failed", "paid"):
        refused = api.put(f"/invoice/{invoice['id']}", {"status": target})
        assert refused.status_code == 400 and "cannot change status" in refused.json()["messages"]["validation"]["status"]


def test_processed_back_to_pending_accounting_when_configured(tmp_path):
    settings = EmulatorSettings(extra_transitions=(("processed", "pending_accounting"),))
    with run_emulator(tmp_path / "requeue.sqlite3", settings) as handle:
        invoice = make_invoices(handle, 1, status="processed")[0]
        api = Api(handle)
        assert api.put(f"/invoice/{invoice['id']}", {"status": "pending_accounting"}).status_code == 200


# --- comments --------------------------------------------------------------------------------------

def test_a_comment_with_no_visibility_is_private_and_listed_for_its_invoice_only(st):
    first, second = make_invoices(st, 2)
    api = Api(st)
    private = api.data(api.post("/comment", {"entityType": "invoice", "entityId": first["id"],
                                             "content": "QuickBooks refused: customer inactive", "visibility": []}))
    assert private["visibility"] == [] and private["entityId"] == first["id"] and private["author"]["username"] == USER
    api.post("/comment", {"entityType": "invoice", "entityId": first["id"], "content": "hello", "visibility": ["public"]})
    api.post("/comment", {"entityType": "invoice", "entityId": second["id"], "content": "other invoice"})
    listed = api.data(api.get("/comment", entityType="invoice", entityId=first["id"]))["comments"]
    assert [(c["content"], c["visibility"]) for c in listed] == [
        ("QuickBooks refused: customer inactive", []), ("hello", ["public"])]
    assert len(st.admin.comments()) == 3


# --- faults and the journal ------------------------------------------------------------------------

def test_faults_fail_the_nth_matching_request_before_doing_anything(st):
    invoice = make_invoices(st, 1)[0]
    api = Api(st)
    st.admin.set_faults(fail_requests=[2], fail_status=503, paths=["/api/invoice"], methods=["GET"])
    answers = [api.get("/invoice").status_code for _ in range(3)]
    assert answers == [200, 503, 200]
    st.admin.set_faults(fail_next=[500, 502])
    first, second = api.put(f"/invoice/{invoice['id']}", {"status": "processed"}), api.get("/invoice")
    assert first.status_code == 500 and first.json() == {"messages": {"error": ["Internal server error"]}, "data": None}
    assert second.status_code == 502 and second.headers["content-type"].startswith("text/html")
    assert st.admin.invoice(invoice["id"])["status"] == "pending_accounting"  # the failed PUT did nothing
    outcomes = [(e["method"], e["status"], e["outcome"]) for e in st.admin.journal()]
    assert outcomes[-5:] == [("GET", 200, "processed"), ("GET", 503, "injected"), ("GET", 200, "processed"),
                             ("PUT", 500, "injected"), ("GET", 502, "injected")]


def test_latency_is_added_and_faults_can_be_cleared(st):
    api = Api(st)
    st.admin.set_faults(latency_ms=250)
    started = time.monotonic()
    assert api.get("/invoice").status_code == 200
    assert time.monotonic() - started >= 0.25
    st.admin.clear_faults()
    started = time.monotonic()
    api.get("/invoice")
    assert time.monotonic() - started < 0.25


def test_the_journal_names_the_caller_but_holds_no_secret(st):
    api = Api(st)
    tokens = httpx.post(st.api_url + "/oauth2/token", data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                          "client_secret": CLIENT_SECRET}).json()
    httpx.get(st.api_url + "/invoice", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    api.get("/invoice", status="pending_accounting")
    journal = st.admin.journal()
    assert [e["principal"] for e in journal] == ["session:bridge#1", "", "oauth:bridge-sandbox-client#1",
                                                 "session:bridge#1"]
    assert journal[-1]["query"] == "status=pending_accounting"
    text = repr(journal)
    for secret in (PASSWORD, CLIENT_SECRET, api.token, tokens["access_token"], tokens["refresh_token"]):
        assert secret not in text


# --- seeding from the sample book ------------------------------------------------------------------

def test_the_sample_book_becomes_pending_invoices_with_customers_locations_and_jobs(st):
    book = generate_book(11, 240, "2026-08", 2)
    summary = st.admin.seed_book(book)
    credits = [doc for doc in book.invoices if doc.doc_type == "credit_memo"]
    assert summary["invoices"] + summary["credits"] == len(book.invoices) and summary["credits"] == len(credits) > 0
    assert summary["customers"] == len(book.customers) and summary["lines"] == book.line_count
    invoices = {i["invoiceNumber"]: i for i in st.admin.invoices()}
    assert {i["status"] for i in invoices.values()} == {"pending_accounting"}
    for doc in book.invoices:
        seeded = invoices[str(doc.number)]
        sign = -1 if doc.doc_type == "credit_memo" else 1
        assert seeded["totalPrice"] == sign * doc.total and seeded["taxAmount"] == sign * doc.tax_total
        assert seeded["customer"]["name"] == doc.customer_name and seeded["location"]["name"] == doc.site_name
        assert [i["name"] for i in seeded["items"]] == [line.item_code for line in doc.lines]
        if doc.doc_type == "credit_memo":
            # A credit is an invoice with negative quantities on the job of the invoice it credits.
            assert all(i["quantity"] < 0 and i["price"] > 0 for i in seeded["items"])
            assert seeded["job"]["id"] == invoices[str(doc.applies_to)]["job"]["id"]
            assert seeded["notes"].startswith(f"Credit against invoice {doc.applies_to}")
    external = {c["external"]["customer_number"] for c in st.admin.customers()}
    assert external == {c.customer_number for c in book.customers}
    # The same book seeded again gets the same ids.
    again = st.admin.seed_book(book)
    assert again == summary and {i["invoiceNumber"]: i["id"] for i in st.admin.invoices()} == {
        n: i["id"] for n, i in invoices.items()}


def test_credits_can_be_seeded_with_negative_prices_instead(st):
    st.admin.seed(seed=7, lines=300, credit_style="negative_price", status="internal_review")
    credits = [i for i in st.admin.invoices() if i["totalPrice"] < 0]
    assert credits and all(item["price"] < 0 < item["quantity"] for c in credits for item in c["items"])
    assert {i["status"] for i in st.admin.invoices()} == {"internal_review"}


# --- restart and the command line ------------------------------------------------------------------

def test_invoices_comments_and_sessions_survive_a_restart(tmp_path):
    state = tmp_path / "account.sqlite3"
    with run_emulator(state) as handle:
        handle.admin.seed(seed=3, lines=120)
        api = Api(handle)
        first = api.data(api.get("/invoice", limit=1))["invoices"][0]
        api.post("/comment", {"entityType": "invoice", "entityId": first["id"], "content": "kept", "visibility": []})
        before = handle.admin.invoices()
        token = api.token
    with run_emulator(state) as handle:
        again = httpx.get(handle.api_url + "/comment", params={"entityType": "invoice", "entityId": first["id"]},
                          cookies={"PHPSESSID": token})
        assert again.status_code == 200 and again.json()["data"]["comments"][0]["content"] == "kept"
        after = handle.admin.invoices()
        assert [(i["id"], i["totalPrice"]) for i in after] == [(i["id"], i["totalPrice"]) for i in before]
        created = make_invoices(handle, 1)[0]
        assert created["id"] == max(i["id"] for i in before) + 1  # ids keep counting


def test_the_command_line_prints_its_url_first_and_a_kill_9_loses_nothing(tmp_path):
    state = tmp_path / "cli.sqlite3"
    with spawn_emulator(state) as handle:
        assert handle.admin.seed(seed=5, lines=80)["invoices"] > 0
        api = Api(handle)
        invoice = api.data(api.get("/invoice", limit=1))["invoices"][0]
        assert api.put(f"/invoice/{invoice['id']}", {"status": "processed"}).status_code == 200
        port = int(handle.base_url.rsplit(":", 1)[1])
        handle.kill()
        assert not handle.alive
    with run_emulator(state, port=port) as handle:  # back at the URL the bridge is configured with
        assert handle.base_url.endswith(f":{port}")
        assert handle.admin.invoice(invoice["id"])["status"] == "processed"
