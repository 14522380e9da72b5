"""The QuickBooks mirror against the emulator on loopback: a full read first, then change data capture
that picks up edits, voids and deletions; a full read again whenever CDC cannot be trusted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest

from bridge_assets.destinations.qbo import mirror
from bridge_assets.destinations.qbo.payloads import dumps
from bridge_assets.sandbox.qbo import EmulatorHandle, run_emulator
from bridge_assets.runtime.storage import Database

from .qbo_books import EMULATOR_SETTINGS, Books


@pytest.fixture(scope="module")
def qbo(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("qbo") / "books.sqlite3", EMULATOR_SETTINGS) as handle:
        yield handle


@pytest.fixture
def books(qbo: EmulatorHandle, tmp_path: Path) -> Iterator[Books]:
    company = Books(qbo, tmp_path)
    yield company
    company.close()


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "bridge.duckdb")


def _rows(db: Database, realm_id: str, entity: str) -> dict[str, tuple]:
    with db.connect() as con:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT coalesce(doc_number, name), status, total, sync_token, txn_date, customer_name "
            "FROM qbo_mirror WHERE realm_id = ? AND entity = ?", [realm_id, entity]).fetchall()}


def _api_calls(books: Books, since: int) -> list[str]:
    return [entry["path"].rsplit("/", 1)[-1] for entry in books.journal()[since:]]


def test_first_run_reads_everything_then_cdc_picks_up_edits_voids_and_deletes(books: Books, db: Database):
    smith, jones = books.customer("Smith, J"), books.customer("Jones, K")
    first = books.invoice(smith, "1001", "29.95")
    second = books.invoice(jones, "1002", "45.00")
    third = books.invoice(smith, "1003", "12.10", date="2026-08-30")
    client = books.destination().client

    report = mirror.refresh(db, client, books.realm_id)

    assert [(r.entity, r.mode) for r in report.reads] == [(e, "full") for e in mirror.ENTITIES]
    assert all(r.reason == "first read of this company" for r in report.reads)
    invoices = _rows(db, books.realm_id, "Invoice")
    assert invoices == {
        "1001": ("active", Decimal("29.95"), "0", dt.date(2026, 9, 1), "Smith, J"),
        "1002": ("active", Decimal("45.00"), "0", dt.date(2026, 9, 1), "Jones, K"),
        "1003": ("active", Decimal("12.10"), "0", dt.date(2026, 8, 30), "Smith, J"),
    }
    assert set(_rows(db, books.realm_id, "Customer")) == {"Smith, J", "Jones, K"}
    assert "Services" in _rows(db, books.realm_id, "Item")
    assert report.changed_periods == ["2026-08", "2026-09"]

    books.change_line("Invoice", first["Id"], "2", "17.50")            # a person edits, voids, deletes
    books.void_invoice(second["Id"])
    books.delete("Invoice", third["Id"])
    books.invoice(jones, "1004", "8.00")
    books.create("Customer", {"DisplayName": "Old Account", "Active": False})
    seen = len(books.journal())

    report = mirror.refresh(db, client, books.realm_id)

    assert [(r.entity, r.mode) for r in report.reads] == [(e, "cdc") for e in mirror.ENTITIES]
    assert _api_calls(books, seen) == ["cdc"] * len(mirror.ENTITIES)    # no full read: one CDC call per entity
    invoices = _rows(db, books.realm_id, "Invoice")
    assert invoices["1001"][:3] == ("active", Decimal("35.00"), "1")
    assert invoices["1002"][:2] == ("voided", Decimal("0"))
    assert invoices["1003"][0] == "deleted" and invoices["1003"][1] == Decimal("12.10")  # last known content kept
    assert invoices["1004"][:2] == ("active", Decimal("8.00"))
    assert _rows(db, books.realm_id, "Customer")["Old Account"][0] == "inactive"
    changes = {(c.entity, c.label): c.change for c in report.changes}
    assert {k: v for k, v in changes.items() if k[0] == "Invoice"} == {
        ("Invoice", "1001"): "updated", ("Invoice", "1002"): "voided", ("Invoice", "1003"): "deleted",
        ("Invoice", "1004"): "created"}
    assert changes[("Customer", "Old Account")] == "created"

    again = mirror.refresh(db, client, books.realm_id)                 # the overlap re-reads, changes nothing
    assert [c for c in again.changes if c.entity != "Customer"] == []
    with db.connect() as con:
        raw = con.execute("SELECT raw FROM qbo_mirror WHERE realm_id = ? AND entity = 'Invoice' AND doc_number = '1001'",
                          [books.realm_id]).fetchall()[0][0]
    assert mirror.load_raw(raw)["TotalAmt"] == Decimal("35.00")


def test_a_watermark_past_the_cdc_look_back_means_a_full_read_that_still_notices_deletions(books: Books, db: Database):
    smith = books.customer("Smith, J")
    kept, gone = books.invoice(smith, "2001", "10.00"), books.invoice(smith, "2002", "20.00")
    client = books.destination().client
    mirror.refresh(db, client, books.realm_id)
    books.delete("Invoice", gone["Id"])
    with db.transaction() as con:                                        # the bridge was off for 40 days
        con.execute("UPDATE qbo_mirror_state SET watermark = watermark - INTERVAL 40 DAY WHERE realm_id = ?",
                    [books.realm_id])
    seen = len(books.journal())

    report = mirror.refresh(db, client, books.realm_id)

    assert {r.mode for r in report.reads} == {"full"}
    assert "30-day look-back" in report.reads[0].reason
    assert "cdc" not in _api_calls(books, seen)
    invoices = _rows(db, books.realm_id, "Invoice")
    assert (invoices["2001"][0], invoices["2002"][0]) == ("active", "deleted")
    assert [(c.label, c.change) for c in report.changes if c.entity == "Invoice"] == [("2002", "deleted")]
    assert kept["Id"] != gone["Id"]


def test_cdc_at_its_1000_object_cap_falls_back_to_a_full_read_of_that_entity(books: Books, db: Database):
    client = books.destination().client
    mirror.refresh(db, client, books.realm_id)
    names = [f"Customer {n:04d}" for n in range(1005)]
    for start in range(0, len(names), 30):                             # a bulk import in QuickBooks
        batch = {"BatchItemRequest": [{"bId": str(i), "operation": "create", "Customer": {"DisplayName": name}}
                                      for i, name in enumerate(names[start:start + 30])]}
        with books.api() as api:
            response = api.post("/batch", content=dumps(batch), headers={"Content-Type": "application/json"})
        assert response.status_code == 200 and "Fault" not in response.text

    report = mirror.refresh(db, client, books.realm_id)

    modes = {r.entity: (r.mode, r.reason) for r in report.reads}
    assert modes["Customer"][0] == "full" and "cap of 1000" in modes["Customer"][1]
    assert {e: m for e, (m, _) in modes.items() if e != "Customer"} == {e: "cdc" for e in mirror.ENTITIES if e != "Customer"}
    assert len(_rows(db, books.realm_id, "Customer")) == 1005
    assert sum(1 for c in report.changes if c.entity == "Customer" and c.change == "created") == 1005


def test_an_outage_names_the_entity_and_leaves_the_watermark_for_the_next_refresh(books: Books, db: Database):
    smith = books.customer("Smith, J")
    client = books.destination().client
    mirror.refresh(db, client, books.realm_id)
    with db.connect() as con:
        before = mirror.state(con, books.realm_id)["Invoice"]
    books.invoice(smith, "3001", "10.00")
    books.handle.admin.set_faults(books.realm_id, fail_next=[503] * 10)

    with pytest.raises(mirror.MirrorError, match="while the mirror read Invoice objects.*run the quickbooks_mirror"):
        mirror.refresh(db, client, books.realm_id, entities=["Invoice"])

    with db.connect() as con:
        assert mirror.state(con, books.realm_id)["Invoice"] == before
    books.handle.admin.clear_faults(books.realm_id)
    report = mirror.refresh(db, client, books.realm_id, entities=["Invoice"])
    assert [(c.label, c.change) for c in report.changes] == [("3001", "created")]
