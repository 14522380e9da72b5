"""The two files the Patriot destination writes, their rows and how a file is read back.

The customer file is Patriot's own customer import (Accounting > Receivables > Customer List > Import
Customers): a header row of Patriot's field names, one customer per row, at most 200 rows per file. Patriot
takes only its fields, so the bridge's customer key travels in `Notes` ("Customer key C001 (invoice bridge)"),
which is how a later run knows the customer was already written.

The keying sheet is for a person: Patriot imports no invoices, credits or payments, so each one is listed
once, one row per line, every row carrying the document's header and totals. `Lines In Document` lets a
reader tell a complete document from one cut short by a crash.

Both are CSV, UTF-8 without byte-order mark (Patriot maps the header cells by name), CRLF, text cells one
line with formula starts neutralised, money as plain decimals.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Mapping, Sequence

from bridge_assets.destinations.kit.cells import amount_text, quantity_text, row_cells, text_cell
from bridge_assets.destinations.kit.files import Entry, FileScan, complete_records
from bridge_assets.destinations.kit.run_files import as_date
from bridge_assets.model.document import AccountingDocument, content_hash

CUSTOMERS_PER_FILE = 200          # Patriot: "up to 200 customers per file"
BUSINESS_NAME_MAX = 50            # Patriot: Business Name at most 50 characters

CUSTOMER_COLUMNS = ("Business Name", "First Name", "Last Name", "Address 1", "Address 2", "City", "State", "Zip",
                    "Email", "Phone", "Notes")
KEYING_COLUMNS = ("Type", "Number", "Date", "Due Date", "Customer", "Customer Key", "Terms", "PO Number", "Line",
                  "Item", "Description", "Qty", "Rate", "Amount", "Taxable", "Line Tax", "Subtotal", "Tax", "Total",
                  "Applies To", "Memo", "Lines In Document", "Request Id", "Content Hash")
KEYING_NUMERIC = frozenset({"Line", "Qty", "Rate", "Amount", "Line Tax", "Subtotal", "Tax", "Total",
                            "Lines In Document"})
TYPE_WORDS = {"invoice": "Invoice", "credit_memo": "Credit", "payment": "Payment"}
_DOC_TYPES = {word: doc_type for doc_type, word in TYPE_WORDS.items()}

_KEY_NOTE = re.compile(r"^Customer key (.+) \(invoice bridge\)$")


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


CUSTOMER_HEADER = _csv([CUSTOMER_COLUMNS])
KEYING_HEADER = _csv([KEYING_COLUMNS])


def customer_key_note(customer_key: str) -> str:
    return f"Customer key {customer_key} (invoice bridge)"


def business_name(document: AccountingDocument) -> str:
    """The customer's Business Name as both files hold it."""
    return text_cell(document.customer_name).strip()


def customer_problem(document: AccountingDocument) -> str | None:
    """Why Patriot's customer import would refuse this document's customer, or None."""
    name = business_name(document)
    if not name:
        return "has no customer name, and Patriot's customer import needs a Business Name"
    if len(name) > BUSINESS_NAME_MAX:
        return (f"has customer name {name!r} of {len(name)} characters, but Patriot's Business Name holds at most "
                f"{BUSINESS_NAME_MAX}")
    if not text_cell(document.customer_key).strip():
        return "has no customer key"
    return None


def customer_row(document: AccountingDocument, name: str) -> bytes:
    row = {"Business Name": name, "Notes": customer_key_note(text_cell(document.customer_key))}
    return _csv([row_cells(row, CUSTOMER_COLUMNS, frozenset())])


def keying_rows(document: AccountingDocument, request_id: str, customer: str) -> bytes:
    lines = sorted(document.lines, key=lambda line: line.line_no)
    header = {
        "Type": TYPE_WORDS[document.doc_type], "Number": document.doc_number, "Date": _iso(document.txn_date),
        "Due Date": _iso(document.due_date), "Customer": customer,
        "Customer Key": document.customer_key, "Terms": document.terms, "PO Number": document.po_number,
        "Subtotal": amount_text(document.subtotal), "Tax": amount_text(document.tax_total),
        "Total": amount_text(document.total),
        "Applies To": "; ".join(f"{a.doc_number}: {amount_text(a.amount)}"
                                for a in sorted(document.applies_to, key=lambda a: a.doc_key)),
        "Memo": document.memo, "Lines In Document": str(len(lines)), "Request Id": request_id,
        "Content Hash": document.content_hash or content_hash(document),
    }
    rows = [header] if not lines else [{
        **header, "Line": str(line.line_no), "Item": line.item_code, "Description": line.description,
        "Qty": quantity_text(line.qty), "Rate": quantity_text(line.unit_price), "Amount": amount_text(line.amount),
        "Taxable": "Y" if line.taxable else "N", "Line Tax": amount_text(line.tax_amount),
    } for line in lines]
    return _csv([row_cells(row, KEYING_COLUMNS, KEYING_NUMERIC) for row in rows])


def _iso(value: dt.date | dt.datetime | None) -> str:
    return as_date(value).isoformat() if value is not None else ""


def _records(data: bytes, header: bytes) -> tuple[list[tuple[dict[str, str], int]], bool] | None:
    """The complete CSV records after `header` with the offset where each ends; None when not our file."""
    if not data.startswith(header):
        return ([], True) if header.startswith(data) else None
    columns = next(csv.reader([header.decode("utf-8")]))
    return list(complete_records(data, len(header), columns)), False


def scan_customer_file(data: bytes) -> FileScan | None:
    """The customers (doc_type `customer`, number = customer key) complete at the start of a customer file."""
    read = _records(data, CUSTOMER_HEADER)
    if read is None:
        return None
    entries, complete = [], 0
    for record, end in read[0]:
        match = _KEY_NOTE.match(record["Notes"])
        if match is None:
            break
        entries.append(Entry(action="create", doc_type="customer", doc_number=match.group(1), request_id="",
                             content_hash="", total="", rows=(record,)))
        complete = end
    return FileScan(tuple(entries), complete)


def scan_keying_sheet(data: bytes) -> FileScan | None:
    """The documents whose every line row is present at the start of a keying sheet."""
    read = _records(data, KEYING_HEADER)
    if read is None:
        return None
    entries: list[Entry] = []
    pending: list[dict[str, str]] = []
    complete = 0
    for record, end in read[0]:
        try:
            expected = max(1, int(record["Lines In Document"]))
            doc_type = _DOC_TYPES[record["Type"]]
        except (KeyError, ValueError):
            break
        if pending and _key(pending[0]) != _key(record):
            break
        pending.append(record)
        if len(pending) == expected:
            first = pending[0]
            entries.append(Entry(action="create", doc_type=doc_type, doc_number=first["Number"],
                                 request_id=first["Request Id"], content_hash=first["Content Hash"],
                                 total=first["Total"], rows=tuple(pending)))
            pending, complete = [], end
    return FileScan(tuple(entries), complete)


def _key(record: Mapping[str, str]) -> tuple[str, ...]:
    return record["Type"], record["Number"], record["Request Id"], record["Content Hash"]
