"""The steps of mapping Sedona export lines to canonical documents, each a named SQL step with one job.

A step reads named relations and writes one temp table (named in its docstring), so a test can give it a
small relation and read what it made. Every value is bound as a parameter or passed as a relation
(`_periods`, `_kind_prefixes`, `_term_days`): the document-number prefix, the currency, the source name
and the API file prefix never become SQL text. Table names are identifiers chosen by the code, checked.
`mapping.map_periods` runs the steps in order.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

import duckdb

from bridge_assets.model.hash_sql import identifier  # the table-name check

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

# Every temp table the steps make, in the order they are made.
TEMP_TABLES = ("_kind_prefixes", "_term_days", "_live_files", "_standing", "_item_kinds", "_rows", "_heads",
               "_docs", "_row_errs", "_line_errs", "_base", "_known", "_verdicts", "_good", "_hashes")



def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(MACROS)


def periods_relation(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> None:
    """`_periods(period)`: the billing periods being mapped."""
    con.execute("DROP TABLE IF EXISTS _periods; CREATE TEMP TABLE _periods (period VARCHAR)")
    con.executemany("INSERT INTO _periods VALUES (?)", [[p] for p in periods])


def code_relations(con: duckdb.DuckDBPyConnection, kind_prefixes: Sequence[tuple[str, str]],
                   term_days: Sequence[tuple[str, int]]) -> None:
    """`_kind_prefixes(ord, prefix, kind)` and `_term_days(code, days)`: the configured code tables as
    relations, upper-cased; the first entry for a term code wins, as the first matching prefix does."""
    first_days: dict[str, int] = {}
    for code, days in term_days:
        first_days.setdefault(code.upper(), int(days))
    _relation(con, "CREATE OR REPLACE TEMP TABLE _kind_prefixes (ord INTEGER, prefix VARCHAR, kind VARCHAR)",
              [[i, prefix.upper(), kind] for i, (prefix, kind) in enumerate(kind_prefixes)])
    _relation(con, "CREATE OR REPLACE TEMP TABLE _term_days (code VARCHAR, days INTEGER)",
              [[code, days] for code, days in first_days.items()])


def _relation(con: duckdb.DuckDBPyConnection, create: str, rows: list[list]) -> None:
    con.execute(create)
    if rows:
        width = len(rows[0])
        table = create.split()[5]
        con.executemany(f"INSERT INTO {identifier(table)} VALUES ({', '.join('?' * width)})", rows)


def live_files(con: duckdb.DuckDBPyConnection, *, files_table: str, statements_table: str, api_file_prefix: str) -> None:
    """`_live_files(file_sha256, seq)`: the received files whose rows count, each with the `seq` that orders
    it: every export file (its receipt), and only the latest load of each SedonaAPI "file" (named with
    `api_file_prefix`; a load is the period's whole state, so an invoice deleted in SedonaOffice
    disappears), ordered by the latest pull that stated it."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _live_files AS
        WITH stated AS (
            SELECT f.file_sha256, f.file_name, greatest(f.seq, coalesce(st.seq, f.seq)) AS seq
            FROM {identifier(files_table)} f
            LEFT JOIN (SELECT file_sha256, max(seq) AS seq FROM {identifier(statements_table)} GROUP BY 1) st
              USING (file_sha256)
        )
        SELECT file_sha256, seq FROM stated f WHERE NOT (starts_with(f.file_name, $prefix)
            AND f.seq < (SELECT max(s.seq) FROM stated s WHERE s.file_name = f.file_name))""",
        {"prefix": api_file_prefix})


def standing(con: duckdb.DuckDBPyConnection, *, lines_table: str, statements_table: str) -> None:
    """`_standing(source_id, seq, period)`: each SedonaOffice document number whose newest received copy
    (in `_live_files`) stands. The newest complete statement of a period wins: a full SedonaAPI pull of
    the period newer than the newest copy of a document, that does not contain it, means it was deleted
    in SedonaOffice (an export file is not complete: a clerk may export any subset). A later export file
    or pull that carries it again makes it stand again."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _standing AS
        WITH newest AS (
            SELECT trim(l.invoice_number) AS source_id, max(f.seq) AS seq, arg_max(l.period, f.seq) AS period
            FROM {identifier(lines_table)} l JOIN _live_files f USING (file_sha256)
            GROUP BY 1
        )
        SELECT * FROM newest n WHERE NOT EXISTS (
            SELECT 1 FROM {identifier(statements_table)} st
            WHERE st.full_pull AND st.period = n.period AND st.seq > n.seq)""")


def item_kinds(con: duckdb.DuckDBPyConnection, *, lines_table: str) -> None:
    """`_item_kinds(code, kind)`: for each item code of `_periods` (upper-cased), the kind of the first
    prefix in `_kind_prefixes` it starts with; codes no prefix matches are left out (kind `other`)."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _item_kinds AS
        SELECT c.code, arg_min(k.kind, k.ord) AS kind
        FROM (SELECT DISTINCT upper(trim(item_code)) AS code FROM {identifier(lines_table)}
              WHERE period IN (SELECT period FROM _periods)) c
        JOIN _kind_prefixes k ON starts_with(c.code, k.prefix)
        GROUP BY c.code""")


# Each text is cleaned and parsed once (CTE `c`), then checked against what was present, so a
# present-but-unreadable value is an error, never a guess.
_TYPED_ROWS = r"""
        c AS (
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
"""


def type_rows(con: duckdb.DuckDBPyConnection, *, lines_table: str) -> None:
    """`_rows`: every row of each document's current version in `_periods` (the rows of the newest live
    file that carries a standing number), typed, with `row_errors` saying what is wrong with it and
    its `kind` (a bill cycle or a service start always means RMR, else `_item_kinds`)."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _rows AS
        WITH current_rows AS (
            SELECT l.* FROM {identifier(lines_table)} l
            JOIN _live_files f USING (file_sha256)
            JOIN _standing latest ON latest.source_id = trim(l.invoice_number) AND latest.seq = f.seq
            WHERE l.period IN (SELECT period FROM _periods)
        ), {_TYPED_ROWS}
        SELECT t.*, CASE WHEN t.bill_cycle IN ('M','Q','S','A') OR t.service_start IS NOT NULL THEN 'rmr'
                         ELSE coalesce(k.kind, 'other') END AS kind
        FROM t LEFT JOIN _item_kinds k ON k.code = upper(t.item_code)""")


def document_heads(con: duckdb.DuckDBPyConnection) -> None:
    """`_heads`: one row per document of `_rows`: header consistency, both sign conventions, totals, in
    one aggregate. Credits are written positive or in parentheses depending on the report style; line
    checks are counted under both conventions here and the right one picked by `document_facts`."""
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
        GROUP BY source_id""")


