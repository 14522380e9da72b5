"""Reading the canonical documents: the named queries other packages call instead of writing SQL
against `accounting_documents` themselves."""

from __future__ import annotations

import json
from typing import Iterable, Sequence

import duckdb

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
