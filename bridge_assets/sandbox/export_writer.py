"""Write a book as SedonaOffice "Export Invoice Detail" files, clean or deliberately damaged.

The baseline layout is one row per invoice line, document header fields repeated on every line, one
file per accounting period, as a report style exported to CSV from SedonaOffice looks. The knobs are
the ways real exports differ (encoding, currency formatting, a trailing report total, CSV or Excel),
and `defects` are the ways they go wrong; each defect damages the first period's file only, in the
same place every time, so a test can say exactly what the bridge must refuse.

Files are written under a `.part` name and renamed into place, so a folder watcher never sees half
a file. Same book and same options give byte-identical files (the XLSX zip is stamped with fixed
times), because the bridge identifies a file by its sha256.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import io
import json
import os
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Callable, Iterable, Iterator

from bridge_assets.sandbox.book import Book, Invoice

COLUMNS: tuple[str, ...] = (
    "InvoiceNumber", "InvoiceDate", "DocumentType", "AppliesToInvoice", "CustomerNumber", "CustomerName",
    "MasterAccountCode", "SiteName", "ItemCode", "Description", "BillCycle", "ServiceStartDate",
    "ServiceEndDate", "Quantity", "Rate", "Amount", "Taxable", "TaxAmount", "InvoiceTotal", "TermCode",
    "PONumber",
)
NULL_DATE = "12/30/1899"                       # SedonaOffice's "no date"
REPORT_TOTAL_LABEL = "Report Total"
DOCUMENT_TYPES = {"invoice": "Invoice", "credit_memo": "Credit"}
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252")
AMOUNT_STYLES = ("plain", "currency")
FILE_FORMATS = ("csv", "xlsx")
DEFECTS = ("renamed_column", "bad_amount", "duplicate_invoice_number", "unknown_credit_reference")

RENAMED_AMOUNT_HEADER = "Amt Billed"          # a spelling the parser's alias table does not know
BAD_AMOUNT_TEXT = "12.3.4"
UNKNOWN_INVOICE_NUMBER = 999999

_COL = {name: i for i, name in enumerate(COLUMNS)}
_XLSX_TIMESTAMP = (2026, 1, 1, 0, 0, 0)


def export_file_name(period: str, file_format: str = "csv") -> str:
    return f"invoice_detail_{period}.{file_format}"


def write_exports(
    book: Book,
    folder: Path | str,
    *,
    encoding: str = "utf-8",
    amount_style: str = "plain",
    total_row: bool = True,
    defects: Iterable[str] = (),
    file_format: str = "csv",
) -> list[Path]:
    """Write one export file per period of `book` into `folder`; returns the paths in period order."""
    defects = tuple(defects)
    _check_choice("encoding", encoding, ENCODINGS)
    _check_choice("amount_style", amount_style, AMOUNT_STYLES)
    _check_choice("file_format", file_format, FILE_FORMATS)
    for defect in defects:
        _check_choice("defect", defect, DEFECTS)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    by_period: dict[str, list[Invoice]] = {period: [] for period in book.periods}
    for document in book.invoices:
        by_period[document.period].append(document)

    paths = []
    for index, (period, documents) in enumerate(by_period.items()):
        header = list(COLUMNS)
        rows: Iterable[list[str]] = _rows(documents, amount_style)
        if index == 0 and defects:
            rows = list(rows)
            if not rows:
                raise ValueError(f"defects need lines in the first period ({period}); ask for more lines")
            for defect in DEFECTS:                     # a fixed order, whatever order they were asked in
                if defect in defects:
                    _DEFECTS[defect](header, rows, book)
        footer = _report_total_row(documents, amount_style) if total_row else None
        path = folder / export_file_name(period, file_format)
        if file_format == "csv":
            _write_csv(path, header, rows, footer, encoding)
        else:
            _write_xlsx(path, header, rows, footer, period)
        paths.append(path)
    return paths


def write_book_json(book: Book, path: Path | str) -> Path:
    """The whole book (payments included) as JSON, for the API emulators."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _written_in_place(path) as part:
        with open(part, "w", encoding="utf-8") as handle:
            json.dump(book.to_dict(), handle, ensure_ascii=False, indent=1)
    return path


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} {value!r} is not one of: {', '.join(choices)}")


# --- rows ----------------------------------------------------------------------------------------

def _rows(documents: list[Invoice], amount_style: str) -> Iterator[list[str]]:
    """One row per line, streamed: a million rows held at once would cost seconds of garbage collection."""
    money_text = _currency if amount_style == "currency" else _plain_money
    for doc in documents:
        is_credit = doc.doc_type == "credit_memo"
        number, date, doc_type = str(doc.number), _date(doc.invoice_date), DOCUMENT_TYPES[doc.doc_type]
        applies_to = "" if doc.applies_to is None else str(doc.applies_to)
        customer, name, master, site = doc.customer_number, doc.customer_name, doc.master_account, doc.site_name
        total, terms, po_number = money_text(doc.total, is_credit), doc.terms, doc.po_number
        for line in doc.lines:
            yield [
                number, date, doc_type, applies_to, customer, name, master, site,
                line.item_code, line.description, line.bill_cycle, _date(line.service_start),
                _date(line.service_end), _quantity(line.quantity), _rate(line.rate),
                money_text(line.amount, is_credit), "Y" if line.taxable else "N",
                money_text(line.tax_amount, is_credit), total, terms, po_number,
            ]