def document_facts(con: duckdb.DuckDBPyConnection, *, source: str, doc_number_prefix: str) -> None:
    """`_docs`: `_heads` with the document's sign convention decided (`flip`: a credit whose own total, or
    without one the sum of its lines, is negative), its totals, key, number (`doc_number_prefix` before
    the source's number) and due date (`_term_days` of its terms; NULL for an unknown code)."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _docs AS
        WITH d AS (
            SELECT *, doc_type = 'credit_memo' AND coalesce(total_in, amount_sum_in) < 0 AS flip FROM _heads
        )
        SELECT d.*,
            CASE WHEN flip THEN -amount_sum_in ELSE amount_sum_in END AS subtotal,
            CASE WHEN flip THEN -tax_sum_in ELSE tax_sum_in END AS tax_total,
            CASE WHEN flip THEN -amount_sum_in - tax_sum_in ELSE amount_sum_in + tax_sum_in END AS total,
            CASE WHEN flip THEN -total_in ELSE total_in END AS total_given,
            CASE WHEN flip THEN negative_tax_flipped ELSE negative_tax_as_written END AS negative_tax,
            CASE WHEN flip THEN unmultiplied_flipped ELSE unmultiplied_as_written END AS unmultiplied,
            last_row - first_row + 1 = line_count AS contiguous,
            CAST($source AS VARCHAR) || ':' || doc_type || ':' || source_id AS doc_key,
            CAST($prefix AS VARCHAR) || source_id AS doc_number,
            txn_date + t.days AS due_date
        FROM d LEFT JOIN _term_days t ON t.code = upper(d.terms)""",
        {"source": source, "prefix": doc_number_prefix})


def _line_values_sql(docs: str) -> str:
    """A line's values once its document's sign convention is known (`flip`: a credit written negative);
    `docs` is one of the fixed queries below, naming the documents whose lines are wanted."""
    return f"""
    SELECT r.*,
        CASE WHEN d.flip THEN abs(r.qty_in) ELSE r.qty_in END AS qty,
        CASE WHEN d.flip THEN abs(r.rate_in) ELSE r.rate_in END AS unit_price,
        CASE WHEN d.flip THEN -r.amount_in ELSE r.amount_in END AS amount,
        CASE WHEN d.flip THEN -r.tax_in ELSE r.tax_in END AS tax_amount,
        _x_price(CASE WHEN d.flip THEN abs(r.qty_in) ELSE r.qty_in END,
                 CASE WHEN d.flip THEN abs(r.rate_in) ELSE r.rate_in END) AS qty_x_price
    FROM _rows r JOIN ({docs}) d USING (source_id)"""


_UNMULTIPLIED_DOCS = "SELECT source_id, flip FROM _docs WHERE unmultiplied > 0"
_KEPT_DOCS = "SELECT source_id, flip FROM _good"


