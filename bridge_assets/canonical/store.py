"""Canonical documents built in Python (ServiceTrade invoices, SedonaAPI payments) into the same tables
the export mapping fills, so the posting side reads one set of tables whatever the source.

The export path builds its documents in SQL for speed (`sources/sedona_export/mapping.py`); the sources that arrive as JSON
records are few enough per period to build as `AccountingDocument`s, and `documents.canonical_json` /
`content_hash` are the definition the SQL path is tested against, so the hashes agree by construction.
The JSON itself is not stored: `canonical_sql` builds it from these columns when a document is loaded.

A payment applies to several invoices; `accounting_document_applications` holds every application of
every document written here (the header's `applies_to_*` columns keep the first, as for a credit).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Sequence

import duckdb

from bridge_assets.canonical import schema as canonical_schema
from bridge_assets.model.document import AccountingDocument, content_hash
from bridge_assets.runtime.frames import object_frame



@dataclasses.dataclass(frozen=True)
class Rejected:
    """A source record that cannot become a document, kept with the reason (never dropped)."""

    doc_key: str
    period: str
    source_id: str
    doc_type: str | None
    customer_key: str | None
    total_text: str | None
    source_ref: str
    reasons: str


_DOC_COLUMNS = ["doc_key", "source", "doc_type", "source_id", "doc_number", "txn_date", "period", "due_date",
                "customer_key", "customer_name", "master_account", "site", "terms", "po_number", "subtotal",
                "tax_total", "total", "currency", "memo", "source_ref", "applies_to_key", "applies_to_number",
                "applies_to_amount", "line_count", "content_hash", "file_sha256", "mapped_at"]
_LINE_COLUMNS = ["doc_key", "period", "line_no", "kind", "item_code", "description", "qty", "unit_price", "amount",
                 "taxable", "tax_amount", "service_start", "service_end", "file_name", "row_number"]


def replace_documents(con: duckdb.DuckDBPyConnection, *, source: str, doc_types: Sequence[str],
                      periods: Sequence[str], documents: Sequence[AccountingDocument],
                      rejected: Sequence[Rejected] = ()) -> None:
    """Replace `source`'s documents of `doc_types` in `periods` (inside the caller's transaction)."""
    canonical_schema.ensure_schema(con)
    periods, doc_types = list(periods), list(doc_types)
    scope = "period IN (SELECT unnest($periods)) AND source = $source AND doc_type IN (SELECT unnest($types))"
    params = {"periods": periods, "source": source, "types": doc_types}
    for table in ("accounting_document_lines", "accounting_document_applications"):
        con.execute(f"DELETE FROM {table} WHERE doc_key IN (SELECT doc_key FROM accounting_documents WHERE {scope})",
                    params)
    con.execute(f"DELETE FROM accounting_documents WHERE {scope}", params)
    con.execute("DELETE FROM rejected_documents WHERE period IN (SELECT unnest($periods)) AND doc_key LIKE $prefix "
                "AND coalesce(doc_type, '') IN (SELECT unnest($types))",
                {"periods": periods, "prefix": f"{source}:%", "types": doc_types + [""]})
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    docs, lines, applications = [], [], []
    for document in documents:
        if document.source != source or document.doc_type not in doc_types or document.period not in periods:
            raise ValueError(f"{document.doc_key} ({document.period}) is outside what this call replaces")
        digest = content_hash(document)
        first = document.applies_to[0] if document.applies_to else None
        docs.append([document.doc_key, document.source, document.doc_type, document.source_id, document.doc_number,
                     document.txn_date, document.period, document.due_date, document.customer_key,
                     document.customer_name, document.master_account, document.site, document.terms,
                     document.po_number, document.subtotal, document.tax_total, document.total, document.currency,
                     document.memo, document.source_ref, first.doc_key if first else None,
                     first.doc_number if first else None, first.amount if first else None, len(document.lines),
                     digest, None, now])
        for line in document.lines:
            lines.append([document.doc_key, document.period, line.line_no, line.kind, line.item_code, line.description,
                          line.qty, line.unit_price, line.amount, line.taxable, line.tax_amount, line.service_start,
                          line.service_end, document.source_ref, None])
        for application in document.applies_to:
            applications.append([document.doc_key, document.period, application.doc_key, application.doc_number,
                                 application.amount])
    _insert(con, "accounting_documents", _DOC_COLUMNS, docs)
    _insert(con, "accounting_document_lines", _LINE_COLUMNS, lines)
    _insert(con, "accounting_document_applications",
            ["doc_key", "period", "applies_to_key", "applies_to_number", "amount"], applications)
    _insert(con, "rejected_documents",
            ["doc_key", "period", "source_id", "doc_type", "customer_key", "total_text", "file_name", "file_sha256",
             "rows", "reasons", "rejected_at"],
            [[r.doc_key, r.period, r.source_id, r.doc_type, r.customer_key, r.total_text, r.source_ref, None, None,
              r.reasons, now] for r in rejected])


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[list]) -> None:
    if not rows:
        return
    # Decimals as text: DuckDB would guess one DECIMAL width from the first values of an object column
    # and refuse wider ones; the INSERT casts the text to the table's DECIMAL(18,2) exactly.
    rows = [[str(v) if isinstance(v, Decimal) else v for v in row] for row in rows]
    con.register("_incoming_documents", object_frame(rows, columns))
    try:
        names = ", ".join(columns)
        # Columns are cast by the INSERT to the table's types (DECIMAL, DATE); pandas keeps them as objects.
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _incoming_documents")
    finally:
        con.unregister("_incoming_documents")
