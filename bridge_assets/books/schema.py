"""The books' tables (the read-back store of what each destination's books hold, and the reconciliation
results), made once per process per database (runtime/schema_once.py)."""

from __future__ import annotations

import duckdb

from bridge_assets.runtime.schema_once import made_once


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The read-back store and the reconciliation results exist in `con`'s database (made once per process)."""
    made_once(con, "books", _create)


def _create(con: duckdb.DuckDBPyConnection) -> None:
    # Imported here, not at the top: books/store.py and books/results.py import this module for their
    # `ensure_schema`, and each keeps its DDL beside the code that reads its tables.
    from bridge_assets.books import results, store

    con.execute(store.SCHEMA_DDL)
    con.execute(results.SCHEMA_DDL)
