"""Sedona export lines (text) -> canonical accounting documents, in DuckDB.

Every value is typed here, row by row, and every defect is named with its file and row. A document
with any defective row is not half-kept: the whole document goes to `rejected_documents` with the
reasons, and everything else flows. When several files carry the same invoice number, the most
recently received file is the document's current version (a re-export after an edit is an update).

The canonical serialization is built in SQL (`model.hash_sql`) with the same keys, order and number
formats as `documents.canonical_json`, so `content_hash` is identical whichever side computes it. It is
built to be hashed and not stored: loading a document builds it again from the stored columns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Iterable, Sequence

import duckdb

from bridge_assets.model import hash_sql as canonical_sql
from bridge_assets.canonical import cancellations
from bridge_assets.model.document import AccountingDocument, document_from_dict
from bridge_assets.sources.sedona_api import rows as sedona_api_rows
from bridge_assets.sources.sedona_export import map_steps as steps

MAPPING_VERSION = "sedona-map/1"
# Rows loaded from SedonaAPI are named like files with this prefix.
API_FILE_PREFIX = sedona_api_rows.FILE_NAME_PREFIX
STATEMENTS_TABLE = sedona_api_rows.STATEMENTS_TABLE


MAPPED_TYPES = ("invoice", "credit_memo")

DEFAULT_TERM_DAYS = {"DUE": 0, "COD": 0, "NET10": 10, "NET15": 15, "NET20": 20, "NET30": 30, "NET45": 45, "NET60": 60}
# First matching item-code prefix decides a line's kind; a bill cycle always means RMR.
DEFAULT_KIND_PREFIXES: tuple[tuple[str, str], ...] = (
    ("RMR", "rmr"), ("MON", "rmr"),
    ("LAB", "ticket_labor"), ("LBR", "ticket_labor"),
    ("PRT", "ticket_part"), ("PART", "ticket_part"), ("EQP", "ticket_part"),
    ("TRIP", "fee"), ("FEE", "fee"), ("SVC", "fee"),
)


@dataclasses.dataclass(frozen=True)
class MappingSettings:
    source: str = "sedona"
    doc_number_prefix: str = ""
    currency: str = "USD"
    term_days: tuple[tuple[str, int], ...] = tuple(DEFAULT_TERM_DAYS.items())
    kind_prefixes: tuple[tuple[str, str], ...] = DEFAULT_KIND_PREFIXES


@dataclasses.dataclass(frozen=True)
class MappingResult:
    periods: tuple[str, ...]
    documents: int
    lines: int
    rejected_documents: int
    rejected_rows: int


SCHEMA_DDL = """
CREATE TABLE IF NOT EXISTS accounting_documents (
    doc_key VARCHAR NOT NULL, source VARCHAR NOT NULL, doc_type VARCHAR NOT NULL, source_id VARCHAR NOT NULL,
    doc_number VARCHAR NOT NULL, txn_date DATE NOT NULL, period VARCHAR NOT NULL, due_date DATE,
    customer_key VARCHAR NOT NULL, customer_name VARCHAR NOT NULL, master_account VARCHAR NOT NULL,
    site VARCHAR NOT NULL, terms VARCHAR NOT NULL, po_number VARCHAR NOT NULL,
    subtotal DECIMAL(18,2) NOT NULL, tax_total DECIMAL(18,2) NOT NULL, total DECIMAL(18,2) NOT NULL,
    currency VARCHAR NOT NULL, memo VARCHAR NOT NULL, source_ref VARCHAR NOT NULL,
    applies_to_key VARCHAR, applies_to_number VARCHAR, applies_to_amount DECIMAL(18,2),
    line_count BIGINT NOT NULL, content_hash VARCHAR NOT NULL,
    file_sha256 VARCHAR, mapped_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS accounting_document_lines (
    doc_key VARCHAR NOT NULL, period VARCHAR NOT NULL, line_no INTEGER NOT NULL, kind VARCHAR NOT NULL,
    item_code VARCHAR NOT NULL, description VARCHAR NOT NULL, qty DECIMAL(18,4) NOT NULL,
    unit_price DECIMAL(18,4) NOT NULL, amount DECIMAL(18,2) NOT NULL, taxable BOOLEAN NOT NULL,
    tax_amount DECIMAL(18,2) NOT NULL, service_start DATE, service_end DATE,
    file_name VARCHAR, row_number BIGINT
);
-- every application of a credit or payment (a payment may apply to several invoices); see document_store.py
CREATE TABLE IF NOT EXISTS accounting_document_applications (
    doc_key VARCHAR NOT NULL, period VARCHAR NOT NULL, applies_to_key VARCHAR NOT NULL,
    applies_to_number VARCHAR NOT NULL, amount DECIMAL(18,2) NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected_documents (
    doc_key VARCHAR NOT NULL, period VARCHAR NOT NULL, source_id VARCHAR, doc_type VARCHAR,
    customer_key VARCHAR, total_text VARCHAR, file_name VARCHAR, file_sha256 VARCHAR, rows VARCHAR,
    reasons VARCHAR NOT NULL, rejected_at TIMESTAMP NOT NULL
);
"""
# Columns of accounting_documents before the hash, in table order (the mapping fills them in this order).
_DOCUMENT_COLUMNS = (
    "doc_key, source, doc_type, source_id, doc_number, txn_date, period, due_date, customer_key, customer_name, "
    "master_account, site, terms, po_number, subtotal, tax_total, total, currency, memo, source_ref, "
    "applies_to_key, applies_to_number, applies_to_amount, line_count"
)

def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_DDL)
    con.execute(sedona_api_rows.STATEMENTS_DDL)
    _drop_stored_json(con)


def _drop_stored_json(con: duckdb.DuckDBPyConnection) -> None:
    """Databases made before the JSON was built on demand kept it (and a primary key) in the table;
    the table is rebuilt once without them (the JSON is derivable from the other columns)."""
    old = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'accounting_documents' AND column_name = 'canonical_json' "
        "AND schema_name = current_schema() AND database_name = current_database()"
    ).fetchall()[0][0]
    if old:
        con.execute("ALTER TABLE accounting_documents RENAME TO _accounting_documents_before_v2")
        con.execute(SCHEMA_DDL)
        con.execute(f"""
            INSERT INTO accounting_documents SELECT {_DOCUMENT_COLUMNS}, content_hash, file_sha256, mapped_at
            FROM _accounting_documents_before_v2;
            DROP TABLE _accounting_documents_before_v2;
        """)


def map_periods(
    con: duckdb.DuckDBPyConnection,
    periods: Sequence[str],
    settings: MappingSettings = MappingSettings(),
    *,
    lines_table: str = "sedona_export_lines",
    files_table: str = "export_files",
    known_doc_keys_sql: str | None = None,
) -> MappingResult:
    """Rebuild canonical documents (and rejections) for `periods` from every received export line.

    Runs inside the caller's transaction; replaces exactly the rows of those periods.
    `known_doc_keys_sql` is a query returning `doc_key`s already known elsewhere (the ledger), so a
    credit may apply to an invoice that was posted from an earlier export.

    Shaped for a million lines: each row is read and typed once; one aggregate gives every
    per-document fact (both sign conventions are counted, so no second pass is needed to decide);
    the sentences for defects are written only for the few documents that have them; the canonical
    JSON is built only to be hashed. Each step is a function of `map_steps` with one job.
    """
    periods = tuple(sorted(set(periods)))
    ensure_schema(con)
    cancellations.ensure_schema(con)
    source, prefix = settings.source, settings.doc_number_prefix
    steps.install_macros(con)
    steps.periods_relation(con, periods)
    steps.code_relations(con, settings.kind_prefixes, settings.term_days)
    steps.live_files(con, files_table=files_table, statements_table=STATEMENTS_TABLE, api_file_prefix=API_FILE_PREFIX)
    steps.standing(con, lines_table=lines_table, statements_table=STATEMENTS_TABLE)
    steps.item_kinds(con, lines_table=lines_table)
    steps.type_rows(con, lines_table=lines_table)
    steps.document_heads(con)
    steps.document_facts(con, source=source, doc_number_prefix=prefix)
    steps.row_error_sentences(con)
    steps.line_error_sentences(con)
    steps.document_reasons(con)
    steps.known_invoices(con, known_doc_keys_sql)
    steps.verdicts(con, source=source)
    # Documents of these periods that are no longer current anywhere were deleted at the source.
    cancellations.note_vanished(con, source, MAPPED_TYPES, "SELECT source_id FROM _docs",
                                standing_ids_sql="SELECT source_id FROM _standing", files_table=files_table,
                                statements_table=STATEMENTS_TABLE, api_file_prefix=API_FILE_PREFIX)
    steps.clear_periods(con, source=source)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    steps.record_rejections(con, source=source, now=now)
    steps.kept_documents(con, source=source, doc_number_prefix=prefix, currency=settings.currency)
    steps.leave_earlier_periods(con)
    steps.kept_lines(con)
    rejected_rows = con.execute("SELECT CAST(coalesce(sum(bad_rows), 0) AS BIGINT) FROM _docs").fetchall()[0][0]
    steps.drop(con, [t for t in steps.TEMP_TABLES if t not in ("_good", "_lines")])   # memory for the JSON below
    _store_kept(con, now)
    counts = con.execute("""
        SELECT (SELECT count(*) FROM accounting_documents WHERE period IN (SELECT period FROM _periods)),
               (SELECT count(*) FROM accounting_document_lines WHERE period IN (SELECT period FROM _periods)),
               (SELECT count(*) FROM rejected_documents WHERE period IN (SELECT period FROM _periods)),
               ?
    """, [rejected_rows]).fetchall()[0]
    steps.drop(con, steps.TEMP_TABLES)
    return MappingResult(periods, *counts)


def _store_kept(con: duckdb.DuckDBPyConnection, now: dt.datetime) -> None:
    """Insert `_lines` and `_good`, each document with the content hash of its canonical JSON."""
    con.execute("INSERT INTO accounting_document_lines SELECT * FROM _lines")
    canonical_sql.hash_documents(con, "SELECT * FROM _good", "SELECT * FROM _lines", into="_hashes")
    con.execute(f"""
        INSERT INTO accounting_documents
        SELECT {", ".join("g." + c.strip() for c in _DOCUMENT_COLUMNS.split(","))}, h.content_hash, g.file_sha256, ?
        FROM _good g JOIN _hashes h USING (doc_key)
    """, [now])


# --- reading canonical documents back as Python objects (the posting side) ------------------------

def document_from_json(text: str, source_ref: str = "", content_hash: str = "") -> AccountingDocument:
    """Rebuild an AccountingDocument from its canonical JSON, keeping the hash stored beside it."""
    return document_from_dict(json.loads(text), source_ref, content_hash)


def load_documents(con: duckdb.DuckDBPyConnection, doc_keys: Iterable[str]) -> dict[str, AccountingDocument]:
    """The stored documents, rebuilt from their canonical JSON (built on demand by the SQL that hashed it)."""
    keys = list(doc_keys)
    if not keys:
        return {}
    texts = canonical_sql.canonical_json(con, keys)
    rows = con.execute(
        "SELECT doc_key, source_ref, content_hash FROM accounting_documents WHERE doc_key IN (SELECT unnest(?))",
        [keys],
    ).fetchall()
    return {key: document_from_json(texts[key], ref, digest) for key, ref, digest in rows if key in texts}
