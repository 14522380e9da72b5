"""SedonaAPI 2.0 as a source: pull a period, keep the records, hand them to the mapping.

Invoices and credits go the export path's way (`sources/sedona_api/rows.py`: written as the rows an
export holds, mapped by `mapping.map_periods`, so both paths give the same content hashes). Payments
have no export layout; they become canonical payment documents here, one application per invoice
they name, and the destination applies them by its own ids.

Pulls. A pull with the stored watermark reads only what changed; it cannot see deletions. So the first
pull of a period, and any pull when the last full one is older than `full_pull_after`, reads the whole
period (records not returned are marked deleted: an invoice deleted in SedonaOffice becomes a
cancelled document and is voided once in the books). The network is talked to with no database
connection open; the records, the watermark and the period's rows are stored in one transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Sequence

import duckdb

from bridge_assets.canonical import cancellations
from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.canonical import schema as canonical_schema
from bridge_assets.canonical import store as document_store
from bridge_assets.sources import sedona_lines
from bridge_assets.model.document import AccountingDocument, Application, doc_key, money
from bridge_assets.sources.sedona_api import rows as sedona_api_rows
from bridge_assets.sources.sedona_api.client import SedonaApiClient
from bridge_assets.sources.sedona_api.extract import extract_period
from bridge_assets.sources.sedona_api.store import load_watermark, save_records, save_watermark, stored_records
from bridge_assets.runtime.storage import Database
from bridge_assets.sources.schema import ensure_schema  # every source's tables, made once per process

SOURCE = "sedona"
PULLS_TABLE = "sedona_api_pulls"
UNCONVERTIBLE_TABLE = "sedona_api_unconvertible"
SCHEMA_DDL = f"""
CREATE TABLE IF NOT EXISTS {PULLS_TABLE} (
    period VARCHAR NOT NULL, pulled_at TIMESTAMP NOT NULL, full_pull BOOLEAN NOT NULL, records INTEGER NOT NULL,
    rows_loaded INTEGER NOT NULL, run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS {UNCONVERTIBLE_TABLE} (
    period VARCHAR NOT NULL, model VARCHAR NOT NULL, record_id VARCHAR NOT NULL, number VARCHAR, reason VARCHAR NOT NULL
);
"""
DEFAULT_FULL_PULL_AFTER = dt.timedelta(hours=20)


@dataclasses.dataclass(frozen=True)
class PullReport:
    period: str
    full: bool
    records: int
    rows: int
    already_loaded: bool
    unconvertible: int


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def needs_full_pull(con: duckdb.DuckDBPyConnection, period: str, full_pull_after: dt.timedelta) -> bool:
    ensure_schema(con)
    last = con.execute(f"SELECT max(pulled_at) FROM {PULLS_TABLE} WHERE period = ? AND full_pull", [period]).fetchall()[0][0]
    return last is None or _now() - last >= full_pull_after


def pull_period(db: Database, client: SedonaApiClient, period: str, *, run_id: str | None = None,
                full: bool | None = None, full_pull_after: dt.timedelta = DEFAULT_FULL_PULL_AFTER) -> PullReport:
    with db.connect() as con:
        ensure_schema(con)
        if full is None:
            full = needs_full_pull(con, period, full_pull_after)
        watermark = None if full else load_watermark(con, period)
    records, watermark = extract_period(client, period, watermark)
    with db.transaction() as con:
        save_records(con, records, full_pull_of=period if full else None)
        save_watermark(con, watermark)
        converted = sedona_api_rows.rows_for_period(con, period)
        loaded = sedona_api_rows.load_rows(con, period, converted.rows)
        sedona_api_rows.record_statement(con, period, loaded, full=full)
        con.execute(f"DELETE FROM {UNCONVERTIBLE_TABLE} WHERE period = ?", [period])
        for item in converted.skipped:
            con.execute(f"INSERT INTO {UNCONVERTIBLE_TABLE} VALUES (?, ?, ?, ?, ?)",
                        [period, item.model, item.record_id, item.number, item.reason])
        con.execute(f"INSERT INTO {PULLS_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                    [period, _now(), full, len(records), loaded.line_rows, run_id])
    return PullReport(period, full, len(records), loaded.line_rows, loaded.already_loaded, len(converted.skipped))


def reject_unconvertible(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> int:
    """Records the export layout cannot express are rejected documents with their reason (never dropped).
    Call after `mapping.map_periods`, which rebuilds the period's rejections."""
    ensure_schema(con)
    now = _now()
    con.execute(
        f"""INSERT INTO rejected_documents (doc_key, period, source_id, doc_type, customer_key, total_text, file_name,
                                            file_sha256, rows, reasons, rejected_at)
            SELECT ? || ':' || CASE model WHEN 'CustomerCredit' THEN 'credit_memo' ELSE 'invoice' END || ':'
                   || coalesce(number, record_id), period, coalesce(number, record_id),
                   CASE model WHEN 'CustomerCredit' THEN 'credit_memo' ELSE 'invoice' END, NULL, NULL,
                   ? || period, NULL, model || ' ' || record_id, reason, ?
            FROM {UNCONVERTIBLE_TABLE} WHERE period IN (SELECT unnest(?))""",
        [SOURCE, sedona_lines.FILE_NAME_PREFIX, now, list(periods)],
    )
    return con.execute(f"SELECT count(*) FROM {UNCONVERTIBLE_TABLE} WHERE period IN (SELECT unnest(?))",
                       [list(periods)]).fetchall()[0][0]


# --- payments -------------------------------------------------------------------------------------

def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def payment_document(fields: dict, customers: dict[str, dict], period: str, prefix: str) -> AccountingDocument:
    """A SedonaOffice CustomerPayment as a canonical payment; raises ValueError naming what is wrong."""
    number = str(fields.get("PaymentNumber") or "").strip()
    where = f"SedonaOffice payment {number or fields.get('PaymentId')}"
    if not number:
        raise ValueError(f"{where} has no PaymentNumber")
    day = fields.get("PaymentDate")
    if not isinstance(day, dt.date):
        raise ValueError(f"{where}: PaymentDate {day!r} is not a date")
    amount = _decimal(fields.get("Amount"))
    if amount is None or amount <= 0:
        raise ValueError(f"{where}: Amount {fields.get('Amount')!r} is not a positive amount of money")
    applications = []
    for raw in fields.get("Applications") or []:
        applied = _decimal((raw or {}).get("Amount"))
        invoice = str((raw or {}).get("InvoiceNumber") or "").strip()
        if not invoice or applied is None or applied <= 0:
            raise ValueError(f"{where}: an application {raw!r} names no invoice or no positive amount")
        applications.append(Application(doc_key(SOURCE, "invoice", invoice), f"{prefix}{invoice}", money(applied)))
    if sum((a.amount for a in applications), Decimal("0")) > money(amount):
        raise ValueError(f"{where}: applies {sum(a.amount for a in applications)} to invoices but is only {money(amount)}")
    customer_number = str(fields.get("CustomerNumber") or "").strip()
    customer = customers.get(str(fields.get("CustomerId"))) or {}
    customer_number = customer_number or str(customer.get("CustomerNumber") or "")
    if not customer_number:
        raise ValueError(f"{where} names no customer")
    reference = " ".join(str(fields.get(k)) for k in ("PaymentMethod", "CheckNumber") if fields.get(k))
    return AccountingDocument(
        doc_key=doc_key(SOURCE, "payment", number), source=SOURCE, doc_type="payment", source_id=number,
        doc_number=f"{prefix}{number}", txn_date=day, period=period, due_date=None, customer_key=customer_number,
        customer_name=str(customer.get("CustomerName") or customer_number), master_account=str(customer.get("MasterAccountCode") or ""),
        site="", terms="", po_number="", subtotal=money(amount), tax_total=Decimal("0.00"), total=money(amount),
        currency="USD", memo=f"SedonaOffice payment {number}" + (f" ({reference})" if reference else ""),
        source_ref=f"sedonaapi:CustomerPayment/{fields.get('PaymentId')}", lines=(), applies_to=tuple(applications),
    ).with_hash()


def map_payments(con: duckdb.DuckDBPyConnection, periods: Sequence[str], *, prefix: str = "",
                 known_doc_keys_sql: str) -> tuple[int, int]:
    """Rebuild the payment documents of `periods` from the kept CustomerPayment records.

    A payment naming an invoice the bridge does not know (in no received data and not in the ledger)
    is rejected with that reason until the invoice arrives. A payment that disappeared from
    SedonaOffice (deleted) is a cancelled document. Returns (documents, rejected)."""
    ensure_schema(con)
    canonical_schema.ensure_schema(con)
    customers = {r.record_id: r.fields for r in stored_records(con, "Customer")}
    known = canonical_reads.invoice_keys(con) | {r[0] for r in con.execute(f"SELECT doc_key FROM ({known_doc_keys_sql})").fetchall()}
    documents, rejected = [], []
    for period in periods:
        for record in stored_records(con, "CustomerPayment", period=period):
            try:
                document = payment_document(record.fields, customers, period, prefix)
            except ValueError as problem:
                rejected.append(document_store.Rejected(
                    doc_key(SOURCE, "payment", str(record.number or record.record_id)), period,
                    str(record.number or record.record_id), "payment", str(record.fields.get("CustomerNumber") or ""),
                    str(record.fields.get("Amount")), f"sedonaapi:CustomerPayment/{record.record_id}", str(problem)))
                continue
            unknown = [a.doc_number for a in document.applies_to if a.doc_key not in known]
            if unknown:
                rejected.append(document_store.Rejected(
                    document.doc_key, period, document.source_id, "payment", document.customer_key, str(document.total),
                    document.source_ref, f"payment {document.source_id} applies to invoice(s) {', '.join(unknown)}, "
                    "which are in no data received and not in the ledger; it waits until they arrive"))
                continue
            documents.append(document)
    _note_deleted_payments(con, periods, {d.doc_key for d in documents} | {r.doc_key for r in rejected})
    document_store.replace_documents(con, source=SOURCE, doc_types=("payment",), periods=periods,
                                     documents=documents, rejected=rejected)
    cancellations.forget(con, [d.doc_key for d in documents], cancellations.DELETED)
    return len(documents), len(rejected)


def _note_deleted_payments(con: duckdb.DuckDBPyConnection, periods: Sequence[str], current: set[str]) -> None:
    gone = canonical_reads.documents_of(con, SOURCE, "payment", periods)
    rows = [(*row, f"deleted in SedonaOffice: payment {row[2]} is no longer returned by SedonaAPI for {row[3]}")
            for row in gone if row[0] not in current]
    cancellations.record(con, rows, cancellations.DELETED)