def row_error_sentences(con: duckdb.DuckDBPyConnection) -> None:
    """`_row_errs(source_id, row_errors)`: the row defects of each document that has any, in row order."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _row_errs AS
        SELECT source_id, string_agg('row ' || row_number || ': ' || row_errors, '; ' ORDER BY row_number) AS row_errors
        FROM _rows WHERE row_errors <> '' GROUP BY source_id""")


def line_error_sentences(con: duckdb.DuckDBPyConnection) -> None:
    """`_line_errs(source_id, line_errors)`: lines whose amount is not quantity x rate, written only for
    the documents `_docs` counts any for."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _line_errs AS
        SELECT source_id,
               string_agg(CASE WHEN amount IS NOT NULL AND qty_x_price IS NOT NULL AND amount <> qty_x_price
                               THEN 'row ' || row_number || ': Amount ' || amount || ' is not Quantity ' || _dec_text(qty)
                                    || ' x Rate ' || _dec_text(unit_price) || ' = ' || qty_x_price
                                    || ' (QuickBooks refuses lines that do not multiply out)' END,
                          '; ' ORDER BY row_number) AS line_errors
        FROM ({_line_values_sql(_UNMULTIPLIED_DOCS)})
        GROUP BY source_id""")


_BASE_REASONS = """
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
    FROM _docs d LEFT JOIN _row_errs r USING (source_id) LEFT JOIN _line_errs e USING (source_id)"""


def document_reasons(con: duckdb.DuckDBPyConnection) -> None:
    """`_base(source_id, reasons)`: everything wrong with each document of `_docs` on its own (its rows,
    its header, its totals, its number); empty when nothing is."""
    con.execute(_BASE_REASONS)


