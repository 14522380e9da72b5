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
from bridge_assets.sources import sedona_lines as sedona_api_rows  # shared Sedona line tables (no sideways import)

MAPPING_VERSION = "sedona-map/1"
# Rows loaded from SedonaAPI are named like files with this prefix.
API_FILE_PREFIX = sedona_api_rows.FILE_NAME_PREFIX


def live_files_sql(files_table: str) -> str:
    """The received files whose rows count, each with the `seq` that orders it: every export file (its
    receipt), and only the latest load of each SedonaAPI "file" (a load is the period's whole state, so an
    invoice deleted in SedonaOffice disappears), ordered by the latest pull that stated it."""
    return f"""
        WITH stated AS (
            SELECT f.file_sha256, f.file_name, greatest(f.seq, coalesce(st.seq, f.seq)) AS seq
            FROM {files_table} f
            LEFT JOIN (SELECT file_sha256, max(seq) AS seq FROM {sedona_api_rows.STATEMENTS_TABLE} GROUP BY 1) st
              USING (file_sha256)
        )
        SELECT file_sha256, seq FROM stated f WHERE NOT (f.file_name LIKE '{API_FILE_PREFIX}%'
            AND f.seq < (SELECT max(s.seq) FROM stated s WHERE s.file_name = f.file_name))"""


def standing_sql(lines_table: str, files_table: str) -> str:
    """Each SedonaOffice document number whose newest received copy stands: `source_id`, the `seq` of
    that copy and its `period`. The newest complete statement of a period wins: a full SedonaAPI pull
    of the period newer than the newest copy of a document, that does not contain it, means it was
    deleted in SedonaOffice (an export file is not complete: a clerk may export any subset). A later
    export file or pull that carries it again makes it stand again."""
    return f"""
        WITH live_files AS ({live_files_sql(files_table)}), newest AS (
            SELECT trim(l.invoice_number) AS source_id, max(f.seq) AS seq, arg_max(l.period, f.seq) AS period
            FROM {lines_table} l JOIN live_files f USING (file_sha256)
            GROUP BY 1
        )
        SELECT * FROM newest n WHERE NOT EXISTS (
            SELECT 1 FROM {sedona_api_rows.STATEMENTS_TABLE} st
            WHERE st.full_pull AND st.period = n.period AND st.seq > n.seq)"""


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

# Text -> typed value macros. A value that is present but unreadable is NULL plus an error; the
# caller compares "present" with "parsed" so nothing is ever guessed.
MACROS = r"""
CREATE OR REPLACE TEMP MACRO _blank(s) AS coalesce(trim(s), '') = '';
CREATE OR REPLACE TEMP MACRO _unparen(x) AS
    CASE WHEN starts_with(x, '(') AND ends_with(x, ')') THEN '-' || x[2:-2] ELSE x END;
CREATE OR REPLACE TEMP MACRO _clean(s) AS _unparen(replace(replace(replace(trim(s), '$', ''), ',', ''), ' ', ''));
CREATE OR REPLACE TEMP MACRO _sedona_date(s) AS
    CASE WHEN _blank(s) OR trim(s) = '12/30/1899' THEN NULL ELSE CAST(try_strptime(trim(s), '%m/%d/%Y') AS DATE) END;
CREATE OR REPLACE TEMP MACRO _q(s) AS chr(39) || s || chr(39);
CREATE OR REPLACE TEMP MACRO _dec_text(d) AS
    CASE WHEN d = 0 THEN '0' ELSE regexp_replace(CAST(CAST(d AS DECIMAL(18,4)) AS VARCHAR), '\.?0+$', '') END;
-- Why a present value was not read: too many digits for the column (DECIMAL(18,2) keeps 16 before the
-- point, DECIMAL(18,4) 14), or not a number at all. Never a cast error that stops the period.
CREATE OR REPLACE TEMP MACRO _unreadable(c, digits, what) AS
    CASE WHEN regexp_full_match(c, '-?\d*(\.\d*)?') AND length(regexp_replace(split_part(c, '.', 1), '^-?0*', '')) > digits
         THEN ' is out of range (more than ' || digits || ' digits before the decimal point)'
         ELSE ' is not ' || what END;
-- DECIMAL(38,4): two DECIMAL(18,4) multiplied would overflow 64 bits (and raise) from about 92 billion on.
CREATE OR REPLACE TEMP MACRO _x_price(qty, price) AS round(CAST(qty AS DECIMAL(38,4)) * CAST(price AS DECIMAL(38,4)), 2);
"""
_TEMP_TABLES = ("_rows", "_heads", "_row_errs", "_line_errs", "_docs", "_base", "_known", "_verdicts", "_good", "_lines", "_hashes", "_standing")


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


