"""The sample-book generator: what its export files promise to the parser and to the demos.

The files are read back with nothing but the csv module and the canonical money rules, so a test
here fails when the generator writes something a real SedonaOffice export would not.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import openpyxl
import pytest

from bridge_assets.model.document import line_amount, money
from bridge_assets.sandbox import generator
from bridge_assets.sandbox.book import CYCLE_MONTHS, generate_book
from bridge_assets.sandbox.export_writer import (
    BAD_AMOUNT_TEXT, COLUMNS, DEFECTS, NULL_DATE, RENAMED_AMOUNT_HEADER, write_book_json, write_exports,
)

SEED = 7
LINES = 3000
C = {name: i for i, name in enumerate(COLUMNS)}


@pytest.fixture(scope="module")
def book():
    return generate_book(SEED, LINES)


@pytest.fixture(scope="module")
def clean_files(book, tmp_path_factory):
    return write_exports(book, tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def clean_rows(clean_files):
    """Every line row of every period, with the file each came from."""
    return [row for path in clean_files for row in read_export(path).lines]


class Export:
    def __init__(self, header, lines, footer):
        self.header, self.lines, self.footer = header, lines, footer


def read_export(path: Path, encoding: str = "utf-8") -> Export:
    with open(path, encoding=encoding, newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    if [] in body:
        blank = body.index([])
        return Export(header, body[:blank], body[blank + 1:])
    return Export(header, body, [])


def documents(rows):
    grouped = collections.defaultdict(list)
    for row in rows:
        grouped[int(row[C["InvoiceNumber"]])].append(row)
    return grouped


def parse_date(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%m/%d/%Y").date()


# --- determinism ----------------------------------------------------------------------------------

def test_same_seed_writes_byte_identical_files(tmp_path):
    first = write_exports(generate_book(SEED, 2000), tmp_path / "first")
    second = write_exports(generate_book(SEED, 2000), tmp_path / "second")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_same_seed_writes_the_same_bytes_in_another_process(tmp_path):
    """String hashing is randomised per process: nothing may depend on a set's or a hash's order."""
    args = ["--seed", "11", "--lines", "1500", "--out"]
    assert generator.main(args + [str(tmp_path / "here")]) == 0
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-m", "bridge_assets.sandbox.generator", *args, str(tmp_path / "there")],
                   env=env, check=True, capture_output=True)
    here = sorted((tmp_path / "here").iterdir())
    there = sorted((tmp_path / "there").iterdir())
    assert [p.name for p in here] == [p.name for p in there]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(here, there))


def test_different_seed_writes_different_files(tmp_path, clean_files):
    other = write_exports(generate_book(SEED + 1, LINES), tmp_path)
    assert all(a.read_bytes() != b.read_bytes() for a, b in zip(clean_files, other))


# --- size and shape -------------------------------------------------------------------------------

@pytest.mark.parametrize("requested", [50, 1000, 20000])
def test_line_count_is_within_five_percent_of_the_request(tmp_path, requested):
    paths = write_exports(generate_book(SEED, requested), tmp_path)
    written = sum(len(read_export(path).lines) for path in paths)
    assert abs(written - requested) <= requested * 0.05


def test_one_file_per_period_named_for_it(clean_files):
    assert [p.name for p in clean_files] == [
        "invoice_detail_2026-08.csv", "invoice_detail_2026-09.csv", "invoice_detail_2026-10.csv",
    ]


def test_rows_are_crlf_terminated_and_quoted_only_when_needed(clean_files):
    raw = b"".join(path.read_bytes() for path in clean_files)
    assert raw.count(b"\n") == raw.count(b"\r\n")
    assert raw.startswith(b",".join(c.encode() for c in COLUMNS) + b"\r\n")
    assert '"Muñoz, José"'.encode() in raw              # a comma forces quotes
    assert b'"Joe\'s ""Famous"" Pizza"' in raw            # quotes inside are doubled
    assert b",Invoice,," in raw                          # nothing else is quoted


def test_header_fields_repeat_on_every_line_of_a_document(clean_rows):
    header_columns = [C[c] for c in ("InvoiceDate", "DocumentType", "AppliesToInvoice", "CustomerNumber",
                                     "CustomerName", "MasterAccountCode", "SiteName", "InvoiceTotal",
                                     "TermCode", "PONumber")]
    for number, rows in documents(clean_rows).items():
        assert len({tuple(row[i] for i in header_columns) for row in rows}) == 1, number


def test_numbers_rise_with_dates_across_invoices_and_credits(clean_rows):
    docs = sorted(documents(clean_rows).items())
    numbers = [number for number, _ in docs]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    dates = [parse_date(rows[0][C["InvoiceDate"]]) for _, rows in docs]
    assert dates == sorted(dates)
    assert {rows[0][C["DocumentType"]] for _, rows in docs} == {"Invoice", "Credit"}


def test_names_include_non_ascii_apostrophes_and_master_accounts(clean_rows):
    names = {row[C["CustomerName"]] for row in clean_rows}
    assert {"Muñoz, José", "Café Olé LLC", "O'Brien, Pat", 'Joe\'s "Famous" Pizza'} <= names
    masters = {row[C["MasterAccountCode"]] for row in clean_rows}
    assert "" in masters and any(re.fullmatch(r"M\d{4}", m) for m in masters)
    assert all(re.fullmatch(r"C\d{5}", row[C["CustomerNumber"]]) for row in clean_rows)


def test_quantities_and_rates_show_only_the_decimals_they_need(clean_rows):
    for row in clean_rows:
        assert re.fullmatch(r"\d+(\.\d{0,3}[1-9])?", row[C["Quantity"]]), row[C["Quantity"]]
        assert re.fullmatch(r"\d+\.\d{2}(\d{0,1}[1-9])?", row[C["Rate"]]), row[C["Rate"]]
    assert "1.5" in {row[C["Quantity"]] for row in clean_rows}
    assert {"95.00", "142.50", "19.95"} <= {row[C["Rate"]] for row in clean_rows}


# --- money ----------------------------------------------------------------------------------------

def test_every_invoice_total_is_its_line_amounts_plus_tax(clean_rows):
    for number, rows in documents(clean_rows).items():
        expected = sum(Decimal(r[C["Amount"]]) + Decimal(r[C["TaxAmount"]]) for r in rows)
        assert Decimal(rows[0][C["InvoiceTotal"]]) == expected, number


def test_amount_is_quantity_times_rate_rounded_half_up(clean_rows):
    half_cents = 0
    for row in clean_rows:
        quantity, rate = Decimal(row[C["Quantity"]]), Decimal(row[C["Rate"]])
        assert Decimal(row[C["Amount"]]) == line_amount(quantity, rate), row
        exact = quantity * rate
        half_cents += exact.quantize(Decimal("0.01"), ROUND_HALF_EVEN) != money(exact)
    assert half_cents > 0, "no line lands on a half cent, so the rounding mode is untested"


def test_tax_is_on_parts_always_labor_and_trip_never_and_rmr_by_state(book):
    customers = {c.customer_number: c for c in book.customers}
    seen_rmr_taxable = set()
    for doc in book.invoices:
        customer = customers[doc.customer_number]
        for line in doc.lines:
            expected_taxable = {"ticket_part": True, "ticket_labor": False, "fee": False}.get(
                line.kind, customer.rmr_taxable)
            assert line.taxable is expected_taxable, (doc.number, line)
            expected_tax = money(line.amount * customer.tax_rate) if line.taxable else Decimal("0.00")
            assert line.tax_amount == expected_tax, (doc.number, line)
            if line.kind == "rmr":
                seen_rmr_taxable.add(line.taxable)
    assert seen_rmr_taxable == {True, False}
    assert {c.tax_rate for c in book.customers} == {Decimal("0.0725"), Decimal("0.06")}


def test_each_credit_applies_to_an_earlier_invoice_of_the_same_customer_and_never_exceeds_it(clean_rows):
    docs = documents(clean_rows)
    credits = {n: rows for n, rows in docs.items() if rows[0][C["DocumentType"]] == "Credit"}
    assert credits
    for number, rows in credits.items():
        target = docs[int(rows[0][C["AppliesToInvoice"]])]
        assert target[0][C["DocumentType"]] == "Invoice"
        assert int(target[0][C["InvoiceNumber"]]) < number
        assert parse_date(target[0][C["InvoiceDate"]]) < parse_date(rows[0][C["InvoiceDate"]])
        assert target[0][C["CustomerNumber"]] == rows[0][C["CustomerNumber"]]
        assert Decimal(rows[0][C["InvoiceTotal"]]) <= Decimal(target[0][C["InvoiceTotal"]])
        assert Decimal(rows[0][C["Amount"]]) > 0
    invoices = [rows for rows in docs.values() if rows[0][C["DocumentType"]] == "Invoice"]
    assert all(rows[0][C["AppliesToInvoice"]] == "" for rows in invoices)


def test_report_total_row_sums_the_columns(clean_files):
    export = read_export(clean_files[0])
    (footer,) = export.footer
    assert footer[0] == "Report Total" and len(footer) == len(COLUMNS)
    summed = (C["Amount"], C["TaxAmount"], C["InvoiceTotal"])
    assert all(value == "" for i, value in enumerate(footer) if i not in (0, *summed))
    assert Decimal(footer[C["Amount"]]) == sum(Decimal(r[C["Amount"]]) for r in export.lines)
    assert Decimal(footer[C["TaxAmount"]]) == sum(Decimal(r[C["TaxAmount"]]) for r in export.lines)
    once_per_document = sum(Decimal(rows[0][C["InvoiceTotal"]]) for rows in documents(export.lines).values())
    assert Decimal(footer[C["InvoiceTotal"]]) == once_per_document


def test_currency_style_shows_dollars_and_puts_credits_in_parentheses(book, tmp_path, clean_files):
    (path, *_) = write_exports(book, tmp_path, amount_style="currency")
    export, plain = read_export(path), read_export(clean_files[0])
    money_columns = (C["Amount"], C["TaxAmount"], C["InvoiceTotal"])
    for row, plain_row in zip(export.lines, plain.lines):
        for i in money_columns:
            value = Decimal(plain_row[i])
            if row[C["DocumentType"]] == "Credit":
                assert row[i] == f"({value:,.2f})"
            else:
                assert row[i] == f"${value:,.2f}"
    assert any("," in row[C["InvoiceTotal"]] for row in export.lines)      # thousands separators appear
    credits = sum(Decimal(r[C["Amount"]]) for r in plain.lines if r[C["DocumentType"]] == "Credit")
    invoices = sum(Decimal(r[C["Amount"]]) for r in plain.lines if r[C["DocumentType"]] == "Invoice")
    assert export.footer[0][C["Amount"]] == f"${invoices - credits:,.2f}"


def test_no_total_row_when_asked(book, tmp_path):
    (path, *_) = write_exports(book, tmp_path, total_row=False)
    export = read_export(path)
    assert export.footer == [] and "Report Total" not in path.read_text(encoding="utf-8")


# --- recurring billing ----------------------------------------------------------------------------

def test_bill_cycles_bill_their_months_in_advance(clean_rows):
    seen = set()
    for row in clean_rows:
        cycle = row[C["BillCycle"]]
        if not row[C["ItemCode"]].startswith("RMR-"):
            assert cycle == "" and row[C["ServiceStartDate"]] == row[C["ServiceEndDate"]] == NULL_DATE
            continue
        if row[C["DocumentType"]] == "Credit":
            continue
        months = CYCLE_MONTHS[cycle]
        assert Decimal(row[C["Quantity"]]) == months
        invoiced, start, end = (parse_date(row[C[c]]) for c in ("InvoiceDate", "ServiceStartDate", "ServiceEndDate"))
        assert invoiced.day == 1 and start == invoiced
        month_after_end = end + dt.timedelta(days=1)
        assert month_after_end.day == 1
        assert (month_after_end.year - start.year) * 12 + month_after_end.month - start.month == months
        seen.add(cycle)
    assert seen == {"M", "Q", "S", "A"}


def test_a_cycle_invoice_holds_only_rmr_and_only_on_the_first(clean_rows):
    for rows in documents(clean_rows).values():
        if any(r[C["ItemCode"]].startswith("RMR-") for r in rows) and rows[0][C["DocumentType"]] == "Invoice":
            assert all(r[C["ItemCode"]].startswith("RMR-") for r in rows)
            assert parse_date(rows[0][C["InvoiceDate"]]).day == 1


# --- defects --------------------------------------------------------------------------------------

@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_appears_in_the_first_period_file_only(book, tmp_path, clean_files, clean_rows, defect):
    damaged = write_exports(book, tmp_path, defects=[defect])
    for clean, other in zip(clean_files[1:], damaged[1:]):
        assert clean.read_bytes() == other.read_bytes()
    export = read_export(damaged[0])
    amount = C["Amount"]
    if defect == "renamed_column":
        assert export.header[amount] == RENAMED_AMOUNT_HEADER and "Amount" not in export.header
    elif defect == "bad_amount":
        assert [row[amount] for row in export.lines].count(BAD_AMOUNT_TEXT) == 1
    elif defect == "duplicate_invoice_number":
        customers_per_number = [{r[C["CustomerNumber"]] for r in rows} for rows in documents(export.lines).values()]
        assert sum(len(customers) > 1 for customers in customers_per_number) == 1
    elif defect == "unknown_credit_reference":
        known = {row[C["InvoiceNumber"]] for row in clean_rows}
        unknown = {r[C["AppliesToInvoice"]] for r in export.lines if r[C["DocumentType"]] == "Credit"} - known
        assert unknown == {"999999"}
    if defect != "duplicate_invoice_number":
        assert len(export.lines) == len(read_export(clean_files[0]).lines)


def test_defects_are_reproducible_and_work_on_a_tiny_book(tmp_path):
    tiny = generate_book(SEED, 50)
    first = write_exports(tiny, tmp_path / "a", defects=DEFECTS)
    second = write_exports(tiny, tmp_path / "b", defects=reversed(DEFECTS))
    assert first[0].read_bytes() == second[0].read_bytes()


def test_unknown_defect_is_refused(book, tmp_path):
    with pytest.raises(ValueError, match="renamed_column"):
        write_exports(book, tmp_path, defects=["missing_everything"])


# --- encodings and formats ------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252"])
def test_other_encodings_round_trip_the_same_rows(book, tmp_path, clean_files, encoding):
    paths = write_exports(book, tmp_path, encoding=encoding)
    raw = paths[0].read_bytes()
    if encoding == "utf-8-sig":
        assert raw.startswith(b"\xef\xbb\xbfInvoiceNumber,")
    else:
        assert "Muñoz, José".encode("cp1252") in raw
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    for clean, other in zip(clean_files, paths):
        assert read_export(other, encoding).lines == read_export(clean).lines


def test_xlsx_opens_with_openpyxl_and_holds_the_csv_rows(book, tmp_path, clean_files):
    paths = write_exports(book, tmp_path / "a", file_format="xlsx")
    again = write_exports(book, tmp_path / "b", file_format="xlsx")
    assert paths[0].name == "invoice_detail_2026-08.xlsx"
    assert paths[0].read_bytes() == again[0].read_bytes()
    workbook = openpyxl.load_workbook(paths[0], read_only=True)
    sheet_rows = [["" if v is None else v for v in row] for row in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    with open(clean_files[0], encoding="utf-8", newline="") as handle:
        assert sheet_rows == list(csv.reader(handle))


# --- the book for the emulators -------------------------------------------------------------------

def test_payments_apply_to_their_customers_invoices_fully_partly_or_over(book):
    invoices = {d.number: d for d in book.invoices if d.doc_type == "invoice"}
    credited = {d.applies_to: d.total for d in book.invoices if d.doc_type == "credit_memo"}
    applied = collections.Counter()
    for payment in book.payments:
        assert payment.amount == sum(a.amount for a in payment.applications) + payment.unapplied
        assert payment.unapplied >= 0
        for application in payment.applications:
            invoice = invoices[application.invoice_number]
            assert invoice.customer_number == payment.customer_number
            assert invoice.invoice_date < payment.payment_date
            applied[invoice.number] += application.amount
    balances = {n: invoices[n].total - credited.get(n, 0) for n in applied}
    assert all(applied[n] <= balances[n] for n in applied)
    assert any(applied[n] < balances[n] for n in applied)                   # partial
    assert any(applied[n] == balances[n] for n in applied)                  # full
    assert any(p.unapplied > 0 for p in book.payments)                      # over
    assert any(len(p.applications) > 1 for p in book.payments)              # one check, two invoices


def test_book_to_dict_is_plain_json(book, tmp_path):
    path = write_book_json(book, tmp_path / "book.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(book.to_dict()))
    first = data["invoices"][0]
    assert first["invoice_date"] == "2026-08-01" and first["doc_type"] == "invoice"
    assert Decimal(first["total"]) == book.invoices[0].total
    assert {d["doc_type"] for d in data["invoices"]} == {"invoice", "credit_memo"}
    assert len(data["payments"]) == len(book.payments) and data["payments"][0]["applications"]


def test_generator_command_says_what_it_wrote(tmp_path, capsys):
    assert generator.main(["--lines", "500", "--out", str(tmp_path), "--defect", "bad_amount", "--json"]) == 0
    out = capsys.readouterr().out
    assert "invoice_detail_2026-08.csv" in out and "invoice_detail_2026-10.csv" in out
    assert "500 lines" in out and "credits" in out and "payments" in out and "bad_amount" in out
    assert (tmp_path / "book.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".part") == []
