"""The two file destinations: the accountant staging CSV and the QuickBooks Desktop IIF file.

Real files in tmp_path, documents built directly, no mocks.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from bridge_assets.destinations.base import Action, DestinationError, PostRequest, Status
from bridge_assets.destinations.kit.cells import neutralise_formula
from bridge_assets.destinations.kit.files import PARTIAL_SUFFIX
from bridge_assets.destinations.iif.adapter import IifDestination, to_ascii
from bridge_assets.destinations.staging_csv.adapter import StagingCsvDestination
from bridge_assets.model.document import document_from_dict as document_from_canonical_dict
from bridge_assets.model.document import (
    AccountingDocument,
    Application,
    DocumentLine,
    canonical_dict,
    line_amount,
    money,
)

PERIOD = "2026-09"


def line(line_no: int, kind: str, item_code: str, qty: str, unit_price: str, *, taxable: bool = False,
         tax: str = "0.00", description: str | None = None) -> DocumentLine:
    return DocumentLine(
        line_no=line_no, kind=kind, item_code=item_code,
        description=description if description is not None else f"{item_code} line {line_no}",
        qty=Decimal(qty), unit_price=Decimal(unit_price), amount=line_amount(Decimal(qty), Decimal(unit_price)),
        taxable=taxable, tax_amount=Decimal(tax),
        service_start=dt.date(2026, 9, 1) if kind == "rmr" else None,
        service_end=dt.date(2026, 9, 30) if kind == "rmr" else None,
    )


STANDARD_LINES = (
    line(1, "rmr", "MON-RES", "1", "39.95", taxable=True, tax="2.80"),
    line(2, "ticket_labor", "LABOR", "1.5", "85", description="Replace keypad"),
    line(3, "ticket_part", "KEYPAD-6160", "1", "112.50", taxable=True, tax="7.88"),
)


def document(doc_number: str = "1001", *, doc_type: str = "invoice", customer_name: str = "Acme Alarm Co",
             lines: tuple[DocumentLine, ...] = STANDARD_LINES, memo: str = "September billing",
             txn_date: dt.date = dt.date(2026, 9, 15), applies_to: tuple[Application, ...] = ()) -> AccountingDocument:
    subtotal = sum((money(l.amount) for l in lines), Decimal("0.00"))
    tax = sum((money(l.tax_amount) for l in lines), Decimal("0.00"))
    return AccountingDocument(
        doc_key=f"sedona:{doc_type}:{doc_number}", source="sedona", doc_type=doc_type, source_id=doc_number,
        doc_number=doc_number, txn_date=txn_date, period=PERIOD, due_date=txn_date + dt.timedelta(days=30),
        customer_key="C-100", customer_name=customer_name, master_account="M-100", site="12 Main St",
        terms="Net 30", po_number="PO-77", subtotal=subtotal, tax_total=tax, total=subtotal + tax,
        currency="USD", memo=memo, source_ref="export.csv:2", lines=lines, applies_to=applies_to,
    ).with_hash()


def create(doc: AccountingDocument, previous: dict | None = None) -> PostRequest:
    return PostRequest(action=Action.CREATE, document=doc, request_id=f"req-{doc.doc_key}", previous=previous)


def update(doc: AccountingDocument, previous: dict | None) -> PostRequest:
    return PostRequest(action=Action.UPDATE, document=doc, request_id=f"req2-{doc.doc_key}", previous=previous)


def run(destination, requests, run_id: str = "run-1", period: str = PERIOD):
    destination.begin_run(run_id, period)
    outcomes = destination.post(requests)
    return outcomes, destination.end_run()


def iif_transactions(path: Path) -> tuple[list[list[str]], list[list[list[str]]]]:
    """(header rows, transactions as lists of rows of cells) from an IIF file, checking CRLF and ASCII."""
    data = path.read_bytes()
    data.decode("ascii")                                   # raises if anything is not ASCII
    assert b"\n" not in data.replace(b"\r\n", b"")         # CRLF only
    rows = [row.split("\t") for row in data.decode("ascii").split("\r\n")[:-1]]
    headers = [row for row in rows if row[0].startswith("!")]
    transactions, current = [], []
    for row in rows:
        if row[0] == "TRNS":
            current = [row]
        elif row[0] == "SPL":
            current.append(row)
        elif row[0] == "ENDTRNS":
            transactions.append(current)
    return headers, transactions


def cell(headers: list[list[str]], row: list[str], column: str) -> str:
    header = next(h for h in headers if h[0] == "!" + row[0])
    return row[header.index(column)]


def staging_rows(path: Path) -> list[dict[str, str]]:
    data = path.read_bytes()
    assert data.startswith("\ufeff".encode("utf-8"))
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# --- QuickBooks Desktop IIF ---------------------------------------------------------------------------


def test_iif_invoice_and_credit_memo_balance_to_zero_including_tax(tmp_path):
    invoice = document("1001")
    credit = document("CM-7", doc_type="credit_memo", lines=(line(1, "fee", "TRIP", "1", "45", taxable=True,
                                                                    tax="3.15"),))
    outcomes, paths = run(IifDestination(tmp_path), [create(invoice), create(credit)])

    assert [o.status for o in outcomes] == [Status.CREATED, Status.CREATED]
    headers, (inv, cm) = iif_transactions(Path(paths[0]))
    for transaction in (inv, cm):
        assert sum(Decimal(cell(headers, row, "AMOUNT")) for row in transaction) == 0

    assert cell(headers, inv[0], "TRNSTYPE") == "INVOICE"
    assert cell(headers, inv[0], "ACCNT") == "Accounts Receivable"
    assert Decimal(cell(headers, inv[0], "AMOUNT")) == invoice.total == Decimal("290.63")
    assert [cell(headers, r, "ACCNT") for r in inv[1:]] == [
        "Recurring Monthly Revenue", "Service Labor Income", "Parts Sales", "Sales Tax Payable"]
    assert [cell(headers, r, "AMOUNT") for r in inv[1:]] == ["-39.95", "-127.50", "-112.50", "-10.68"]
    assert [cell(headers, r, "QNTY") for r in inv[1:4]] == ["-1", "-1.5", "-1"]
    assert [cell(headers, r, "PRICE") for r in inv[1:4]] == ["39.95", "85", "112.5"]
    assert cell(headers, inv[0], "DATE") == "09/15/2026" and cell(headers, inv[0], "DUEDATE") == "10/15/2026"
    assert cell(headers, inv[0], "TOPRINT") == "N"

    assert cell(headers, cm[0], "TRNSTYPE") == "CREDIT MEMO"
    assert [cell(headers, r, "AMOUNT") for r in cm] == ["-48.15", "45.00", "3.15"]
    assert cell(headers, cm[1], "ACCNT") == "Trip Charges" and cell(headers, cm[1], "QNTY") == "1"


def test_iif_header_rows_once_per_file_across_several_posts(tmp_path):
    destination = IifDestination(tmp_path)
    destination.begin_run("run-1", PERIOD)
    for number in ("1001", "1002", "1003"):
        assert destination.post([create(document(number))])[0].status is Status.CREATED
    [path] = destination.end_run()

    headers, transactions = iif_transactions(Path(path))
    assert [h[0] for h in headers] == ["!TRNS", "!SPL", "!ENDTRNS"]
    assert [cell(headers, t[0], "DOCNUM") for t in transactions] == ["1001", "1002", "1003"]
    assert Path(path).name == f"qbd_{PERIOD}_run-1.iif"


def test_iif_docnum_longer_than_limit_fails_naming_the_option(tmp_path):
    long_number = document("SED-INV-000123")          # 14 characters
    outcomes, paths = run(IifDestination(tmp_path), [create(long_number)])
    [outcome] = outcomes
    assert outcome.status is Status.FAILED and outcome.error_code == "docnum_too_long"
    assert "SED-INV-000123" in outcome.message and "max_docnum" in outcome.message
    assert paths == [] and list(tmp_path.iterdir()) == []

    outcomes, _ = run(IifDestination(tmp_path, max_docnum=21), [create(long_number)], run_id="run-2")
    assert outcomes[0].status is Status.CREATED


def test_iif_update_fails_saying_what_changed_and_to_edit_by_hand(tmp_path):
    before = document("1001")
    after = document("1001", lines=(*STANDARD_LINES, line(4, "fee", "TRIP", "1", "45")))
    outcomes, paths = run(IifDestination(tmp_path), [update(after, previous=canonical_dict(before))])

    [outcome] = outcomes
    assert outcome.status is Status.FAILED and outcome.error_code == "update_unsupported"
    assert "290.63" in outcome.message and "335.63" in outcome.message
    assert "edit it by hand" in outcome.message and "QuickBooks Desktop" in outcome.message
    assert "lines" in outcome.message
    assert outcome.before == canonical_dict(before)
    assert paths == []


def test_iif_refuses_zero_dollar_invoice_and_payments(tmp_path):
    zero = document("1001", lines=(line(1, "other", "NOTE", "1", "0"),))
    payment = document("P-1", doc_type="payment", lines=(),
                       applies_to=(Application("sedona:invoice:1001", "1001", Decimal("10.00")),))
    outcomes, paths = run(IifDestination(tmp_path), [create(zero), create(payment)])

    assert [(o.status, o.error_code) for o in outcomes] == [
        (Status.FAILED, "zero_amount"), (Status.FAILED, "payment_unsupported")]
    assert "$0" in outcomes[0].message
    assert "cannot link a payment" in outcomes[1].message
    assert paths == []


def test_iif_transliterates_non_ascii_and_replaces_semicolons(tmp_path):
    doc = document("1001", customer_name="Café Ñandú Security",
                   memo="Visit; see notes",
                   lines=(line(1, "ticket_labor", "LABOR", "1", "85",
                               description="Técnico’s “visit” – 2 hrs… naïve façade"),))
    outcomes, paths = run(IifDestination(tmp_path), [create(doc)])

    assert outcomes[0].status is Status.CREATED
    headers, [transaction] = iif_transactions(Path(paths[0]))
    assert cell(headers, transaction[0], "NAME") == "Cafe Nandu Security"
    assert cell(headers, transaction[0], "MEMO") == "Visit, see notes"
    assert cell(headers, transaction[1], "MEMO") == 'Tecnico\'s "visit" - 2 hrs... naive facade'
    assert to_ascii("Straße Ærø €5 ™") == "Strasse AEro EUR5 TM"


def test_iif_refuses_a_document_that_does_not_balance(tmp_path):
    wrong_total = dataclasses.replace(document("1001"), total=Decimal("300.00"))
    outcomes, paths = run(IifDestination(tmp_path), [create(wrong_total)])
    assert outcomes[0].status is Status.FAILED and outcomes[0].error_code == "unbalanced"
    assert "300.00" in outcomes[0].message and "279.95" in outcomes[0].message
    assert paths == []


def test_iif_resolve_references_reports_what_to_change(tmp_path):
    fine = document("1001")
    tabbed = document("1002", customer_name="Acme\tAlarm")
    too_long = document("1003", customer_name="A" * 42)
    no_ascii = document("1004", customer_name="東京警備")
    long_item = document("1005", lines=(line(1, "other", "X" * 32, "1", "5"),))

    problems = IifDestination(tmp_path).resolve_references([fine, tabbed, too_long, no_ascii, long_item])

    assert set(problems) == {d.doc_key for d in (tabbed, too_long, no_ascii, long_item)}
    assert "tab" in problems[tabbed.doc_key]
    assert "42 characters" in problems[too_long.doc_key] and "41" in problems[too_long.doc_key]
    assert "no ASCII form" in problems[no_ascii.doc_key]
    assert "Item code" in problems[long_item.doc_key] and "31" in problems[long_item.doc_key]
    outcomes, _ = run(IifDestination(tmp_path), [create(tabbed)])
    assert outcomes[0].error_code == "invalid_reference"


def test_iif_void_and_restore_tell_the_bookkeeper_to_act_by_hand(tmp_path):
    destination = IifDestination(tmp_path)
    void = destination.void_or_delete("invoice", "qbd_2026-09_run-1.iif#1001", None)
    restore = destination.restore("invoice", "qbd_2026-09_run-1.iif#1001", canonical_dict(document("1001")))
    assert void.status is Status.FAILED and "void it by hand" in void.message and "1001" in void.message
    assert restore.status is Status.FAILED and "290.63" in restore.message


def test_iif_bad_account_option_is_refused():
    with pytest.raises(DestinationError, match="income_accounts"):
        IifDestination(Path("unused"), income_accounts={"rmr": "Revenue;RMR"})


# --- accountant staging CSV ---------------------------------------------------------------------------


def test_staging_writes_one_row_per_line_with_plain_decimals(tmp_path):
    payment = document("P-1", doc_type="payment", lines=(),
                       applies_to=(Application("sedona:invoice:1001", "1001", Decimal("290.63")),))
    outcomes, [path] = run(StagingCsvDestination(tmp_path), [create(document("1001")), create(payment)])

    assert [o.status for o in outcomes] == [Status.CREATED, Status.CREATED]
    assert outcomes[0].after == canonical_dict(document("1001")) and outcomes[0].version == "run-1"
    assert outcomes[0].dest_id == f"staging_{PERIOD}_run-1.csv#1001"
    rows = staging_rows(Path(path))
    assert [(r["doc_number"], r["line_no"], r["amount"]) for r in rows] == [
        ("1001", "1", "39.95"), ("1001", "2", "127.50"), ("1001", "3", "112.50"), ("P-1", "", "")]
    first = rows[0]
    assert (first["action"], first["txn_date"], first["due_date"], first["qty"], first["taxable"]) == (
        "create", "2026-09-15", "2026-10-15", "1", "Y")
    assert (first["doc_subtotal"], first["doc_tax"], first["doc_total"]) == ("279.95", "10.68", "290.63")
    assert first["content_hash"] == document("1001").content_hash
    assert first["request_id"] == "req-sedona:invoice:1001" and first["service_start"] == "2026-09-01"
    assert rows[3]["applies_to"] == "1001:290.63" and rows[3]["doc_total"] == "0.00"


def test_staging_update_row_carries_previous_total(tmp_path):
    before = document("1001")
    after = document("1001", lines=(*STANDARD_LINES, line(4, "fee", "TRIP", "1", "45")))
    outcomes, [path] = run(StagingCsvDestination(tmp_path), [update(after, previous=canonical_dict(before))])

    assert outcomes[0].status is Status.UPDATED
    assert outcomes[0].before == canonical_dict(before) and outcomes[0].after == canonical_dict(after)
    rows = staging_rows(Path(path))
    assert {(r["action"], r["previous_total"], r["doc_total"]) for r in rows} == {("update", "290.63", "335.63")}
    assert len(rows) == 4


def test_staging_void_row_and_revert(tmp_path):
    destination = StagingCsvDestination(tmp_path)
    original = document("1001")
    changed = document("1001", lines=STANDARD_LINES[:1])
    run(destination, [create(original)], run_id="run-1")
    outcomes, _ = run(destination, [update(changed, previous=canonical_dict(original))], run_id="run-2")

    destination.begin_run("revert-1", PERIOD)
    restored = destination.restore("invoice", outcomes[0].dest_id, canonical_dict(original))
    voided = destination.void_or_delete("invoice", restored.dest_id, None)
    again = destination.void_or_delete("invoice", restored.dest_id, None)
    [path] = destination.end_run()

    assert restored.status is Status.UPDATED and restored.before["total"] == "42.75"
    assert voided.status is Status.VOIDED and again.status is Status.VOIDED
    rows = staging_rows(Path(path))
    assert [(r["action"], r["line_no"], r["doc_total"], r["previous_total"]) for r in rows] == [
        ("update", "1", "290.63", "42.75"), ("update", "2", "290.63", "42.75"),
        ("update", "3", "290.63", "42.75"), ("void", "", "290.63", "")]
    assert document_from_canonical_dict(canonical_dict(original)).content_hash == original.content_hash


# --- both ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [StagingCsvDestination, IifDestination])
def test_nothing_posted_writes_no_file(tmp_path, make):
    destination = make(tmp_path, closed_through=dt.date(2026, 8, 31))
    destination.begin_run("run-1", PERIOD)
    assert destination.end_run() == []
    outcomes, paths = run(destination, [create(document("1001", txn_date=dt.date(2026, 8, 31)))], run_id="run-2")
    assert outcomes[0].status is Status.HELD
    assert paths == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make", [StagingCsvDestination, IifDestination])
def test_closed_through_holds_documents_on_or_before_it(tmp_path, make):
    destination = make(tmp_path, closed_through=dt.date(2026, 8, 31))
    assert destination.is_period_open(dt.date(2026, 9, 1)) and not destination.is_period_open(dt.date(2026, 8, 31))
    assert make(tmp_path).is_period_open(dt.date(2001, 1, 1))

    outcomes, paths = run(destination, [create(document("1001", txn_date=dt.date(2026, 8, 31)))])
    assert outcomes[0].status is Status.HELD
    assert "closed through 2026-08-31" in outcomes[0].message and "closed_through" in outcomes[0].message
    assert paths == []


@pytest.mark.parametrize("make", [StagingCsvDestination, IifDestination])
def test_second_run_gets_a_new_file_with_only_what_it_was_given(tmp_path, make):
    destination = make(tmp_path)
    _, [first] = run(destination, [create(document("1001")), create(document("1002"))], run_id="run-1")
    _, [second] = run(destination, [create(document("1003"))], run_id="run-2")
    _, [third] = run(destination, [create(document("1004"))], run_id="run-2")   # a reused run id

    assert len({first, second, third}) == 3
    assert "run-2" in Path(second).name and PERIOD in Path(second).name
    for path, numbers in ((first, {"1001", "1002"}), (second, {"1003"}), (third, {"1004"})):
        text = Path(path).read_bytes().decode("utf-8-sig")
        assert {n for n in ("1001", "1002", "1003", "1004") if n in text} == numbers


@pytest.mark.parametrize("make", [StagingCsvDestination, IifDestination])
def test_find_locates_a_document_written_by_an_earlier_run(tmp_path, make):
    _, [path] = run(make(tmp_path), [create(document("1001")), create(document("CM-1", doc_type="credit_memo"))])

    restarted = make(tmp_path)
    found = restarted.find("invoice", "1001")
    assert found is not None and found.status is Status.CREATED
    assert found.dest_id == f"{Path(path).name}#1001"
    assert restarted.find("credit_memo", "CM-1").dest_id == f"{Path(path).name}#CM-1"
    assert restarted.find("invoice", "9999") is None
    assert restarted.find("credit_memo", "1001") is None


@pytest.mark.parametrize("make", [StagingCsvDestination, IifDestination])
def test_formula_injection_is_neutralised_but_negative_amounts_are_intact(tmp_path, make):
    doc = document("1001", customer_name="@SUM(A1)", lines=(
        line(1, "ticket_labor", "LABOR", "2", "50", description="=HYPERLINK(\"http://x\",\"pay\")"),
        line(2, "other", "DISC", "1", "-10", description="-10% loyalty"),
        line(3, "other", "MISC", "1", "5", description="+1 note"),
    ))
    outcomes, [path] = run(make(tmp_path), [create(doc)])
    assert outcomes[0].status is Status.CREATED

    if make is IifDestination:
        headers, [transaction] = iif_transactions(Path(path))
        assert cell(headers, transaction[0], "NAME") == "'@SUM(A1)"
        assert [cell(headers, r, "MEMO") for r in transaction[1:]] == [
            "'=HYPERLINK(\"http://x\",\"pay\")", "'-10% loyalty", "'+1 note"]
        assert [cell(headers, r, "AMOUNT") for r in transaction] == ["95.00", "-100.00", "10.00", "-5.00"]
        assert [cell(headers, r, "QNTY") for r in transaction[1:]] == ["-2", "-1", "-1"]
        assert cell(headers, transaction[2], "PRICE") == "-10"
    else:
        rows = staging_rows(Path(path))
        assert {r["customer_name"] for r in rows} == {"'@SUM(A1)"}
        assert [r["description"] for r in rows] == ["'=HYPERLINK(\"http://x\",\"pay\")", "'-10% loyalty", "'+1 note"]
        assert [r["amount"] for r in rows] == ["100.00", "-10.00", "5.00"]
        assert rows[1]["unit_price"] == "-10"

    assert neutralise_formula("\tcmd") == "'\tcmd" and neutralise_formula("  =1+1") == "'  =1+1"
    assert neutralise_formula("Smith, John") == "Smith, John"


def test_staging_keeps_unicode_in_utf8_with_bom(tmp_path):
    doc = document("1001", customer_name="Café Ñandú Security", memo="line one\nline two")
    _, [path] = run(StagingCsvDestination(tmp_path), [create(doc)])
    rows = staging_rows(Path(path))
    assert rows[0]["customer_name"] == "Café Ñandú Security"
    assert rows[0]["memo"] == "line one line two"


@pytest.mark.parametrize("make", [StagingCsvDestination, IifDestination])
def test_torn_tail_of_a_crashed_run_is_cut_and_its_file_finished(tmp_path, make):
    """A power cut mid-write leaves half a document; the next run keeps only the acknowledged ones."""
    _, [path] = run(make(tmp_path), [create(document("1001")), create(document("1002"))], run_id="crashed")
    whole = Path(path).read_bytes()
    complete = len(whole)
    # As the crashed run would have left it: unfinished name, a third document torn halfway.
    _, [scratch] = run(make(tmp_path / "scratch"), [create(document("1003"))], run_id="x")
    third = Path(scratch).read_bytes()[len(make(tmp_path).folder.header):]
    partial = Path(path + PARTIAL_SUFFIX)
    os.rename(path, partial)
    partial.write_bytes(whole + third[: len(third) // 2])

    destination = make(tmp_path)
    assert destination.find("invoice", "1002") is not None
    assert destination.find("invoice", "1003") is None            # torn: the ledger will re-send it
    outcomes, paths = run(destination, [create(document("1003"))], run_id="next")

    assert paths[0] == path and Path(path).read_bytes() == whole[:complete]
    assert not partial.exists() and len(paths) == 2
    assert destination.find("invoice", "1003").dest_id == f"{Path(paths[1]).name}#1003"


def test_kill_during_a_run_loses_no_acknowledged_document(tmp_path):
    """kill -9 right after a document's outcome: a later run finds it and finishes the file."""
    script = textwrap.dedent(f"""
        import datetime as dt, os, signal, sys
        from decimal import Decimal
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        from bridge_assets_tests.test_file_destinations import create, document
        from bridge_assets.destinations.iif.adapter import IifDestination
        destination = IifDestination({str(tmp_path)!r})
        destination.begin_run("killed", "{PERIOD}")
        outcome, = destination.post([create(document("1001"))])
        assert outcome.status.value == "created"
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    assert [p.name for p in tmp_path.iterdir()] == [f"qbd_{PERIOD}_killed.iif{PARTIAL_SUFFIX}"]

    destination = IifDestination(tmp_path)
    assert destination.find("invoice", "1001").dest_id == f"qbd_{PERIOD}_killed.iif#1001"
    destination.begin_run("next", PERIOD)
    assert destination.end_run() == [str(tmp_path / f"qbd_{PERIOD}_killed.iif")]
    _, [transaction] = iif_transactions(tmp_path / f"qbd_{PERIOD}_killed.iif")
    assert transaction[0][0] == "TRNS"


def test_a_live_runs_unfinished_file_is_left_alone(tmp_path):
    writer, other = StagingCsvDestination(tmp_path), StagingCsvDestination(tmp_path)
    writer.begin_run("live", PERIOD)
    writer.post([create(document("1001"))])
    other.begin_run("other", PERIOD)
    assert other.end_run() == []
    assert other.find("invoice", "1001") is not None
    assert writer.end_run() == [str(tmp_path / f"staging_{PERIOD}_live.csv")]