def _kind_sql(settings: MappingSettings) -> str:
    cases = " ".join(
        f"WHEN starts_with(upper(item_code), '{prefix.upper()}') THEN '{kind}'" for prefix, kind in settings.kind_prefixes
    )
    return f"CASE WHEN bill_cycle IN ('M','Q','S','A') OR service_start IS NOT NULL THEN 'rmr' {cases} ELSE 'other' END"


def _terms_sql(settings: MappingSettings) -> str:
    cases = " ".join(f"WHEN '{code.upper()}' THEN {days}" for code, days in settings.term_days)
    return f"CASE upper(terms) {cases} END"


# A line's values once its document's sign convention is known (`flip`: a credit written negative).
_LINE_VALUES = """
    SELECT r.*,
        CASE WHEN d.flip THEN abs(r.qty_in) ELSE r.qty_in END AS qty,
        CASE WHEN d.flip THEN abs(r.rate_in) ELSE r.rate_in END AS unit_price,
        CASE WHEN d.flip THEN -r.amount_in ELSE r.amount_in END AS amount,
        CASE WHEN d.flip THEN -r.tax_in ELSE r.tax_in END AS tax_amount,
        _x_price(CASE WHEN d.flip THEN abs(r.qty_in) ELSE r.qty_in END,
                 CASE WHEN d.flip THEN abs(r.rate_in) ELSE r.rate_in END) AS qty_x_price
    FROM _rows r JOIN {docs} d USING (source_id)"""


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
    JSON is built only to be hashed.
    """
    periods = tuple(sorted(set(periods)))
    ensure_schema(con)
    cancellations.ensure_schema(con)
    con.execute(MACROS)
    con.execute("DROP TABLE IF EXISTS _periods; CREATE TEMP TABLE _periods (period VARCHAR)")
    con.executemany("INSERT INTO _periods VALUES (?)", [[p] for p in periods])
    source = settings.source
    prefix = settings.doc_number_prefix.replace("'", "''")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _standing AS {standing_sql(lines_table, files_table)}")

    # 1. Type every row of each document's current version; collect what is wrong with it. Each text is cleaned and parsed once (CTE `c`),
    #    then checked against what was present, so a present-but-unreadable value is an error, never a guess.
    con.execute(r"""
        CREATE OR REPLACE TEMP TABLE _rows AS
        WITH live_files AS ({live_files}), current_rows AS (
            -- the current version of each invoice number: rows of the latest file that carries it, if it stands
            SELECT l.* FROM {lines_table} l
            JOIN live_files f USING (file_sha256)
            JOIN _standing latest ON latest.source_id = trim(l.invoice_number) AND latest.seq = f.seq
            WHERE l.period IN (SELECT period FROM _periods)
        ), c AS (
            SELECT *,
                _clean(amount) AS amount_c, _clean(quantity) AS qty_c, _clean(rate) AS rate_c,
                _clean(tax_amount) AS tax_c, _clean(invoice_total) AS total_c,
                _sedona_date(invoice_date) AS date_v,
                _sedona_date(service_start_date) AS start_v, _sedona_date(service_end_date) AS end_v,
                lower(trim(document_type)) AS type_c, upper(trim(taxable)) AS taxable_c, upper(trim(bill_cycle)) AS cycle_c
            FROM current_rows
        ), v AS (
            SELECT *,
                CASE WHEN regexp_full_match(amount_c, '-?\d{1,16}(\.\d{1,2})?') THEN CAST(amount_c AS DECIMAL(18,2)) END AS amount_v,
                CASE WHEN regexp_full_match(qty_c, '-?(\d{1,14}(\.\d{1,4})?|\.\d{1,4})') THEN CAST(qty_c AS DECIMAL(18,4)) END AS qty_v,
                CASE WHEN regexp_full_match(rate_c, '-?(\d{1,14}(\.\d{1,4})?|\.\d{1,4})') THEN CAST(rate_c AS DECIMAL(18,4)) END AS rate_v,
                CASE WHEN regexp_full_match(tax_c, '-?\d{1,16}(\.\d{1,2})?') THEN CAST(tax_c AS DECIMAL(18,2)) END AS tax_v,
                CASE WHEN regexp_full_match(total_c, '-?\d{1,16}(\.\d{1,2})?') THEN CAST(total_c AS DECIMAL(18,2)) END AS total_v
            FROM c
        ), t AS (
            SELECT
                file_sha256, file_name, row_number, period,
                trim(invoice_number) AS source_id,
                date_v AS txn_date,
                CASE WHEN coalesce(type_c, '') IN ('', 'invoice', 'inv', 'i') THEN 'invoice'
                     WHEN type_c IN ('credit', 'credit memo', 'creditmemo', 'cr', 'c') THEN 'credit_memo' END AS doc_type,
                nullif(trim(applies_to_invoice), '') AS applies_to_number,
                trim(customer_number) AS customer_key,
                trim(customer_name) AS customer_name,
                coalesce(trim(master_account_code), '') AS master_account,
                coalesce(trim(site_name), '') AS site,
                trim(item_code) AS item_code,
                coalesce(trim(description), '') AS description,
                coalesce(cycle_c, '') AS bill_cycle,
                start_v AS service_start,
                end_v AS service_end,
                CASE WHEN coalesce(qty_c, '') = '' THEN 1 ELSE qty_v END AS qty_in,
                CASE WHEN coalesce(rate_c, '') = '' THEN coalesce(amount_v, 0) ELSE rate_v END AS rate_in,
                amount_v AS amount_in,
                CASE WHEN coalesce(taxable_c, '') IN ('', 'N', 'NO', 'F', 'FALSE', '0') THEN false
                     WHEN taxable_c IN ('Y', 'YES', 'T', 'TRUE', '1', 'X') THEN true END AS taxable,
                CASE WHEN coalesce(tax_c, '') = '' THEN 0 ELSE tax_v END AS tax_in,
                total_v AS total_in,
                coalesce(total_c, '') <> '' AS has_total,
                coalesce(trim(term_code), '') AS terms,
                coalesce(trim(po_number), '') AS po_number,
                concat_ws('; ',
                    CASE WHEN _blank(invoice_number) THEN 'InvoiceNumber is empty' END,
                    CASE WHEN _blank(invoice_date) THEN 'InvoiceDate is empty'
                         WHEN date_v IS NULL THEN 'InvoiceDate ' || _q(invoice_date) || ' is not MM/DD/YYYY' END,
                    CASE WHEN doc_type IS NULL THEN 'DocumentType ' || _q(document_type) || ' is neither Invoice nor Credit' END,
                    CASE WHEN _blank(customer_number) THEN 'CustomerNumber is empty' END,
                    CASE WHEN _blank(customer_name) THEN 'CustomerName is empty' END,
                    CASE WHEN _blank(item_code) THEN 'ItemCode is empty' END,
                    CASE WHEN coalesce(amount_c, '') = '' THEN 'Amount is empty'
                         WHEN amount_v IS NULL THEN 'Amount ' || _q(amount) || _unreadable(amount_c, 16, 'an amount of money') END,
                    CASE WHEN coalesce(qty_c, '') <> '' AND qty_v IS NULL THEN 'Quantity ' || _q(quantity) || _unreadable(qty_c, 14, 'a number (at most 4 decimals)') END,
                    CASE WHEN coalesce(rate_c, '') <> '' AND rate_v IS NULL THEN 'Rate ' || _q(rate) || _unreadable(rate_c, 14, 'a number (at most 4 decimals)') END,
                    CASE WHEN coalesce(tax_c, '') <> '' AND tax_v IS NULL THEN 'TaxAmount ' || _q(tax_amount) || _unreadable(tax_c, 16, 'an amount of money') END,
                    CASE WHEN coalesce(total_c, '') <> '' AND total_v IS NULL THEN 'InvoiceTotal ' || _q(invoice_total) || _unreadable(total_c, 16, 'an amount of money') END,
                    CASE WHEN coalesce(taxable_c, '') NOT IN ('', 'N', 'NO', 'F', 'FALSE', '0', 'Y', 'YES', 'T', 'TRUE', '1', 'X')
                         THEN 'Taxable ' || _q(taxable_c) || ' is not Y or N' END,
                    CASE WHEN start_v IS NULL AND NOT _blank(service_start_date) AND trim(service_start_date) <> '12/30/1899'
                         THEN 'ServiceStartDate ' || _q(service_start_date) || ' is not MM/DD/YYYY' END,
                    CASE WHEN end_v IS NULL AND NOT _blank(service_end_date) AND trim(service_end_date) <> '12/30/1899'
                         THEN 'ServiceEndDate ' || _q(service_end_date) || ' is not MM/DD/YYYY' END,
                    CASE WHEN coalesce(cycle_c, '') NOT IN ('', 'M', 'Q', 'S', 'A') THEN 'BillCycle ' || _q(bill_cycle) || ' is not M, Q, S or A' END
                ) AS row_errors
            FROM v
        )
        SELECT *, {kind} AS kind FROM t
    """.replace("{live_files}", live_files_sql(files_table)).replace("{lines_table}", lines_table)
       .replace("{kind}", _kind_sql(settings)))

    # 2. One row per document: header consistency, both sign conventions, totals, in one aggregate.
    #    Credits are written positive or in parentheses depending on the report style; the document's
    #    own total (or, without one, the sum of its lines) says which (`flip`), so a credit is never
    #    guessed. Line checks are counted under both conventions here and the right one picked below.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _heads AS
        SELECT
            source_id,
            any_value(period) AS period,
            min(doc_type) AS doc_type,
            min(txn_date) AS txn_date,
            min(customer_key) AS customer_key,
            min(customer_name) AS customer_name,
            min(master_account) AS master_account,
            min(site) AS site,
            min(terms) AS terms,
            min(po_number) AS po_number,
            min(applies_to_number) AS applies_to_number,
            min(file_name) AS file_name,
            min(file_sha256) AS file_sha256,
            min(row_number) AS first_row,
            max(row_number) AS last_row,
            count(*) AS line_count,
            -- min <> max instead of count(DISTINCT): the same answer at a fraction of the cost
            min(doc_type) IS DISTINCT FROM max(doc_type) AS mixed_types,
            max(txn_date) AS last_date,
            max(customer_key) AS other_customer,
            min(customer_key) IS DISTINCT FROM max(customer_key) AS mixed_customers,
            min(txn_date) IS DISTINCT FROM max(txn_date) AS mixed_dates,
            min(coalesce(applies_to_number, '')) <> max(coalesce(applies_to_number, '')) AS mixed_applies,
            min(total_in) IS DISTINCT FROM max(total_in) AS mixed_totals,
            bool_or(has_total) AS has_total,
            min(total_in) AS total_in,
            sum(amount_in) AS amount_sum_in,
            sum(tax_in) AS tax_sum_in,
            count(*) FILTER (WHERE row_errors <> '') AS bad_rows,
            count(*) FILTER (WHERE tax_in < 0) AS negative_tax_as_written,
            count(*) FILTER (WHERE tax_in > 0) AS negative_tax_flipped,
            count(*) FILTER (WHERE amount_in <> _x_price(qty_in, rate_in)) AS unmultiplied_as_written,
            count(*) FILTER (WHERE -amount_in <> _x_price(abs(qty_in), abs(rate_in))) AS unmultiplied_flipped
        FROM _rows
        GROUP BY source_id
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _docs AS
        WITH d AS (
            SELECT *, doc_type = 'credit_memo' AND coalesce(total_in, amount_sum_in) < 0 AS flip FROM _heads
        )
        SELECT *,
            CASE WHEN flip THEN -amount_sum_in ELSE amount_sum_in END AS subtotal,
            CASE WHEN flip THEN -tax_sum_in ELSE tax_sum_in END AS tax_total,
            CASE WHEN flip THEN -amount_sum_in - tax_sum_in ELSE amount_sum_in + tax_sum_in END AS total,
            CASE WHEN flip THEN -total_in ELSE total_in END AS total_given,
            CASE WHEN flip THEN negative_tax_flipped ELSE negative_tax_as_written END AS negative_tax,
            CASE WHEN flip THEN unmultiplied_flipped ELSE unmultiplied_as_written END AS unmultiplied,
            last_row - first_row + 1 = line_count AS contiguous,
            '{source}:' || doc_type || ':' || source_id AS doc_key,
            '{prefix}' || source_id AS doc_number,
            txn_date + CAST({_terms_sql(settings)} AS INTEGER) AS due_date
        FROM d
    """)
    # The sentences for defects, written only for the documents that have them.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _row_errs AS
        SELECT source_id, string_agg('row ' || row_number || ': ' || row_errors, '; ' ORDER BY row_number) AS row_errors
        FROM _rows WHERE row_errors <> '' GROUP BY source_id
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _line_errs AS
        SELECT source_id,
               string_agg(CASE WHEN amount IS NOT NULL AND qty_x_price IS NOT NULL AND amount <> qty_x_price
                               THEN 'row ' || row_number || ': Amount ' || amount || ' is not Quantity ' || _dec_text(qty)
                                    || ' x Rate ' || _dec_text(unit_price) || ' = ' || qty_x_price
                                    || ' (QuickBooks refuses lines that do not multiply out)' END,
                          '; ' ORDER BY row_number) AS line_errors
        FROM ({_LINE_VALUES.format(docs="(SELECT source_id, flip FROM _docs WHERE unmultiplied > 0)")})
        GROUP BY source_id
    """)

    con.execute("""
        CREATE OR REPLACE TEMP TABLE _base AS
        SELECT d.source_id, concat_ws('; ',
            nullif(r.row_errors, ''),
            CASE WHEN d.mixed_types THEN 'InvoiceNumber ' || d.source_id || ' is used for both an invoice and a credit (rows '
                 || d.first_row || '-' || d.last_row || '); two documents share one number' END,
            CASE WHEN d.mixed_customers THEN 'InvoiceNumber ' || d.source_id || ' is used by different customers ('
                 || d.customer_key || ' and ' || d.other_customer || ', rows ' || d.first_row || '-' || d.last_row || '); two documents share one number' END,
            CASE WHEN d.mixed_dates THEN 'InvoiceNumber ' || d.source_id || ' has different InvoiceDates ('
                 || strftime(d.txn_date, '%m/%d/%Y') || ' and ' || strftime(d.last_date, '%m/%d/%Y') || ', rows ' || d.first_row || '-' || d.last_row || '); two documents share one number' END,
            CASE WHEN d.mixed_totals THEN 'InvoiceTotal differs between the rows of invoice ' || d.source_id END,
            CASE WHEN d.mixed_applies THEN 'AppliesToInvoice differs between the rows of credit ' || d.source_id END,
            nullif(e.line_errors, ''),
            CASE WHEN d.bad_rows = 0 AND d.has_total AND NOT d.mixed_totals AND d.total_given <> d.total
                 THEN 'InvoiceTotal ' || d.total_given || ' is not the lines ' || d.subtotal || ' + tax ' || d.tax_total
                      || ' = ' || d.total END,
            CASE WHEN d.bad_rows = 0 AND greatest(abs(d.total), abs(d.subtotal)) >= 10000000000000000
                 THEN 'the lines add up to ' || d.total || ', more than the 16 digits an amount may have' END,
            CASE WHEN d.negative_tax > 0 THEN 'a line has negative tax; export the credit as a Credit document' END,
            -- One definition of valid for every destination: QuickBooks refuses a negative invoice, so none receives it.
            CASE WHEN d.doc_type = 'invoice' AND d.bad_rows = 0 AND d.total < 0
                 THEN 'invoice ' || d.source_id || ' totals ' || d.total || ', below zero: QuickBooks refuses a negative '
                      || 'invoice; issue it as a credit memo in SedonaOffice or ServiceTrade (a credit applying to the '
                      || 'invoice it corrects) and export again' END,
            CASE WHEN d.doc_type = 'credit_memo' AND d.applies_to_number IS NULL
                 THEN 'credit ' || d.source_id || ' has no AppliesToInvoice' END,
            CASE WHEN length(d.doc_number) > 21 THEN 'document number ' || d.doc_number
                 || ' is longer than the 21 characters QuickBooks allows; shorten the configured prefix' END
        ) AS reasons
        FROM _docs d LEFT JOIN _row_errs r USING (source_id) LEFT JOIN _line_errs e USING (source_id)
    """)
    # A credit may apply to an invoice kept in this batch, mapped in another period, or already in the
    # ledger; one that applies to a rejected invoice waits with it.
    known = known_doc_keys_sql or "SELECT NULL::VARCHAR AS doc_key WHERE false"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _known AS
        SELECT d.doc_key, d.customer_key, b.reasons <> '' AS rejected
        FROM _docs d JOIN _base b USING (source_id) WHERE d.doc_type = 'invoice'
        UNION ALL SELECT doc_key, customer_key, false FROM accounting_documents
            WHERE doc_type = 'invoice' AND period NOT IN (SELECT period FROM _periods)
        UNION ALL SELECT doc_key, NULL, false FROM ({known})
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _verdicts AS
        SELECT d.source_id, concat_ws('; ',
            nullif(b.reasons, ''),
            CASE WHEN d.doc_type = 'credit_memo' AND d.applies_to_number IS NOT NULL AND k.doc_key IS NULL
                 THEN 'credit ' || d.source_id || ' applies to invoice ' || d.applies_to_number
                      || ', which is in no export received and not in the ledger; export that invoice or correct AppliesToInvoice' END,
            CASE WHEN d.doc_type = 'credit_memo' AND k.rejected AND NOT k.accepted_elsewhere
                 THEN 'credit ' || d.source_id || ' applies to invoice ' || d.applies_to_number
                      || ', which was rejected (see its reasons); the credit waits for the corrected invoice' END,
            CASE WHEN d.doc_type = 'credit_memo' AND k.customer_key IS NOT NULL AND k.customer_key <> d.customer_key
                 THEN 'credit ' || d.source_id || ' is for customer ' || d.customer_key || ' but invoice '
                      || d.applies_to_number || ' belongs to customer ' || k.customer_key END
        ) AS reasons
        FROM _docs d JOIN _base b USING (source_id)
        LEFT JOIN (SELECT doc_key, any_value(customer_key) AS customer_key, bool_or(rejected) AS rejected,
                          bool_or(NOT rejected) AS accepted_elsewhere
                   FROM _known GROUP BY doc_key) k
          ON d.doc_type = 'credit_memo' AND k.doc_key = '{source}:invoice:' || d.applies_to_number
    """)

    # Documents of these periods that are no longer current anywhere were deleted at the source.
    cancellations.note_vanished(con, source, MAPPED_TYPES, "SELECT source_id FROM _docs",
                                standing_ids_sql="SELECT source_id FROM _standing", files_table=files_table)
    # Only this source's invoices and credits are rebuilt here; other sources and payments have their own mapping.
    mine = f"period IN (SELECT period FROM _periods) AND doc_key LIKE '{source}:%'"
    con.execute(f"""DELETE FROM accounting_document_lines WHERE {mine} AND doc_key IN (
                        SELECT doc_key FROM accounting_documents WHERE {mine} AND doc_type IN ('invoice', 'credit_memo'))""")
    con.execute(f"DELETE FROM accounting_documents WHERE {mine} AND doc_type IN ('invoice', 'credit_memo')")
    con.execute(f"DELETE FROM rejected_documents WHERE {mine} AND coalesce(doc_type, '') <> 'payment'")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    con.execute(f"""
        INSERT INTO rejected_documents
        SELECT coalesce(d.doc_key, '{source}:unknown:' || d.source_id), d.period, d.source_id, d.doc_type,
               d.customer_key, CAST(d.total_in AS VARCHAR), d.file_name, d.file_sha256,
               d.first_row || '-' || d.last_row, v.reasons, ?
        FROM _docs d JOIN _verdicts v USING (source_id) WHERE v.reasons <> ''
    """, [now])

    # 3. The kept documents, typed exactly as stored (the JSON below is built from these columns, and
    #    built again from the stored ones when a document is loaded: the same text either way).
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _good AS
        SELECT d.doc_key, '{source}' AS source, d.doc_type, d.source_id, d.doc_number, d.txn_date, d.period, d.due_date,
               d.customer_key, d.customer_name, d.master_account, d.site, d.terms, d.po_number,
               CAST(d.subtotal AS DECIMAL(18,2)) AS subtotal, CAST(d.tax_total AS DECIMAL(18,2)) AS tax_total,
               CAST(d.total AS DECIMAL(18,2)) AS total, '{settings.currency}' AS currency,
               concat('SedonaOffice ', CASE d.doc_type WHEN 'invoice' THEN 'invoice ' ELSE 'credit ' END, d.source_id,
                      CASE WHEN d.doc_type = 'credit_memo' THEN ' applied to invoice ' || d.applies_to_number ELSE '' END,
                      CASE WHEN d.po_number <> '' THEN ' PO ' || d.po_number ELSE '' END) AS memo,
               d.file_name || '#rows ' || d.first_row || '-' || d.last_row AS source_ref,
               CASE WHEN d.doc_type = 'credit_memo' THEN '{source}:invoice:' || d.applies_to_number END AS applies_to_key,
               CASE WHEN d.doc_type = 'credit_memo' THEN '{prefix}' || d.applies_to_number END AS applies_to_number,
               CASE WHEN d.doc_type = 'credit_memo' AND d.applies_to_number IS NOT NULL
                    THEN CAST(d.total AS DECIMAL(18,2)) END AS applies_to_amount,
               d.line_count, d.file_sha256, d.flip, d.contiguous, d.first_row
        FROM _docs d JOIN _verdicts v USING (source_id) WHERE v.reasons = ''
    """)
    # A number whose current version is now in these periods leaves the period it was mapped in before:
    # one document per number, whichever period runs first (a posted one moved is held: ledger/plan.py).
    for table in ("accounting_document_lines", "accounting_documents"):
        con.execute(f"DELETE FROM {table} WHERE period NOT IN (SELECT period FROM _periods) "
                    "AND doc_key IN (SELECT doc_key FROM _good)")
    # Lines are numbered in file order. A document's rows are nearly always consecutive in its file, so
    # the number is the row's offset; the rare scattered document is numbered by a window.
    line_columns = """g.doc_key, g.period, {line_no} AS line_no, kind, item_code, description,
        CAST(qty AS DECIMAL(18,4)) AS qty, CAST(unit_price AS DECIMAL(18,4)) AS unit_price,
        CAST(amount AS DECIMAL(18,2)) AS amount, taxable, CAST(tax_amount AS DECIMAL(18,2)) AS tax_amount,
        service_start, service_end, file_name, row_number"""
    good_lines = _LINE_VALUES.format(docs="(SELECT source_id, flip FROM _good)")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _lines AS
        SELECT {line_columns.format(line_no="CAST(x.row_number - g.first_row + 1 AS INTEGER)")}
        FROM ({good_lines}) x JOIN _good g USING (source_id) WHERE g.contiguous
        UNION ALL
        SELECT {line_columns.format(line_no="CAST(row_number() OVER (PARTITION BY x.source_id ORDER BY x.row_number) AS INTEGER)")}
        FROM ({good_lines}) x JOIN _good g USING (source_id) WHERE NOT g.contiguous
    """)
    rejected_rows = con.execute("SELECT CAST(coalesce(sum(bad_rows), 0) AS BIGINT) FROM _docs").fetchall()[0][0]
    for table in _TEMP_TABLES[:8]:   # everything but _good and _lines: memory for the JSON below
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute("INSERT INTO accounting_document_lines SELECT * FROM _lines")
    canonical_sql.hash_documents(con, "SELECT * FROM _good", "SELECT * FROM _lines", into="_hashes")
    con.execute(f"""
        INSERT INTO accounting_documents
        SELECT {", ".join("g." + c.strip() for c in _DOCUMENT_COLUMNS.split(","))}, h.content_hash, g.file_sha256, ?
        FROM _good g JOIN _hashes h USING (doc_key)
    """, [now])

    counts = con.execute("""
        SELECT (SELECT count(*) FROM accounting_documents WHERE period IN (SELECT period FROM _periods)),
               (SELECT count(*) FROM accounting_document_lines WHERE period IN (SELECT period FROM _periods)),
               (SELECT count(*) FROM rejected_documents WHERE period IN (SELECT period FROM _periods)),
               ?
    """, [rejected_rows]).fetchall()[0]
    for table in _TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return MappingResult(periods, *counts)


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
