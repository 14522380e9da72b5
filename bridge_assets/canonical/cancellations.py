"""Documents cancelled at the source, and why: the plan voids each one once where it was posted.

A source cancels a document in one of three ways, each recorded here with a sentence a bookkeeper can
read (it goes into the ledger event of the void):

- SedonaOffice deletes an invoice or credit: the next full SedonaAPI pull of its period no longer returns
  it, and that pull is newer than the newest copy received of it (an export file or an earlier pull): the
  newest complete statement of a period wins (sources/sedona_export/map_steps.standing);
- SedonaOffice credits an invoice off in full, when the user says that means cancelled
  (`BRIDGE_SEDONA_FULL_CREDIT_MEANS_CANCELLED=true`): the invoice and the credit are both cancelled, so
  the books show neither instead of both;
- ServiceTrade marks an invoice `void`.

A document that comes back (restored in SedonaOffice, the setting switched off) leaves this table and is
planned as any other document. The table is rebuilt by the mapping of each source; only the ledger
says what was voided in a destination.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

import duckdb

from bridge_assets.canonical import schema as canonical_schema

TABLE = "cancelled_documents"

DELETED = "deleted_in_source"
CREDITED_IN_FULL = "credited_in_full"
VOIDED = "void_in_source"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def note_vanished(con: duckdb.DuckDBPyConnection, source: str, doc_types: Sequence[str], current_ids_sql: str, *,
                  standing_ids_sql: str, files_table: str, statements_table: str, api_file_prefix: str) -> None:
    """Called by the mapping of `_periods` (a temp table) before it replaces those periods' documents.

    A document mapped earlier in these periods whose number is not current now (`current_ids_sql`) and
    does not stand in any period (`standing_ids_sql`, see mapping.standing_sql) was deleted at the
    source. One that is current again leaves the table. `statements_table` holds the source's complete
    statements of a period (full pulls); files named with `api_file_prefix` are its pulls, not export files."""
    canonical_schema.ensure_schema(con)
    types = list(doc_types)
    con.execute(
        f"""DELETE FROM {TABLE} WHERE source = ? AND reason_code = ?
            AND source_id IN ({current_ids_sql})""", [source, DELETED])
    con.execute(
        f"""
        INSERT OR REPLACE INTO {TABLE}
        WITH gone AS (
            SELECT d.* FROM accounting_documents d
            WHERE d.period IN (SELECT period FROM _periods) AND d.source = $source
              AND d.doc_type IN (SELECT unnest($types))
              AND d.source_id NOT IN ({current_ids_sql})
              AND d.source_id NOT IN ({standing_ids_sql})
        ), last_pull AS (
            SELECT period, max(stated_at) AS stated_at FROM {statements_table} WHERE full_pull GROUP BY 1
        )
        SELECT g.doc_key, g.source, g.source_id, g.period, g.period, g.doc_type, g.doc_number, g.customer_key,
               g.total, g.txn_date, g.content_hash, $reason_code,
               CASE WHEN p.stated_at IS NOT NULL
                    THEN 'deleted in SedonaOffice: ' || replace(g.doc_type, '_', ' ') || ' ' || g.source_id
                         || ' is no longer returned by SedonaAPI for ' || g.period
                         || ' (full pull received ' || strftime(p.stated_at, '%Y-%m-%d %H:%M') || ' UTC'
                         || CASE WHEN f.file_name IS NOT NULL AND NOT starts_with(f.file_name, $api_prefix)
                                 THEN ', after export file ' || f.file_name || ' that carried it' ELSE '' END || ')'
                    ELSE replace(g.doc_type, '_', ' ') || ' ' || g.source_id || ' is no longer in any received export' END,
               $now
        FROM gone g LEFT JOIN last_pull p ON p.period = g.period
        LEFT JOIN {files_table} f ON f.file_sha256 = g.file_sha256
        """,
        {"source": source, "types": types, "now": _now(), "reason_code": DELETED, "api_prefix": api_file_prefix},
    )


def apply_full_credit_rule(con: duckdb.DuckDBPyConnection, source: str, periods: Sequence[str], enabled: bool) -> int:
    """Credits of `periods` that take an invoice off in full cancel both, when the user says so.

    Rebuilt for those periods on every mapping, so switching the setting off brings the documents back
    into the plan. Returns how many documents are cancelled by the rule in those periods."""
    canonical_schema.ensure_schema(con)
    periods = list(periods)
    con.execute(f"DELETE FROM {TABLE} WHERE source = ? AND reason_code = ? "
                "AND acted_in_period IN (SELECT unnest(?))", [source, CREDITED_IN_FULL, periods])
    if not enabled:
        return 0
    pairs = """
        SELECT c.doc_key AS credit_key, c.source_id AS credit_id, c.period AS credit_period, i.doc_key AS invoice_key
        FROM accounting_documents c JOIN accounting_documents i ON i.doc_key = c.applies_to_key
        WHERE c.source = $source AND c.doc_type = 'credit_memo' AND c.period IN (SELECT unnest($periods))
          AND c.total = i.total AND i.total <> 0
    """
    con.execute(
        f"""
        INSERT OR IGNORE INTO {TABLE}
        SELECT d.doc_key, d.source, d.source_id, d.period, p.credit_period, d.doc_type, d.doc_number, d.customer_key,
               d.total, d.txn_date, d.content_hash, $reason_code,
               CASE WHEN d.doc_type = 'invoice'
                    THEN 'cancelled in SedonaOffice: invoice ' || d.source_id || ' is credited off in full by credit '
                         || p.credit_id || ' (BRIDGE_SEDONA_FULL_CREDIT_MEANS_CANCELLED is on)'
                    ELSE 'credit ' || d.source_id || ' cancels the invoice it credits in full, so it is not posted '
                         || '(BRIDGE_SEDONA_FULL_CREDIT_MEANS_CANCELLED is on)' END,
               $now
        FROM ({pairs}) p JOIN accounting_documents d ON d.doc_key IN (p.credit_key, p.invoice_key)
        """,
        {"source": source, "periods": periods, "now": _now(), "reason_code": CREDITED_IN_FULL},
    )
    return con.execute(f"SELECT count(*) FROM {TABLE} WHERE source = ? AND reason_code = ? "
                       "AND acted_in_period IN (SELECT unnest(?))", [source, CREDITED_IN_FULL, periods]).fetchall()[0][0]


def record(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple], reason_code: str) -> None:
    """Documents a source says are cancelled: (doc_key, source, source_id, period, doc_type, doc_number,
    customer_key, total, txn_date, content_hash, reason). A document already recorded keeps its first
    detection."""
    canonical_schema.ensure_schema(con)
    now = _now()
    for row in rows:
        (doc_key, source, source_id, period, doc_type, doc_number, customer_key, total, txn_date, digest, reason) = row
        con.execute(
            f"INSERT OR IGNORE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [doc_key, source, source_id, period, period, doc_type, doc_number, customer_key, total, txn_date, digest,
             reason_code, reason, now],
        )


def forget(con: duckdb.DuckDBPyConnection, doc_keys: Sequence[str], reason_code: str) -> None:
    """A document the source brought back (e.g. un-voided) leaves the table."""
    canonical_schema.ensure_schema(con)
    if doc_keys:
        con.execute(f"DELETE FROM {TABLE} WHERE reason_code = ? AND doc_key IN (SELECT unnest(?))",
                    [reason_code, list(doc_keys)])
