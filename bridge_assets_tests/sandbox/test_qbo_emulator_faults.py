"""Fault injection on demand: lost answers after a committed write, 5xx, latency, forced throttling."""

from __future__ import annotations

import time

import httpx
import pytest

from bridge_assets.sandbox.qbo import EmulatorSettings, run_emulator
from bridge_assets_tests.sandbox.conftest import QboCompany, fault_of, invoice_body


def test_dropped_response_commits_the_write_and_closes_the_connection_without_an_answer(books: QboCompany):
    customer = books.customer()
    books.handle.admin.set_faults(books.realm_id, drop_next_writes=1)
    body = invoice_body(customer, doc_number="DROP-1")
    with pytest.raises(httpx.RemoteProtocolError):
        books.post("/invoice", body, requestid="drop-1")
    # The write happened...
    assert len(books.handle.admin.dump(books.realm_id, "Invoice")) == 1
    # ...and a retry with the same requestid gets the original answer instead of a second invoice.
    retry = books.post("/invoice", body, requestid="drop-1")
    assert retry.status_code == 200 and retry.json()["Invoice"]["DocNumber"] == "DROP-1"
    assert len(books.handle.admin.dump(books.realm_id, "Invoice")) == 1
    outcomes = [entry["outcome"] for entry in books.handle.admin.journal(books.realm_id)]
    assert outcomes[-2:] == ["dropped:reset", "replayed"]


def test_a_blind_retry_after_a_dropped_response_meets_the_duplicate_number_guard(books: QboCompany):
    customer = books.customer()
    books.handle.admin.set_faults(books.realm_id, drop_next_writes=1)
    body = invoice_body(customer, doc_number="DROP-2")
    with pytest.raises(httpx.RemoteProtocolError):
        books.post("/invoice", body)
    assert fault_of(books.post("/invoice", body))["code"] == "6140"


def test_dropped_response_as_a_502_from_the_gateway(books: QboCompany):
    books.handle.admin.set_faults(books.realm_id, drop_next_writes=1, drop_mode="502")
    response = books.post("/customer", {"DisplayName": "Behind a gateway"})
    assert response.status_code == 502 and response.headers["content-type"].startswith("text/html")
    assert books.rows("SELECT * FROM Customer")["Customer"][0]["DisplayName"] == "Behind a gateway"


def test_dropped_response_as_a_timeout_holds_the_connection(tmp_path):
    settings = EmulatorSettings(time_scale=120, drop_mode="timeout")  # Intuit's 120 s last one second
    with run_emulator(tmp_path / "qbo.sqlite3", settings) as handle:
        company = QboCompany(handle, handle.admin.create_company())
        handle.admin.set_faults(company.realm_id, drop_next_writes=1)
        with pytest.raises(httpx.ReadTimeout):
            company.http.post("/customer", json={"DisplayName": "Slow"}, timeout=0.3)
        assert [c["DisplayName"] for c in handle.admin.dump(company.realm_id, "Customer")] == ["Slow"]
        company.close()


def test_drop_can_be_limited_to_one_entity(books: QboCompany):
    books.handle.admin.set_faults(books.realm_id, drop_next_writes=1, drop_entities=["Invoice"])
    customer = books.customer()                                  # not dropped
    with pytest.raises(httpx.RemoteProtocolError):
        books.post("/invoice", invoice_body(customer))


def test_injected_500_and_503_do_nothing(books: QboCompany):
    books.handle.admin.set_faults(books.realm_id, fail_next=[500, 503])
    system_fault = books.post("/customer", {"DisplayName": "Never"})
    assert fault_of(system_fault, 500)["code"] == "10000"
    assert system_fault.json()["Fault"]["type"] == "SystemFault"
    unavailable = books.post("/customer", {"DisplayName": "Never"})
    assert unavailable.status_code == 503 and unavailable.headers["content-type"].startswith("text/html")
    assert books.rows("SELECT COUNT(*) FROM Customer") == {"totalCount": 0}


def test_error_rate_is_seeded_and_reproducible(books: QboCompany):
    def statuses() -> list[int]:
        books.handle.admin.set_faults(books.realm_id, error_rate=0.5, seed=7)
        return [books.get("/preferences").status_code for _ in range(20)]

    first, second = statuses(), statuses()
    assert first == second
    assert {500, 503} & set(first) and 200 in first


def test_latency_is_added_to_every_request(books: QboCompany):
    books.handle.admin.set_faults(books.realm_id, latency_ms=300)
    started = time.monotonic()
    assert books.get("/preferences").status_code == 200
    assert time.monotonic() - started >= 0.3
    books.handle.admin.clear_faults(books.realm_id)
    started = time.monotonic()
    books.get("/preferences")
    assert time.monotonic() - started < 0.3


def test_throttle_next_forces_429(books: QboCompany):
    books.handle.admin.set_faults(books.realm_id, throttle_next=2)
    assert [books.get("/preferences").status_code for _ in range(3)] == [429, 429, 200]


def test_faults_for_one_company_leave_the_others_alone(books: QboCompany):
    neighbour = QboCompany(books.handle, books.handle.admin.create_company())
    books.handle.admin.set_faults(books.realm_id, fail_next=[503])
    assert neighbour.get("/preferences").status_code == 200
    assert books.get("/preferences").status_code == 503
    neighbour.close()


def test_reset_of_one_company_forgets_its_books_but_keeps_its_tokens(books: QboCompany):
    books.customer("Forgotten")
    books.handle.admin.reset(books.realm_id)
    assert books.rows("SELECT COUNT(*) FROM Customer") == {"totalCount": 0}
    assert books.rows("SELECT * FROM Item")["Item"][0]["Name"] == "Services"


def test_admin_dump_shows_inactive_voided_and_deleted_objects(books: QboCompany):
    customer = books.customer("Dumped")
    books.create("Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    active = books.customer("Active")
    kept, gone = books.invoice(active, doc_number="V-1"), books.invoice(active, doc_number="D-1")
    books.post("/invoice", {"Id": kept["Id"], "SyncToken": "0"}, operation="void")
    books.post("/invoice", {"Id": gone["Id"], "SyncToken": "0"}, operation="delete")
    admin = books.handle.admin
    assert {c["DisplayName"] for c in admin.dump(books.realm_id, "Customer")} == {"Dumped", "Active"}
    assert [i["PrivateNote"] for i in admin.dump(books.realm_id, "Invoice")] == ["Voided"]
    assert {i["DocNumber"] for i in admin.dump(books.realm_id, "Invoice", include_deleted=True)} == {"V-1", "D-1"}
