"""The checks that guard the pipe, as plain functions over DuckDB (the Dagster asset checks call them).

Blocking checks (anything failing stops the period before a plan is made):
schema (pandera), totals, unique document numbers, known references, customers and items present,
dates within the partition, and the share of rejected documents. Warning checks flag oddities.

Each check runs once over all the periods it is given and returns one outcome per period (`Outcomes`):
a period's outcome is what the check says of that period's documents alone (its failing rows, their
count, its first rows), so a bad period never blocks a good one. One pass instead of one per period:
at a million lines over three periods the checks took 1.9 s one period at a time (each query and the
pandera frames paid three times).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import duckdb

from bridge_assets.model.document import polars_schemas


@dataclasses.dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    blocking: bool
    description: str
    failing: list[dict] = dataclasses.field(default_factory=list)   # first offending rows, for the UI and alerts
    failing_count: int = 0


BLOCKING_CHECKS = (
    "schema_valid", "totals_balance", "unique_document_numbers", "references_known",
    "customers_and_items_present", "dated_within_partition", "rejected_share_within_limit",
)
WARNING_CHECKS = ("rmr_change_within_limit", "period_not_empty")

_PREVIEW = 10

# One outcome per period checked.
Outcomes = dict[str, CheckOutcome]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params, periods: Sequence[str]) -> dict[str, tuple[int, list[dict]]]:
    """A failing-rows query's rows split by period: its first column, `_period`, says whose row it is (not
    shown); each period gets its row count and its first rows, in the query's order."""
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description][1:]
    found: dict[str, list[tuple]] = {period: [] for period in periods}
    for row in cur.fetchall():
        found.setdefault(row[0], []).append(row[1:])
    return {period: (len(rows), [{k: (str(v) if v is not None else None) for k, v in zip(cols, r)} for r in rows[:_PREVIEW]])
            for period, rows in found.items() if period in periods}


def _outcomes(name: str, blocking: bool, split: dict[str, tuple[int, list[dict]]], ok_text: str, bad_text: str) -> Outcomes:
    return {period: CheckOutcome(name, count == 0, blocking, ok_text if count == 0 else bad_text.format(n=count), preview, count)
            for period, (count, preview) in split.items()}


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict):
    """A query's rows as a polars frame: DuckDB hands over Arrow buffers, no Python object per value, and
    pandera's polars backend checks them in vectorised, multi-threaded code (measured at a million lines
    about 6x faster than the pandas backend; README "Speed")."""
    return con.sql(sql, params=params).pl()


# The frames pandera checks: money as integer cents, so no float ever appears.
_DOCUMENTS_FRAME = """SELECT d.doc_key, d.source, d.doc_type, d.source_id, d.doc_number, CAST(d.txn_date AS TIMESTAMP) AS txn_date,
          d.period, d.customer_key,
          d.customer_name, CAST(d.subtotal * 100 AS BIGINT) AS subtotal_cents,
          CAST(d.tax_total * 100 AS BIGINT) AS tax_total_cents, CAST(d.total * 100 AS BIGINT) AS total_cents,
          d.line_count, coalesce(l.amount_cents, 0) AS lines_amount_cents, coalesce(l.tax_cents, 0) AS lines_tax_cents,
          d.content_hash
   FROM accounting_documents d
   LEFT JOIN (SELECT doc_key, CAST(sum(amount) * 100 AS BIGINT) AS amount_cents,
                     CAST(sum(tax_amount) * 100 AS BIGINT) AS tax_cents
              FROM accounting_document_lines WHERE period IN (SELECT unnest($p)) GROUP BY doc_key) l USING (doc_key)
   WHERE d.period IN (SELECT unnest($p))"""
_LINES_FRAME = """SELECT doc_key, CAST(line_no AS BIGINT) AS line_no, kind, item_code, CAST(amount * 100 AS BIGINT) AS amount_cents,
          CAST(tax_amount * 100 AS BIGINT) AS tax_amount_cents,
          CAST(round(CAST(qty AS DECIMAL(38,4)) * unit_price, 2) * 100 AS BIGINT) AS qty_x_price_cents, period
   FROM accounting_document_lines WHERE period IN (SELECT unnest($p))"""