def _report_total_row(documents: list[Invoice], amount_style: str) -> list[str]:
    """Sums of the columns as printed: credits add in the plain style and subtract where parenthesized.

    InvoiceTotal is repeated on every line of a document, so its total counts each document once.
    """
    credits_subtract = amount_style == "currency"
    amount = tax = total = Decimal("0.00")
    for doc in documents:
        sign = -1 if credits_subtract and doc.doc_type == "credit_memo" else 1
        amount += sign * doc.subtotal
        tax += sign * doc.tax_total
        total += sign * doc.total
    money_text = _currency if credits_subtract else _plain_money
    row = [""] * len(COLUMNS)
    row[0] = REPORT_TOTAL_LABEL
    row[_COL["Amount"]] = money_text(abs(amount), amount < 0)
    row[_COL["TaxAmount"]] = money_text(abs(tax), tax < 0)
    row[_COL["InvoiceTotal"]] = money_text(abs(total), total < 0)
    return row


# --- text conventions ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _date(day: dt.date | None) -> str:
    return NULL_DATE if day is None else f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


@functools.lru_cache(maxsize=4096)
def _quantity(value: Decimal) -> str:
    """Up to 4 decimals, trailing zeros dropped: 1, 1.5, 0.3871."""
    text = format(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@functools.lru_cache(maxsize=4096)
def _rate(value: Decimal) -> str:
    """At least 2 decimals and at most 4: 95.00, 19.95, 12.3456."""
    text = format(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def _plain_money(amount: Decimal, is_credit: bool) -> str:
    return str(amount)


def _currency(amount: Decimal, is_credit: bool) -> str:
    return f"({amount:,.2f})" if is_credit else f"${amount:,.2f}"


# --- defects -------------------------------------------------------------------------------------

def _renamed_column(header: list[str], rows: list[list[str]], book: Book) -> None:
    header[_COL["Amount"]] = RENAMED_AMOUNT_HEADER


def _bad_amount(header: list[str], rows: list[list[str]], book: Book) -> None:
    rows[len(rows) // 2][_COL["Amount"]] = BAD_AMOUNT_TEXT


def _duplicate_invoice_number(header: list[str], rows: list[list[str]], book: Book) -> None:
    """Repeat the first document of another customer under the first document's number, right after it."""
    spans = _document_spans(rows)
    first_start, first_end = spans[0]
    first_customer = rows[first_start][_COL["CustomerNumber"]]
    other = next(((s, e) for s, e in spans if rows[s][_COL["CustomerNumber"]] != first_customer), None)
    if other is None:
        raise ValueError("duplicate_invoice_number needs two customers in the first period; ask for more lines")
    copies = [list(row) for row in rows[other[0]:other[1]]]
    for row in copies:
        row[_COL["InvoiceNumber"]] = rows[first_start][_COL["InvoiceNumber"]]
    rows[first_end:first_end] = copies


def _unknown_credit_reference(header: list[str], rows: list[list[str]], book: Book) -> None:
    """Point the first credit at an invoice number the book has never issued."""
    last_number = book.invoices[-1].number if book.invoices else 0
    unknown = str(UNKNOWN_INVOICE_NUMBER if UNKNOWN_INVOICE_NUMBER > last_number else last_number + 1)
    credit = next(((s, e) for s, e in _document_spans(rows) if rows[s][_COL["DocumentType"]] == "Credit"), None)
    if credit is None:
        raise ValueError("unknown_credit_reference needs a credit in the first period; ask for more lines")
    for row in rows[credit[0]:credit[1]]:
        row[_COL["AppliesToInvoice"]] = unknown


def _document_spans(rows: list[list[str]]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for index in range(1, len(rows) + 1):
        if index == len(rows) or rows[index][0] != rows[start][0]:
            spans.append((start, index))
            start = index
    return spans


_DEFECTS: dict[str, Callable[[list[str], list[list[str]], Book], None]] = {
    "renamed_column": _renamed_column,
    "bad_amount": _bad_amount,
    "duplicate_invoice_number": _duplicate_invoice_number,
    "unknown_credit_reference": _unknown_credit_reference,
}


# --- files ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def _written_in_place(path: Path) -> Iterator[Path]:
    """Yields a `.part` path to write, renamed over `path` only once the writing has succeeded."""
    part = path.with_name(path.name + ".part")
    try:
        yield part
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, path)


def _write_csv(
    path: Path, header: list[str], rows: Iterable[list[str]], footer: list[str] | None, encoding: str
) -> None:
    with _written_in_place(path) as part:
        with open(part, "w", encoding=encoding, newline="", buffering=1 << 20) as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
            writer.writerow(header)
            writer.writerows(rows)
            if footer is not None:
                writer.writerow([])
                writer.writerow(footer)


def _write_xlsx(
    path: Path, header: list[str], rows: Iterable[list[str]], footer: list[str] | None, period: str
) -> None:
    """Every cell is the same text the CSV would hold, so both formats parse to the same values."""
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    workbook = Workbook(write_only=True)
    workbook.properties.created = workbook.properties.modified = dt.datetime(*_XLSX_TIMESTAMP)
    workbook.properties.creator = "SedonaOffice"
    sheet = workbook.create_sheet(f"Invoice Detail {period}")
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    if footer is not None:
        sheet.append([])
        sheet.append(footer)
    buffer = io.BytesIO()
    # openpyxl's own save stamps the current time; its writer lets us keep the fixed one.
    ExcelWriter(workbook, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    with _written_in_place(path) as part:
        _copy_zip_with_fixed_times(buffer, part)


def _copy_zip_with_fixed_times(source: io.BytesIO, target: Path) -> None:
    """Zip members carry their write time; a fixed one makes the same workbook the same bytes."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for member in original.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=_XLSX_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = member.external_attr
            copy.writestr(info, original.read(member.filename))
