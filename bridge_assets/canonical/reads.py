"""Reading the canonical documents: the named queries other packages call instead of writing SQL
against `accounting_documents` themselves."""

from __future__ import annotations

import json
from typing import Iterable, Sequence

import duckdb

from bridge_assets.canonical import cancellations
from bridge_assets.model import hash_sql as canonical_sql
from bridge_assets.model.document import AccountingDocument, document_from_dict


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


def content_hashes(con: duckdb.DuckDBPyConnection, doc_keys: Iterable[str]) -> dict[str, str]:
    """The stored content hash of each of `doc_keys` that is a current document."""
    return dict(con.execute(
        "SELECT doc_key, content_hash FROM accounting_documents WHERE doc_key IN (SELECT unnest(?))",
        [list(doc_keys)]).fetchall())


def invoice_keys(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The `doc_key` of every invoice among the current documents, whatever its source and period."""
    return {key for (key,) in con.execute(
        "SELECT doc_key FROM accounting_documents WHERE doc_type = 'invoice'").fetchall()}


def documents_of(con: duckdb.DuckDBPyConnection, source: str, doc_type: str, periods: Sequence[str]) -> list[tuple]:
    """`source`'s current documents of `doc_type` in `periods`, as rows of (doc_key, source, source_id,
    period, doc_type, doc_number, customer_key, total, txn_date, content_hash)."""
    return con.execute(
        """SELECT doc_key, source, source_id, period, doc_type, doc_number, customer_key, total, txn_date, content_hash
           FROM accounting_documents WHERE source = ? AND doc_type = ? AND period IN (SELECT unnest(?))""",
        [source, doc_type, list(periods)]).fetchall()


def documents_table() -> str:
    """The name of the canonical documents table, for the ledger's joins that need it inside their SQL.

    The ledger, the alerts and the revert join `ledger_postings` (and its events) with each document's date,
    total and customer in one statement over hundreds of thousands of rows; reading the documents out into
    Python first would copy them all. They take the table's name from here (it is a constant of this
    package, never a value from outside, so formatting it into their SQL binds nothing), and this package
    stays the one place that knows how the canonical tables are named and shaped."""
    return "accounting_documents"


def totals_by_source(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> list[tuple]:
    """Per (period, source, doc_type) of `periods`: the number of documents and their total as text."""
    return con.execute(
        "SELECT period, source, doc_type, count(*), CAST(sum(total) AS VARCHAR) FROM accounting_documents "
        "WHERE period IN (SELECT unnest(?)) GROUP BY ALL ORDER BY ALL", [list(periods)]).fetchall()


def totals_by_type(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> list[tuple]:
    """Per (period, doc_type) of `periods`: documents, subtotal, tax and total (the sums as text)."""
    return con.execute(
        "SELECT period, doc_type, count(*), CAST(sum(subtotal) AS VARCHAR), CAST(sum(tax_total) AS VARCHAR), "
        "CAST(sum(total) AS VARCHAR) FROM accounting_documents WHERE period IN (SELECT unnest(?)) GROUP BY ALL ORDER BY ALL",
        [list(periods)]).fetchall()


def line_totals_by_kind(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> list[tuple]:
    """Per line kind in `periods`: the number of lines and their amount as text."""
    return con.execute(
        "SELECT kind, count(*), CAST(sum(amount) AS VARCHAR) FROM accounting_document_lines "
        "WHERE period IN (SELECT unnest(?)) GROUP BY ALL ORDER BY ALL", [list(periods)]).fetchall()


def preview(con: duckdb.DuckDBPyConnection, periods: Sequence[str], limit: int = 15) -> list[tuple]:
    """The first `limit` documents of `periods` by date and number: (number, type, date as mm/dd/yyyy,
    customer, line count, total as text)."""
    return con.execute(
        "SELECT doc_number, doc_type, strftime(txn_date, '%m/%d/%Y'), customer_name, line_count, CAST(total AS VARCHAR) "
        "FROM accounting_documents WHERE period IN (SELECT unnest(?)) ORDER BY txn_date, doc_number LIMIT ?",
        [list(periods), limit]).fetchall()


def current_documents(con: duckdb.DuckDBPyConnection, period: str) -> list[tuple]:
    """`period`'s documents not cancelled at the source: (doc_key, doc_type, doc_number, customer_name,
    total, content_hash)."""
    return con.execute(
        "SELECT doc_key, doc_type, doc_number, customer_name, total, content_hash FROM accounting_documents "
        f"WHERE period = ? AND doc_key NOT IN (SELECT doc_key FROM {cancellations.TABLE})", [period]).fetchall()


def numbers(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """Every (doc_type, doc_number) among the current documents, whatever their source and period."""
    return set(con.execute("SELECT DISTINCT doc_type, doc_number FROM accounting_documents").fetchall())