def schema_valid(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> Outcomes:
    """pandera over the document and line frames, each validated once for all `periods` (and let go before
    the next is made: both at once at a million lines cost 130 MB of peak); each failure case is its row's
    period's (a case without a row, a column of the wrong type, is every period's)."""
    import pandera.errors       # with pandas: imported when a check runs, not with the code location

    periods = list(periods)
    problems: dict[str, list[dict]] = {period: [] for period in periods}
    sizes = []
    for schema, sql in zip(polars_schemas(), (_DOCUMENTS_FRAME, _LINES_FRAME)):
        frame = _frame(con, sql, {"p": periods})
        sizes.append(dict(frame.get_column("period").value_counts().iter_rows()))
        try:
            schema.validate(frame, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            for period, (count, first) in _cases_by_period(exc.failure_cases, frame, periods).items():
                problems[period] += [{"schema": schema.name, **case} for case in first]
                if count:
                    problems[period].append({"schema": schema.name, "failures": str(count)})
        del frame
    return {period: CheckOutcome(
        "schema_valid", not found, True,
        f"{sizes[0].get(period, 0)} documents and {sizes[1].get(period, 0)} lines match the canonical schemas" if not found
        else "canonical documents do not match the schema; nothing in these periods will be planned",
        found[:_PREVIEW], len(found),
    ) for period, found in problems.items()}


def _cases_by_period(failure_cases, frame, periods: list[str]) -> dict[str, tuple[int, list[dict]]]:
    """pandera's failure cases split by the period of their row: each period's count and first cases, each
    named by its row's document (and line), not its place in a frame of several periods, in the order of
    the checks, then of the documents. Done in polars: a systemic fault fails every row, and a million
    failure cases must not become a million Python objects to show ten."""
    import polars as pl

    keys = [c for c in ("doc_key", "line_no") if c in frame.columns]
    rows = frame.select("period", *keys).with_row_index("index").with_columns(pl.col("index").cast(pl.Int64))
    cases = (failure_cases.with_row_index("_order")
             .with_columns(pl.col("_order").min().over("column", "check").alias("_check"), pl.col("index").cast(pl.Int64))
             .join(rows, on="index", how="left"))
    # a case without a row (a column missing or of the wrong type) is every period's
    unplaced = cases.filter(pl.col("index").is_null()).drop("period").join(pl.DataFrame({"period": periods}), how="cross")
    cases = pl.concat([cases.filter(pl.col("index").is_not_null()), unplaced.select(cases.columns)]).sort(["_check", *keys])
    split = {}
    for period in periods:
        mine = cases.filter(pl.col("period") == period)
        split[period] = (mine.height, [
            {"column": str(case["column"]), "check": str(case["check"]), "value": str(case["failure_case"]),
             **{k: str(case[k]) for k in keys if case["index"] is not None}}
            for case in mine.head(_PREVIEW).iter_rows(named=True)])
    return split


def totals_balance(con, periods) -> Outcomes:
    split = _rows(con, """
        SELECT d.period AS _period, d.doc_number, d.total, d.subtotal, d.tax_total, sum(l.amount) AS lines,
               sum(l.tax_amount) AS line_tax
        FROM accounting_documents d JOIN accounting_document_lines l USING (doc_key)
        WHERE d.period IN (SELECT unnest(?))
        GROUP BY ALL HAVING d.total <> d.subtotal + d.tax_total OR d.subtotal <> sum(l.amount) OR d.tax_total <> sum(l.tax_amount)
        ORDER BY d.doc_number""", [list(periods)], periods)
    return _outcomes("totals_balance", True, split, "every header total equals its lines plus tax",
                     "{n} document(s) whose total is not the sum of their lines plus tax")


def unique_document_numbers(con, periods) -> Outcomes:
    """A number used twice within a source and type fails every checked period that has a document
    under that number."""
    split = _rows(con, """
        WITH mine AS (SELECT DISTINCT period, doc_number FROM accounting_documents WHERE period IN (SELECT unnest(?))),
        copies AS (
            SELECT source, doc_type, doc_number, count(*) AS copies, string_agg(doc_key, ', ') AS doc_keys
            FROM accounting_documents WHERE doc_number IN (SELECT doc_number FROM mine)
            GROUP BY source, doc_type, doc_number HAVING count(*) > 1
        )
        SELECT m.period AS _period, c.* FROM copies c JOIN mine m USING (doc_number)
        ORDER BY c.doc_number, c.source, c.doc_type""", [list(periods)], periods)
    return _outcomes("unique_document_numbers", True, split, "no document number is used twice within a source",
                     "{n} document number(s) used by more than one document")


def references_known(con, periods, known_doc_keys_sql: str) -> Outcomes:
    split = _rows(con, f"""
        WITH applications AS (
            SELECT period, doc_key, applies_to_key, applies_to_number FROM accounting_documents
            WHERE period IN (SELECT unnest($p)) AND applies_to_key IS NOT NULL
            UNION
            -- a payment applies to several invoices (document_store.py keeps each application)
            SELECT period, doc_key, applies_to_key, applies_to_number FROM accounting_document_applications
            WHERE period IN (SELECT unnest($p))
        )
        SELECT DISTINCT a.period AS _period, d.doc_number, d.doc_type, a.applies_to_number
        FROM applications a JOIN accounting_documents d USING (doc_key)
        WHERE a.applies_to_key NOT IN (SELECT doc_key FROM accounting_documents)
          AND a.applies_to_key NOT IN ({known_doc_keys_sql})
        ORDER BY d.doc_number, d.doc_type, a.applies_to_number""", {"p": list(periods)}, periods)
    return _outcomes("references_known", True, split, "every credit applies to a known invoice",
                     "{n} credit(s) or payment(s) apply to a document that is not known")


def customers_and_items_present(con, periods) -> Outcomes:
    split = _rows(con, """
        SELECT d.period AS _period, d.doc_number, d.customer_key, d.customer_name, l.line_no, l.item_code
        FROM accounting_documents d LEFT JOIN accounting_document_lines l USING (doc_key)
        WHERE d.period IN (SELECT unnest(?))
          AND (trim(d.customer_key) = '' OR trim(d.customer_name) = ''
               OR (d.doc_type <> 'payment' AND (l.item_code IS NULL OR trim(l.item_code) = '')))
        ORDER BY d.doc_number, l.line_no""", [list(periods)], periods)
    return _outcomes("customers_and_items_present", True, split,
                     "every document names its customer and every line its item",
                     "{n} line(s) without a customer or an item code")


def dated_within_partition(con, periods) -> Outcomes:
    split = _rows(con, """
        SELECT period AS _period, doc_number, txn_date, period FROM accounting_documents
        WHERE period IN (SELECT unnest(?)) AND strftime(txn_date, '%Y-%m') <> period ORDER BY doc_number""",
        [list(periods)], periods)
    return _outcomes("dated_within_partition", True, split, "every document is dated inside its period",
                     "{n} document(s) dated outside the period they were filed under")


def rejected_share_within_limit(con, periods, max_share: float) -> Outcomes:
    """A few bad documents are refused one by one; many mean something systemic (a column mapped to
    the wrong meaning, a broken export) and the whole period waits for a person."""
    counts = dict.fromkeys(periods, (0, 0))
    for period, kept, rejected in con.execute(
        """SELECT period, count(*) FILTER (WHERE kept), count(*) FILTER (WHERE NOT kept) FROM (
               SELECT period, true AS kept FROM accounting_documents WHERE period IN (SELECT unnest($p))
               UNION ALL SELECT period, false FROM rejected_documents WHERE period IN (SELECT unnest($p)))
           GROUP BY period""",
        {"p": list(periods)},
    ).fetchall():
        counts[period] = (kept, rejected)
    split = _rows(con, "SELECT period AS _period, source_id AS document, rows, file_name, reasons FROM rejected_documents "
                       "WHERE period IN (SELECT unnest(?)) ORDER BY file_name, rows", [list(periods)], periods)
    outcomes = {}
    for period, (kept, rejected) in counts.items():
        total = kept + rejected
        share = rejected / total if total else 0.0
        passed = share <= max_share
        text = (f"{rejected} of {total} documents rejected ({share:.1%}), within the limit of {max_share:.0%}"
                if passed else
                f"{rejected} of {total} documents rejected ({share:.1%}), over the limit of {max_share:.0%}: the export "
                f"probably has a systemic problem (wrong column, wrong report style). Nothing in these periods is planned "
                f"until the file is fixed and dropped again, or BRIDGE_MAX_REJECTED_SHARE is raised.")
        outcomes[period] = CheckOutcome("rejected_share_within_limit", passed, True, text, split[period][1],
                                        0 if passed else rejected)
    return outcomes


def rmr_change_within_limit(con, periods, max_change: float = 0.5) -> Outcomes:
    """Warn when a customer's monthly-billed recurring revenue moves by more than `max_change` from the
    month before. Only lines billed one month at a time are compared: quarterly, semi-annual and annual
    lines are billed in advance in some months and not others, which is not a change in RMR."""
    split = _rows(con, """
        WITH rmr AS (
            SELECT d.customer_key, d.period, sum(l.unit_price) AS monthly
            FROM accounting_documents d JOIN accounting_document_lines l USING (doc_key)
            WHERE l.kind = 'rmr' AND d.doc_type = 'invoice' AND l.service_start IS NOT NULL
              AND date_trunc('month', l.service_start) = date_trunc('month', l.service_end)
              -- only the periods checked and the month before each (not every period ever mapped)
              AND d.period IN (SELECT p FROM unnest($1) t(p)
                               UNION ALL SELECT strftime(CAST(p || '-01' AS DATE) - INTERVAL 1 MONTH, '%Y-%m') FROM unnest($1) t(p))
            GROUP BY ALL
        ), paired AS (
            SELECT a.customer_key, a.period, b.monthly AS before, a.monthly AS now
            FROM rmr a JOIN rmr b ON a.customer_key = b.customer_key
             AND b.period = strftime(CAST(a.period || '-01' AS DATE) - INTERVAL 1 MONTH, '%Y-%m')
        )
        SELECT period AS _period, customer_key, period, round(before, 2) AS before, round(now, 2) AS now
        FROM paired WHERE period IN (SELECT unnest($1)) AND before > 0 AND abs(now - before) / before > $2
        ORDER BY customer_key""", [list(periods), max_change], periods)
    return _outcomes("rmr_change_within_limit", False, split, "no customer's monthly RMR moved by more than the limit",
                     "{n} customer(s) whose monthly recurring revenue moved by more than " + f"{max_change:.0%}")


def period_not_empty(con, periods) -> Outcomes:
    held = {period for (period,) in con.execute("SELECT DISTINCT period FROM accounting_documents "
                                                "WHERE period IN (SELECT unnest(?))", [list(periods)]).fetchall()}
    return {period: CheckOutcome("period_not_empty", True, False, "every period has documents") if period in held
            else CheckOutcome("period_not_empty", False, False, f"no documents for {period}", [{"period": period}], 1)
            for period in periods}


def run_all(con: duckdb.DuckDBPyConnection, periods: Sequence[str], *, known_doc_keys_sql: str,
            max_rejected_share: float, max_rmr_change: float) -> dict[str, list[CheckOutcome]]:
    """Every check over `periods`, each in one pass: per period, its outcomes in the order of the checks."""
    periods = sorted(set(periods))
    checks = [
        schema_valid(con, periods),
        totals_balance(con, periods),
        unique_document_numbers(con, periods),
        references_known(con, periods, known_doc_keys_sql),
        customers_and_items_present(con, periods),
        dated_within_partition(con, periods),
        rejected_share_within_limit(con, periods, max_rejected_share),
        rmr_change_within_limit(con, periods, max_rmr_change),
        period_not_empty(con, periods),
    ]
    return {period: [outcomes[period] for outcomes in checks] for period in periods}
