"""The canonical tables, their one definition and their migrations, made once per process per database.

`accounting_documents`, its lines and applications, `rejected_documents` and `cancelled_documents` are
owned here: every module that reads or writes them calls `ensure_schema`, which makes and migrates them
the first time this process meets a database file and costs nothing once it has seen that committed
(runtime/schema_once.py).
"""

from __future__ import annotations

import duckdb

from bridge_assets.runtime.schema_once import made_once

DOCUMENTS_DDL = """
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
-- every application of a credit or payment (a payment may apply to several invoices); see canonical/store.py
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

CANCELLED_DDL = """
CREATE TABLE IF NOT EXISTS cancelled_documents (
    doc_key VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, source_id VARCHAR NOT NULL, period VARCHAR NOT NULL,
    acted_in_period VARCHAR NOT NULL,      -- the billing period whose run voids it
    doc_type VARCHAR NOT NULL, doc_number VARCHAR NOT NULL, customer_key VARCHAR NOT NULL,
    total DECIMAL(18,2) NOT NULL, txn_date DATE NOT NULL, content_hash VARCHAR NOT NULL,
    reason_code VARCHAR NOT NULL,          -- deleted_in_source | credited_in_full | void_in_source
    reason VARCHAR NOT NULL, detected_at TIMESTAMP NOT NULL
);
"""

TABLES = ("accounting_documents", "accounting_document_lines", "accounting_document_applications",
          "rejected_documents", "cancelled_documents")

# Columns of accounting_documents before the hash, in table order (the mapping fills them in this order).
DOCUMENT_COLUMNS = (
    "doc_key, source, doc_type, source_id, doc_number, txn_date, period, due_date, customer_key, customer_name, "
    "master_account, site, terms, po_number, subtotal, tax_total, total, currency, memo, source_ref, "
    "applies_to_key, applies_to_number, applies_to_amount, line_count"
)

def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The canonical tables exist and are migrated in `con`'s database (made once per process)."""
    made_once(con, "canonical", _create)


def _create(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DOCUMENTS_DDL)
    con.execute(CANCELLED_DDL)
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
        con.execute(DOCUMENTS_DDL)
        con.execute(f"""
            INSERT INTO accounting_documents SELECT {DOCUMENT_COLUMNS}, content_hash, file_sha256, mapped_at
            FROM _accounting_documents_before_v2;
            DROP TABLE _accounting_documents_before_v2;
        """)