def known_invoices(con: duckdb.DuckDBPyConnection, known_doc_keys_sql: str | None) -> None:
    """`_known(doc_key, customer_key, rejected)`: the invoices a credit may apply to: kept or rejected in
    this batch, mapped in another period, or already in the ledger (`known_doc_keys_sql`, a fixed query
    of the ledger's returning `doc_key`)."""
    known = known_doc_keys_sql or "SELECT NULL::VARCHAR AS doc_key WHERE false"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _known AS
        SELECT d.doc_key, d.customer_key, b.reasons <> '' AS rejected
        FROM _docs d JOIN _base b USING (source_id) WHERE d.doc_type = 'invoice'
        UNION ALL SELECT doc_key, customer_key, false FROM accounting_documents
            WHERE doc_type = 'invoice' AND period NOT IN (SELECT period FROM _periods)
        UNION ALL SELECT doc_key, NULL, false FROM ({known})""")


def verdicts(con: duckdb.DuckDBPyConnection, *, source: str) -> None:
    """`_verdicts(source_id, reasons)`: `_base` plus what is wrong with a credit's invoice (unknown,
    rejected and not accepted elsewhere, another customer's); one that applies to a rejected invoice
    waits with it."""
    con.execute("""
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
          ON d.doc_type = 'credit_memo' AND k.doc_key = CAST($source AS VARCHAR) || ':invoice:' || d.applies_to_number""",
        {"source": source})


def clear_periods(con: duckdb.DuckDBPyConnection, *, source: str) -> None:
    """Remove this source's invoices, credits (with their lines) and rejections of `_periods`: only these
    are rebuilt here; other sources and payments have their own mapping."""
    mine = "period IN (SELECT period FROM _periods) AND starts_with(doc_key, CAST($source AS VARCHAR) || ':')"
    params = {"source": source}
    con.execute(f"""DELETE FROM accounting_document_lines WHERE {mine} AND doc_key IN (
                        SELECT doc_key FROM accounting_documents WHERE {mine} AND doc_type IN ('invoice', 'credit_memo'))""",
                params)
    con.execute(f"DELETE FROM accounting_documents WHERE {mine} AND doc_type IN ('invoice', 'credit_memo')", params)
    con.execute(f"DELETE FROM rejected_documents WHERE {mine} AND coalesce(doc_type, '') <> 'payment'", params)


def record_rejections(con: duckdb.DuckDBPyConnection, *, source: str, now: dt.datetime) -> None:
    """Insert every document of `_docs` whose `_verdicts` name a reason into `rejected_documents`."""
    con.execute("""
        INSERT INTO rejected_documents
        SELECT coalesce(d.doc_key, CAST($source AS VARCHAR) || ':unknown:' || d.source_id), d.period, d.source_id,
               d.doc_type, d.customer_key, CAST(d.total_in AS VARCHAR), d.file_name, d.file_sha256,
               d.first_row || '-' || d.last_row, v.reasons, $now
        FROM _docs d JOIN _verdicts v USING (source_id) WHERE v.reasons <> ''""",
        {"source": source, "now": now})


def kept_documents(con: duckdb.DuckDBPyConnection, *, source: str, doc_number_prefix: str, currency: str) -> None:
    """`_good`: the documents of `_docs` with no reason against them, typed exactly as stored (their JSON
    is built from these columns, and built again from the stored ones when a document is loaded)."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _good AS
        SELECT d.doc_key, CAST($source AS VARCHAR) AS source, d.doc_type, d.source_id, d.doc_number, d.txn_date,
               d.period, d.due_date, d.customer_key, d.customer_name, d.master_account, d.site, d.terms, d.po_number,
               CAST(d.subtotal AS DECIMAL(18,2)) AS subtotal, CAST(d.tax_total AS DECIMAL(18,2)) AS tax_total,
               CAST(d.total AS DECIMAL(18,2)) AS total, CAST($currency AS VARCHAR) AS currency,
               concat('SedonaOffice ', CASE d.doc_type WHEN 'invoice' THEN 'invoice ' ELSE 'credit ' END, d.source_id,
                      CASE WHEN d.doc_type = 'credit_memo' THEN ' applied to invoice ' || d.applies_to_number ELSE '' END,
                      CASE WHEN d.po_number <> '' THEN ' PO ' || d.po_number ELSE '' END) AS memo,
               d.file_name || '#rows ' || d.first_row || '-' || d.last_row AS source_ref,
               CASE WHEN d.doc_type = 'credit_memo' THEN CAST($source AS VARCHAR) || ':invoice:' || d.applies_to_number END AS applies_to_key,
               CASE WHEN d.doc_type = 'credit_memo' THEN CAST($prefix AS VARCHAR) || d.applies_to_number END AS applies_to_number,
               CASE WHEN d.doc_type = 'credit_memo' AND d.applies_to_number IS NOT NULL
                    THEN CAST(d.total AS DECIMAL(18,2)) END AS applies_to_amount,
               d.line_count, d.file_sha256, d.flip, d.contiguous, d.first_row
        FROM _docs d JOIN _verdicts v USING (source_id) WHERE v.reasons = ''""",
        {"source": source, "prefix": doc_number_prefix, "currency": currency})


def leave_earlier_periods(con: duckdb.DuckDBPyConnection) -> None:
    """A number whose current version is now in `_periods` leaves the period it was mapped in before: one
    document per number, whichever period runs first (a posted one moved is held: ledger/plan.py)."""
    for table in ("accounting_document_lines", "accounting_documents"):
        con.execute(f"DELETE FROM {table} WHERE period NOT IN (SELECT period FROM _periods) "
                    "AND doc_key IN (SELECT doc_key FROM _good)")


_LINE_COLUMNS = """g.doc_key, g.period, {line_no} AS line_no, x.kind, x.item_code, x.description,
    CAST(x.qty AS DECIMAL(18,4)) AS qty, CAST(x.unit_price AS DECIMAL(18,4)) AS unit_price,
    CAST(x.amount AS DECIMAL(18,2)) AS amount, x.taxable, CAST(x.tax_amount AS DECIMAL(18,2)) AS tax_amount,
    x.service_start, x.service_end, x.file_name, x.row_number"""
_OFFSET_LINE_NO = "CAST(x.row_number - g.first_row + 1 AS INTEGER)"


def kept_lines(con: duckdb.DuckDBPyConnection) -> None:
    """Insert the lines of `_good` into `accounting_document_lines`, as stored, numbered in file order (no
    temp copy: a million lines would be written twice). A document's rows are nearly always consecutive
    in its file, so the number is the row's offset; the rare scattered document's rows are numbered by a
    window over its rows alone (`_scattered`), and every line is made in one pass over `_rows`."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _scattered AS
        SELECT r.source_id, r.row_number,
               CAST(row_number() OVER (PARTITION BY r.source_id ORDER BY r.row_number) AS INTEGER) AS line_no
        FROM _rows r JOIN _good g USING (source_id) WHERE NOT g.contiguous""")
    line_no = f"coalesce(s.line_no, {_OFFSET_LINE_NO})"
    con.execute(f"""
        INSERT INTO accounting_document_lines
        SELECT {_LINE_COLUMNS.format(line_no=line_no)}
        FROM ({_line_values_sql(_KEPT_DOCS)}) x JOIN _good g USING (source_id)
        LEFT JOIN _scattered s ON s.source_id = x.source_id AND s.row_number = x.row_number""")
    con.execute("DROP TABLE _scattered")


# The lines `kept_lines` inserted: those of the documents of `_good` (a document's lines are its own).
KEPT_LINES = ("SELECT * FROM accounting_document_lines WHERE period IN (SELECT period FROM _periods) "
              "AND doc_key IN (SELECT doc_key FROM _good)")


def drop(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> None:
    for table in tables:
        con.execute(f"DROP TABLE IF EXISTS {identifier(table)}")
