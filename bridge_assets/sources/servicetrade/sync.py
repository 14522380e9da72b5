"""ServiceTrade as a source: collect the period's invoices, keep them raw, map them to canonical documents.

The integration contract (API_FACTS.md): fetch invoices in `pending_accounting`, deliver them, and set
each one `processed` or `failed` (see `ledger/servicetrade_writeback.py`). Every invoice fetched is kept as received, raw
JSON and all, in `servicetrade_invoices` (one row per invoice, the latest version), so a period can be
mapped again without asking ServiceTrade, and an invoice already `processed` stays a document of its
period after it has left the pending list.

Cancellations: an invoice the bridge has taken that is `void` in ServiceTrade now is looked for on every
fetch (void is final there); it becomes a cancelled document, voided once in the books where it was
posted (`cancellations.py`, `ledger/plan.py`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from typing import Any, Iterable, Sequence

import duckdb

from bridge_assets.canonical import cancellations
from bridge_assets.canonical import schema as canonical_schema
from bridge_assets.canonical import store as document_store
from bridge_assets.model.document import content_hash
from bridge_assets.sources.schema import ensure_schema  # every source's tables, made once per process
from bridge_assets.sources.servicetrade.client import PENDING, ServiceTradeClient, raw_json
from bridge_assets.sources.servicetrade.mapping import (
    FIELD_MAP,
    SOURCE,
    ServiceTradeFieldMap,
    ServiceTradeInvoiceUnreadable,
    is_credit,
    local_date,
    servicetrade_invoice_to_document,
)

TABLE = "servicetrade_invoices"
VOID = "void"
SCHEMA_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    invoice_id VARCHAR PRIMARY KEY, period VARCHAR NOT NULL, status VARCHAR NOT NULL, invoice_number VARCHAR,
    raw_json VARCHAR NOT NULL, fetched_at TIMESTAMP NOT NULL, fetched_by_run VARCHAR
);
"""


@dataclasses.dataclass(frozen=True)
class FetchReport:
    period: str
    pending: int
    voided: int
    statuses: dict[str, int]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def known_invoice_ids(con: duckdb.DuckDBPyConnection, period: str) -> set[str]:
    ensure_schema(con)
    return {r[0] for r in con.execute(f"SELECT invoice_id FROM {TABLE} WHERE period = ? AND status <> ?",
                                      [period, VOID]).fetchall()}


def fetch_period(client: ServiceTradeClient, period: str, known_ids: Iterable[str],
                 fields: ServiceTradeFieldMap = FIELD_MAP) -> tuple[list[dict[str, Any]], FetchReport]:
    """The period's pending invoices, and those already taken (`known_ids`) that are void now.

    Talks to ServiceTrade only; the caller stores the result (`store_invoices`) in one transaction."""
    known = set(known_ids)
    pending = list(client.pending_invoices(period))
    voided = []
    if known:
        voided = [inv for inv in client.pending_invoices(period, statuses=(VOID,))
                  if str(inv.get(fields.id)) in known]
    taken = pending + voided
    statuses = Counter(str(inv.get(fields.status)) for inv in taken)
    return taken, FetchReport(period, len(pending), len(voided), dict(statuses))


def store_invoices(con: duckdb.DuckDBPyConnection, period: str, invoices: Sequence[dict[str, Any]], run_id: str | None,
                   fields: ServiceTradeFieldMap = FIELD_MAP) -> None:
    ensure_schema(con)
    now = _now()
    for invoice in invoices:
        con.execute(
            f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
            [str(invoice.get(fields.id)), period_of(invoice, period, fields), str(invoice.get(fields.status) or ""),
             None if invoice.get(fields.invoice_number) is None else str(invoice.get(fields.invoice_number)),
             raw_json(invoice), now, run_id],
        )


def period_of(invoice: dict[str, Any], default: str, fields: ServiceTradeFieldMap) -> str:
    try:
        return f"{local_date(invoice.get(fields.transaction_date), fields.zone):%Y-%m}"
    except (TypeError, ValueError, ArithmeticError, OverflowError):
        return default


def set_status(con: duckdb.DuckDBPyConnection, invoice_id: str, status: str) -> None:
    """What ServiceTrade holds after the bridge's own write-back (saves asking again)."""
    con.execute(f"UPDATE {TABLE} SET status = ? WHERE invoice_id = ?", [status, invoice_id])


@dataclasses.dataclass(frozen=True)
class MapReport:
    documents: int
    rejected: int
    voided: int


def map_periods(con: duckdb.DuckDBPyConnection, periods: Sequence[str], *, doc_number_prefix: str = "ST-",
                fields: ServiceTradeFieldMap = FIELD_MAP) -> MapReport:
    """Rebuild ServiceTrade's canonical documents of `periods` from the kept invoices (caller's transaction).

    An invoice that cannot be read is rejected whole with the reason (and written back `failed` with it);
    a void one is a cancelled document."""
    ensure_schema(con)
    canonical_schema.ensure_schema(con)
    documents, rejected, void_rows = [], [], []
    rows = con.execute(f"SELECT invoice_id, period, status, raw_json FROM {TABLE} WHERE period IN (SELECT unnest(?)) "
                       "ORDER BY invoice_id", [list(periods)]).fetchall()
    for invoice_id, period, status, text in rows:
        invoice = json.loads(text)
        doc_type = "credit_memo" if is_credit(invoice, fields) else "invoice"
        try:
            document = servicetrade_invoice_to_document(invoice, doc_number_prefix=doc_number_prefix, fields=fields)
        except ServiceTradeInvoiceUnreadable as problem:
            if status != VOID:
                rejected.append(document_store.Rejected(
                    f"{SOURCE}:{doc_type}:{invoice_id}", period, invoice_id, doc_type,
                    str((invoice.get(fields.customer) or {}).get(fields.ref_id) or ""),
                    str(invoice.get(fields.total)), f"servicetrade:invoice/{invoice_id}", str(problem)))
            continue
        if status == VOID:
            void_rows.append((document.doc_key, SOURCE, document.source_id, document.period, document.doc_type,
                              document.doc_number, document.customer_key, document.total, document.txn_date,
                              content_hash(document), f"voided in ServiceTrade: invoice {document.doc_number} "
                              f"(id {invoice_id}) has status void"))
        else:
            documents.append(document)
    document_store.replace_documents(con, source=SOURCE, doc_types=("invoice", "credit_memo"), periods=periods,
                                     documents=documents, rejected=rejected)
    cancellations.record(con, void_rows, cancellations.VOIDED)
    return MapReport(len(documents), len(rejected), len(void_rows))


def pending_ids(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> list[str]:
    ensure_schema(con)
    return [r[0] for r in con.execute(f"SELECT invoice_id FROM {TABLE} WHERE period IN (SELECT unnest(?)) AND status = ?",
                                      [list(periods), PENDING]).fetchall()]
