"""Patriot Accounting: the customer import file and the keying sheet, checked by Patriot's importer rules
(`sandbox/patriot/importer.py`): every file accepted, every customer imported once and every invoice, credit
and payment keyed once across runs; what Patriot's importer refuses is refused before it is written.

Real files in tmp_path, a real DuckDB ledger, no mocks.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from bridge_assets.destinations.base import Action, PostRequest, Status
from bridge_assets.destinations.kit.files import PARTIAL_SUFFIX
from bridge_assets.destinations.patriot.adapter import PatriotDestination
from bridge_assets.destinations.registry import opened
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import posting
from bridge_assets.model.document import AccountingDocument, Application, DocumentLine, content_hash
from bridge_assets.sandbox.patriot.importer import Patriot, Refused

from ..conftest import line, receive_and_map, write_export

PERIOD = "2026-09"


def document(number: str, customer_key: str = "C001", name: str = "Smith, J", *, doc_type: str = "invoice",
             amount: str = "29.95", applies_to: tuple[Application, ...] = ()) -> AccountingDocument:
    lines = () if doc_type == "payment" else (DocumentLine(
        line_no=1, kind="rmr", item_code="RMR-MON", description="Monitoring", qty=Decimal("1"),
        unit_price=Decimal(amount), amount=Decimal(amount), taxable=False),)
    doc = AccountingDocument(
        doc_key=f"test:{doc_type}:{number}", source="test", doc_type=doc_type, source_id=number, doc_number=number,
        txn_date=dt.date(2026, 9, 1), period=PERIOD, due_date=None, customer_key=customer_key, customer_name=name,
        master_account="", site="", terms="NET30", po_number="", subtotal=Decimal(amount), tax_total=Decimal("0.00"),
        total=Decimal(amount), currency="USD", memo="", source_ref="", lines=lines, applies_to=applies_to)
    return doc.__class__(**{**doc.__dict__, "content_hash": content_hash(doc)})


def create(doc: AccountingDocument) -> PostRequest:
    return PostRequest(Action.CREATE, doc, f"req-{doc.doc_number}")


def import_everything(folder: Path) -> Patriot:
    """Patriot as a person would fill it from the folder: customer files first, then the keying sheets."""
    patriot = Patriot()
    for path in sorted(folder.glob("patriot-customers_*.csv"), key=lambda p: p.stat().st_mtime_ns):
        patriot.import_customers(path)
    for path in sorted(folder.glob("patriot-keying_*.csv"), key=lambda p: p.stat().st_mtime_ns):
        patriot.key_in(path)
    return patriot


def _run(db, settings, run_id: str, periods=("2026-09",)) -> posting.PostingReport:
    with opened("patriot", settings) as destination:
        with db.transaction() as con:
            planning.plan_periods(con, destination, list(periods), closed_through=None)
        return posting.execute_plan(db, destination, list(periods), run_id)


def test_nothing_is_written_twice_across_runs_and_patriot_accepts_every_file(settings, db):
    folder = settings.output / "patriot"
    receive_and_map(db, settings, [write_export(settings.inbox / "a.csv", [
        line(number="1"), line(number="2", customer="C002", name="Jones, K")])], [PERIOD])
    assert _run(db, settings, "run-1").outcomes == {"created": 2}
    receive_and_map(db, settings, [write_export(settings.inbox / "b.csv", [
        line(number="3"), line(number="4", doc_type="Credit", applies="1", customer="C001", rate="-10.00",
                               amount="-10.00", total="-10.00"),
        line(number="5", customer="C003", name="Lee, A")])], [PERIOD])
    assert _run(db, settings, "run-2").outcomes == {"created": 3}
    assert _run(db, settings, "run-3").outcomes == {}

    patriot = import_everything(folder)
    assert sorted(patriot.customers) == ["jones, k", "lee, a", "smith, j"]
    assert sorted(number for _, number in patriot.keyed) == ["1", "2", "3", "4", "5"]
    assert patriot.keyed[("Credit", "4")]["Applies To"] == "1: 10.00"
    assert len(list(folder.glob("patriot-customers_*.csv"))) == 2      # run-2 wrote only Lee, A
    with pytest.raises(Refused, match="already"):                       # importing a file again is refused
        patriot.import_customers(next(folder.glob("patriot-customers_*run-1.csv")))


def test_a_customer_file_holds_at_most_200_customers(tmp_path):
    destination = PatriotDestination(tmp_path)
    destination.begin_run("big", PERIOD)
    outcomes = []
    for start in range(0, 205, 200):
        outcomes += destination.post([create(document(f"{n}", f"K{n}", f"Customer {n}"))
                                      for n in range(start, min(start + 200, 205))])
    files = destination.end_run()
    assert {o.status for o in outcomes} == {Status.CREATED}
    customer_files = [Path(f) for f in files if "customers" in f]
    assert [len(p.read_text().splitlines()) - 1 for p in customer_files] == [200, 5]
    patriot = import_everything(tmp_path)
    assert len(patriot.customers) == 205 and len(patriot.keyed) == 205


def test_payments_name_the_invoices_they_pay_and_keyed_once(tmp_path):
    destination = PatriotDestination(tmp_path)
    destination.begin_run("r1", PERIOD)
    invoice = document("1001")
    payment = document("P-1", doc_type="payment", amount="20.00",
                       applies_to=(Application(invoice.doc_key, "1001", Decimal("20.00")),))
    assert [o.status for o in destination.post([create(invoice), create(payment)])] == [Status.CREATED] * 2
    destination.end_run()
    assert destination.find("payment", "P-1").dest_id.endswith("#P-1")
    patriot = import_everything(tmp_path)
    assert patriot.keyed[("Payment", "P-1")]["Applies To"] == "1001: 20.00"
    assert len(patriot.customers) == 1           # the payment's customer was already in the file


def test_what_patriots_import_refuses_is_refused_before_anything_is_written(tmp_path):
    destination = PatriotDestination(tmp_path)
    destination.begin_run("r1", PERIOD)
    long_name = "Northern Regional Alarm Monitoring Services Cooperative"
    first, kept = destination.post([create(document("1", "K1", long_name)),
                                    create(document("2", "K2", "Smith, J"))])
    destination.end_run()
    assert first.status is Status.FAILED and first.error_code == "invalid_reference"
    assert long_name in first.message and "50" in first.message and "nothing was written" in first.message
    assert kept.status is Status.CREATED
    assert destination.find("invoice", "1") is None
    import_everything(tmp_path)                  # what was written is all accepted


def test_two_customers_of_one_name_are_told_apart_by_their_key_as_patriot_needs(tmp_path):
    destination = PatriotDestination(tmp_path)
    destination.begin_run("r1", PERIOD)
    destination.post([create(document("1", "K2", "Smith, J"))])
    destination.end_run()
    destination.begin_run("r2", PERIOD)
    twin, again = destination.post([create(document("3", "K9", "SMITH, J")), create(document("4", "K9", "SMITH, J"))])
    far_too_long = destination.post([create(document("5", "K-" + "9" * 45, "Smith, J"))])[0]
    destination.end_run()
    assert twin.status is again.status is Status.CREATED
    assert far_too_long.status is Status.FAILED and "50 characters" in far_too_long.message
    patriot = import_everything(tmp_path)        # Patriot refuses a Business Name it already has: none is repeated
    assert sorted(patriot.customers) == ["smith, j", "smith, j (k9)"]
    assert {patriot.keyed[("Invoice", n)]["Customer"] for n in ("3", "4")} == {"SMITH, J (K9)"}


def test_the_importer_refuses_what_patriot_refuses(tmp_path):
    header = "Business Name,First Name,Last Name,Address 1,Address 2,City,State,Zip,Email,Phone,Notes\r\n"
    too_many = tmp_path / "many.csv"
    too_many.write_text(header + "".join(f"Cust {n},,,,,,,,,,\r\n" for n in range(201)))
    bad_rows = tmp_path / "rows.csv"
    bad_rows.write_text(header + ",Ann,,,,,,,,,\r\n" + "A" * 51 + ",,,,,,,,,,\r\n"
                        + "B,,,1 Main,,Leeds,YK,LS1 4AP,a@x.com; b@x.com,555-1234 ext 12,\r\n")
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("Customer,Notes\r\nAcme,\r\n")
    patriot = Patriot()
    with pytest.raises(Refused, match="at most 200"):
        patriot.import_customers(too_many)
    with pytest.raises(Refused) as refused:
        patriot.import_customers(bad_rows)
    assert len(refused.value.problems) == 6       # name, length, state, zip, two emails, extension
    with pytest.raises(Refused, match="'Customer' is not a Patriot customer field"):
        patriot.import_customers(foreign)
    assert patriot.customers == {}                # a refused file imports nothing


def test_update_and_void_are_left_to_a_person_with_what_to_do(tmp_path):
    destination = PatriotDestination(tmp_path)
    changed = document("1001", amount="39.95")
    update = destination.by_hand_outcome("supports_update", "update", "invoice", "1001", changed,
                                                      {"total": "29.95"})
    assert update.error_code and "29.95" in update.message and "39.95" in update.message
    assert "edit it by hand" in update.message
    void = destination.void_or_delete("invoice", "patriot-keying_2026-09_r1.csv#1001", None)
    assert "void it by hand" in void.message and "1001" in void.message


def test_a_killed_run_leaves_no_customer_to_be_written_twice(tmp_path):
    """kill -9 after a customer's row and its invoice: the next run finishes both files and writes neither again."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from bridge_assets_tests.destinations.test_patriot import create, document
        from bridge_assets.destinations.patriot.adapter import PatriotDestination
        destination = PatriotDestination({str(tmp_path)!r})
        destination.begin_run("killed", "{PERIOD}")
        outcome, = destination.post([create(document("1001"))])
        assert outcome.status.value == "created"
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"patriot-customers_{PERIOD}_killed.csv{PARTIAL_SUFFIX}", f"patriot-keying_{PERIOD}_killed.csv{PARTIAL_SUFFIX}"]
    destination = PatriotDestination(tmp_path)
    destination.begin_run("next", PERIOD)
    assert destination.find("invoice", "1001") is not None
    [outcome] = destination.post([create(document("1002"))])     # same customer: not written again
    written = destination.end_run()
    assert outcome.status is Status.CREATED and not any("customers" in f and "next" in f for f in written)
    patriot = import_everything(tmp_path)
    assert list(patriot.customers) == ["smith, j"] and len(patriot.keyed) == 2
