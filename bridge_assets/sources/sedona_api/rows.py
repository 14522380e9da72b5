"""SedonaAPI invoices and credits as rows of the "Export Invoice Detail" layout.

The export path and the API path must give the same canonical documents (same `content_hash`) for
the same invoices, so the API path does not get its own mapping: its records are written as the text
rows an export would hold, one per invoice item, and `mapping.map_periods` types and checks them
exactly as it does a file's rows. Defects therefore surface the same way too: an unreadable date or
an amount that does not multiply out rejects the document with a named reason.

Rows are loaded like a received file: lineage `file_name = 'sedonaapi:<period>'`, a sha256 of the
rows (the same rows twice are a no-op), one `export_files` entry per load. Each load holds the
period's whole current state, built from the records kept by `sources.sedona_api.save_records`.

Where each column comes from is one table, `SOURCE_OF_COLUMN` (the API field names it relies on
that the facts do not confirm are marked * in `bridge_assets/sandbox/sedona_api/models.py`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any, Iterable, Mapping

import duckdb

from bridge_assets.sources.sedona_api.records import SedonaRecord, period_bounds, sedona_date_text
from bridge_assets.sources.sedona_api.store import stored_records
from bridge_assets.sources import schema as sources_schema
from bridge_assets.sources.sedona_lines import (  # shared with the export files' source
    CANONICAL_COLUMNS,
    FILE_NAME_PREFIX,
    FILES_TABLE,
    LINES_TABLE,
    SQL_NAMES,
    STATEMENTS_TABLE,
    STORED_LINES_TABLE,
)

ROWS_VERSION = "sedona-api-rows/1"
NULL_DATE_TEXT = "12/30/1899"

# Export column -> its source in the API. A credit's rows come from CustomerCredit and its Items.
SOURCE_OF_COLUMN: dict[str, str] = {
    "InvoiceNumber": "CustomerInvoice.InvoiceNumber | CustomerCredit.CreditNumber",
    "InvoiceDate": "CustomerInvoice.InvoiceDate | CustomerCredit.CreditDate",
    "DocumentType": "Invoice for CustomerInvoice, Credit for CustomerCredit",
    "AppliesToInvoice": "CustomerCredit.Details[].InvoiceNumber (exactly one invoice)",
    "CustomerNumber": "Customer.CustomerNumber via CustomerId",
    "CustomerName": "Customer.CustomerName via CustomerId",
    "MasterAccountCode": "Customer.MasterAccountCode via CustomerId",
    "SiteName": "CustomerSite.SiteName via CustomerSiteId",
    "ItemCode": "Items[].ItemCode, else Items[].PartCode",
    "Description": "Items[].Description",
    "BillCycle": "Items[].BillCycle",
    "ServiceStartDate": "Items[].ServiceStartDate",
    "ServiceEndDate": "Items[].ServiceEndDate",
    "Quantity": "Items[].Quantity",
    "Rate": "Items[].Rate",
    "Amount": "Items[].Amount",
    "Taxable": "Items[].Taxable",
    "TaxAmount": "Items[].TaxAmount",
    "InvoiceTotal": "Amount + TaxAmount (CustomerInvoice.Amount alone when it includes tax)",
    "TermCode": "CustomerInvoice.TermCode",
    "PONumber": "CustomerInvoice.PONumber",
}


class SedonaRowsError(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Unconvertible:
    """A document the export layout cannot express as it stands; reported, never half-written."""

    model: str
    record_id: str
    number: str | None
    reason: str


@dataclasses.dataclass(frozen=True)
class ExportRows:
    rows: list[dict[str, str]]               # SQL column name (sedona_export.SQL_NAMES) -> text
    skipped: list[Unconvertible]


@dataclasses.dataclass(frozen=True)
class LoadedRows:
    file_name: str
    file_sha256: str
    line_rows: int
    periods: tuple[str, ...]
    already_loaded: bool


# --- text, as an export writes it ----------------------------------------------------------------

def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return sedona_date_text(value.date())
    if isinstance(value, dt.date):
        return sedona_date_text(value)
    return str(value)


def _date_text(value: Any) -> str:
    """A service date: None (12/30/1899 on the wire, or absent) is written as the null date."""
    return NULL_DATE_TEXT if value is None else _text(value)


def _sum_text(*values: Any) -> str:
    """Money that is added up; anything that is not a number is handed on as text for mapping to refuse."""
    if any(v is None for v in values):
        return ""
    if all(isinstance(v, (Decimal, int)) and not isinstance(v, bool) for v in values):
        return _text(sum((Decimal(v) for v in values), Decimal("0")))
    return " + ".join(_text(v) for v in values)


# --- records -> rows -----------------------------------------------------------------------------

def export_rows(
    invoices: Iterable[SedonaRecord],
    credits: Iterable[SedonaRecord],
    customers: Iterable[SedonaRecord],
    sites: Iterable[SedonaRecord],
    *,
    invoice_amount_includes_tax: bool = False,
) -> ExportRows:
    """One export row per item of each invoice and credit, documents in number order."""
    customer_by_id = {r.record_id: r.fields for r in customers}
    site_by_id = {r.record_id: r.fields for r in sites}
    documents = [(r, "Invoice") for r in invoices] + [(r, "Credit") for r in credits]
    documents.sort(key=lambda d: (_number_key(d[0].number), d[1]))
    rows: list[dict[str, str]] = []
    skipped: list[Unconvertible] = []
    for record, doc_type in documents:
        try:
            rows += _document_rows(record, doc_type, customer_by_id, site_by_id, invoice_amount_includes_tax)
        except _Skip as why:
            skipped.append(Unconvertible(record.model, record.record_id, record.number, str(why)))
    return ExportRows(rows, skipped)


class _Skip(Exception):
    pass


def _number_key(number: str | None) -> tuple[int, str]:
    return (int(number), "") if number and number.isdigit() else (1 << 62, number or "")


def _document_rows(record: SedonaRecord, doc_type: str, customer_by_id: Mapping[str, Mapping[str, Any]],
                   site_by_id: Mapping[str, Mapping[str, Any]], amount_includes_tax: bool) -> list[dict[str, str]]:
    f = record.fields
    customer_id = f.get("CustomerId")
    customer = customer_by_id.get(str(customer_id))
    if customer is None:
        raise _Skip(f"customer id {customer_id} was not read from SedonaAPI; extract the Customer model too")
    site_id = f.get("CustomerSiteId")
    site_name = ""
    if site_id is not None:
        site = site_by_id.get(str(site_id))
        if site is None:
            raise _Skip(f"site id {site_id} was not read from SedonaAPI; extract the CustomerSite model too")
        site_name = _text(site.get("SiteName"))
    items = f.get("Items") or []
    if not items:
        raise _Skip("it has no items, and the export layout has one row per item")

    if doc_type == "Invoice":
        number, date = f.get("InvoiceNumber"), f.get("InvoiceDate")
        total = _text(f.get("Amount")) if amount_includes_tax else _sum_text(f.get("Amount"), f.get("TaxAmount"))
        applies_to, terms, po_number = "", _text(f.get("TermCode")), _text(f.get("PONumber"))
    else:
        number, date = f.get("CreditNumber"), f.get("CreditDate")
        total = _sum_text(f.get("Amount"), f.get("TaxAmount"))      # a credit's Amount excludes tax
        targets = sorted({_text(d.get("InvoiceNumber")) for d in f.get("Details") or [] if d.get("InvoiceNumber") is not None})
        if len(targets) > 1:
            raise _Skip(f"it applies to several invoices ({', '.join(targets)}); a canonical credit applies to one")
        applies_to, terms, po_number = (targets[0] if targets else ""), "", ""

    head = {
        "InvoiceNumber": _text(number), "InvoiceDate": _text(date), "DocumentType": doc_type,
        "AppliesToInvoice": applies_to, "CustomerNumber": _text(customer.get("CustomerNumber")),
        "CustomerName": _text(customer.get("CustomerName")), "MasterAccountCode": _text(customer.get("MasterAccountCode")),
        "SiteName": site_name, "InvoiceTotal": total, "TermCode": terms, "PONumber": po_number,
    }
    rows = []
    for item in items:
        code = item.get("ItemCode") or item.get("PartCode")
        row = {
            **head,
            "ItemCode": _text(code), "Description": _text(item.get("Description")),
            "BillCycle": _text(item.get("BillCycle")),
            "ServiceStartDate": _date_text(item.get("ServiceStartDate")),
            "ServiceEndDate": _date_text(item.get("ServiceEndDate")),
            "Quantity": _text(item.get("Quantity")), "Rate": _text(item.get("Rate")),
            "Amount": _text(item.get("Amount")), "Taxable": _text(item.get("Taxable")),
            "TaxAmount": _text(item.get("TaxAmount")),
        }
        rows.append({SQL_NAMES[c]: row[c] for c in CANONICAL_COLUMNS})
    return rows


def rows_for_period(con: duckdb.DuckDBPyConnection, period: str, *,
                    invoice_amount_includes_tax: bool = False) -> ExportRows:
    """The export rows of `period` from the records kept in `sedona_api_records`."""
    period_bounds(period)
    return export_rows(
        stored_records(con, "CustomerInvoice", period=period),
        stored_records(con, "CustomerCredit", period=period),
        stored_records(con, "Customer"),
        stored_records(con, "CustomerSite"),
        invoice_amount_includes_tax=invoice_amount_includes_tax,
    )


# --- loading rows beside the export files --------------------------------------------------------

def _require_intake_schema(con: duckdb.DuckDBPyConnection) -> None:
    tables = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    sequences = {row[0] for row in con.execute("SELECT sequence_name FROM duckdb_sequences()").fetchall()}
    if not {LINES_TABLE, STORED_LINES_TABLE, FILES_TABLE} <= tables or "export_file_seq" not in sequences:
        raise SedonaRowsError(f"the tables {LINES_TABLE} and {FILES_TABLE} do not exist yet; "
                              "call bridge_assets.sources.schema.ensure_schema(con) before loading SedonaAPI rows")


def _row_period(row: Mapping[str, str], default: str) -> str:
    try:
        return dt.datetime.strptime(row[SQL_NAMES["InvoiceDate"]].strip(), "%m/%d/%Y").strftime("%Y-%m")
    except ValueError:
        return default


def load_rows(con: duckdb.DuckDBPyConnection, period: str, rows: list[dict[str, str]], *,
              received_at: dt.datetime | None = None) -> LoadedRows:
    """Add `rows` to `sedona_export_lines` as one more received "file" named `sedonaapi:<period>` (kept inside
    the database, in `sedona_received_rows`: a period's load is small).

    Runs inside the caller's transaction. Loading rows identical to an earlier load is a no-op, as
    receiving the same file twice is. Each row is tagged with its own document's period. A load is
    the period's whole current state, so an empty one is recorded too.
    """
    _require_intake_schema(con)
    file_name = f"{FILE_NAME_PREFIX}{period}"
    payload = json.dumps({"version": ROWS_VERSION, "period": period, "rows": rows}, sort_keys=True, ensure_ascii=False)
    sha = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    periods = tuple(sorted({_row_period(row, period) for row in rows}))
    seen = con.execute(f"SELECT line_rows FROM {FILES_TABLE} WHERE file_sha256 = ?", [sha]).fetchone()
    if seen is not None:
        return LoadedRows(file_name, sha, seen[0], periods, True)
    # An empty load is still recorded: it is the period's latest state (everything cancelled).

    import pandas as pd     # on first use (runtime/frames.py says why)

    columns = [SQL_NAMES[c] for c in CANONICAL_COLUMNS]
    frame = pd.DataFrame(
        [[sha, file_name, number, ROWS_VERSION, _row_period(row, period), *(row[c] for c in columns)]
         for number, row in enumerate(rows, 1)],
        columns=["file_sha256", "file_name", "row_number", "parser_version", "period", *columns],
    ).astype({"row_number": "int64"})
    if rows:
        con.register("_sedona_api_rows", frame)
        try:
            names = ", ".join(frame.columns)
            con.execute(f"INSERT INTO {STORED_LINES_TABLE} ({names}) SELECT {names} FROM _sedona_api_rows")
        finally:
            con.unregister("_sedona_api_rows")
    seq = con.execute("SELECT nextval('export_file_seq')").fetchone()[0]
    now = received_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    con.execute(
        f"""INSERT INTO {FILES_TABLE} (file_sha256, file_name, seq, received_at, encoding, header_row, columns_json,
                unknown_columns, alias_version, line_rows, ignored_rows, periods, archived_as)
            VALUES (?, ?, ?, ?, 'json', 0, ?, '', ?, ?, 0, ?, NULL)""",
        [sha, file_name, seq, now, json.dumps(SOURCE_OF_COLUMN, ensure_ascii=False), ROWS_VERSION, len(rows),
         ",".join(periods)],
    )
    return LoadedRows(file_name, sha, len(rows), periods, False)


def record_statement(con: duckdb.DuckDBPyConnection, period: str, loaded: LoadedRows, *, full: bool,
                     stated_at: dt.datetime | None = None) -> int:
    """The pull that produced `loaded` says, now, that these are the period's rows (a load identical to an
    earlier one is stated again, so the newest statement is what counts). Returns the statement's seq."""
    sources_schema.ensure_schema(con)
    seq = con.execute("SELECT nextval('export_file_seq')").fetchone()[0]
    now = stated_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    con.execute(f"INSERT INTO {STATEMENTS_TABLE} VALUES (?, ?, ?, ?, ?)", [period, loaded.file_sha256, seq, full, now])
    return seq
