"""Digests of what a transform leaves in the canonical tables, to tell whether a re-run can be skipped.

`ledger/transform.py` compares them (with the digests of its inputs) before mapping again. A table's
digest is its row count and an order-independent sum of DuckDB's 64-bit row hashes: a change detector
over rows the transform wrote itself, not a signature.
"""

from __future__ import annotations

import json
import hashlib
from typing import Sequence

import duckdb

# What the transform leaves, for the periods (`$p`) and the month before each (the RMR check compares with
# it): every column of their documents (a document's content hash stands for its lines and applications),
# their rejections. Of the other periods only what the checks and the mapping read (numbers, types,
# customers), so transforming them with the same result does not make these run again.
_OUTPUTS_SQL = {
    "documents": "SELECT * EXCLUDE (mapped_at) FROM accounting_documents WHERE period IN (SELECT unnest($p))",
    "elsewhere": """SELECT doc_key, period, source, doc_type, doc_number, customer_key FROM accounting_documents
                    WHERE period NOT IN (SELECT unnest($p))""",
    "rejected": "SELECT * EXCLUDE (rejected_at) FROM rejected_documents WHERE period IN (SELECT unnest($p))",
    "cancelled": "SELECT * EXCLUDE (detected_at) FROM cancelled_documents",
    "unconvertible": "SELECT * FROM sedona_api_unconvertible",
}


def outputs_digest(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> str:
    """What the transform of `periods` left that a later one must find unchanged to be skipped."""
    months = sorted(set(periods) | {_month_before(p) for p in periods})
    parts = {name: table_digest(con, sql, {"p": months} if "$p" in sql else None) for name, sql in _OUTPUTS_SQL.items()}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def keys_not_held(con: duckdb.DuckDBPyConnection, keys_sql: str) -> list:
    """The digest of the document keys `keys_sql` (a fixed query of the ledger's) names that no canonical
    document holds: a credit may apply to one of them."""
    return table_digest(con, f"SELECT doc_key FROM ({keys_sql}) WHERE doc_key NOT IN (SELECT doc_key FROM accounting_documents)")


def _month_before(period: str) -> str:
    year, month = (int(x) for x in period.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def table_digest(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> list:
    """Row count and the sum of the rows' 64-bit hashes: independent of row order; duplicates count."""
    count, total = con.execute(f"SELECT count(*), CAST(coalesce(sum(CAST(hash(t) AS HUGEINT)), 0) AS VARCHAR) "
                               f"FROM ({query}) t", params or {}).fetchall()[0]
    return [count, total]
