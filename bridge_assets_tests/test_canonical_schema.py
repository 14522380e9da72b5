"""The canonical tables have one owner (canonical/schema.py): made once per process per database file,
and never believed in when the transaction that made them rolled back."""

from __future__ import annotations

import duckdb
import pytest

from bridge_assets.canonical import schema
from bridge_assets.runtime.storage import Database

CANONICAL_TABLES = {"accounting_documents", "accounting_document_lines", "accounting_document_applications",
                    "rejected_documents", "cancelled_documents"}


def _tables(con) -> set[str]:
    return {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def test_tables_made_in_a_transaction_that_rolls_back_are_made_again_at_the_next_ask(tmp_path):
    db = Database(tmp_path / "bridge.duckdb")
    with pytest.raises(RuntimeError):
        with db.transaction() as con:
            schema.ensure_schema(con)
            schema.ensure_schema(con)   # the same transaction: already made
            assert CANONICAL_TABLES <= _tables(con)
            raise RuntimeError("the run fails after asking for the tables")
    with db.connect() as con:
        assert not CANONICAL_TABLES & _tables(con)
        schema.ensure_schema(con)
        assert con.execute("SELECT count(*) FROM accounting_documents").fetchall() == [(0,)]


def test_once_made_the_tables_are_not_made_again_so_a_read_only_connection_may_ask(tmp_path):
    path = tmp_path / "bridge.duckdb"
    with duckdb.connect(str(path)) as con:
        schema.ensure_schema(con)
        schema.ensure_schema(con)   # another (autocommit) transaction sees them: from now on they are known
    with duckdb.connect(str(path), read_only=True) as con:
        schema.ensure_schema(con)   # would raise if it tried to create anything on a read-only database
        assert CANONICAL_TABLES <= _tables(con)


def test_an_in_memory_database_is_given_the_tables_each_time():
    for _ in range(2):
        with duckdb.connect() as con:
            schema.ensure_schema(con)
            assert CANONICAL_TABLES <= _tables(con)


def test_the_ledger_tables_are_made_once_with_the_canonical_tables_their_plan_view_reads(tmp_path):
    from bridge_assets.ledger import schema as ledger_schema

    path = tmp_path / "bridge.duckdb"
    with duckdb.connect(str(path)) as con:
        ledger_schema.ensure_schema(con)
        ledger_schema.ensure_schema(con)   # seen committed from another transaction: known from now on
    with duckdb.connect(str(path), read_only=True) as con:
        ledger_schema.ensure_schema(con)   # nothing made again on a read-only database
        names = _tables(con) | {v for (v,) in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    assert CANONICAL_TABLES | {"ledger_postings", "ledger_events", "posting_plan", "posting_plan_payloads",
                               "document_versions", "held_decisions", "revert_plans"} <= names


def test_the_sources_and_books_tables_are_made_once_per_process_not_on_every_call(tmp_path):
    from bridge_assets.books import reconcile, results, store
    from bridge_assets.sources.sedona_api import store as sedona_api_store
    from bridge_assets.sources.sedona_api import sync as sedona_api_sync
    from bridge_assets.sources.sedona_export import intake, mapping
    from bridge_assets.sources.servicetrade import sync as servicetrade_sync

    path = tmp_path / "bridge.duckdb"
    every_owner = (intake.ensure_schema, mapping.ensure_schema, sedona_api_store.ensure_schema,
                   sedona_api_sync.ensure_schema, servicetrade_sync.ensure_schema, results.ensure_schema,
                   store.ensure_schema, reconcile.ensure_schema)
    with duckdb.connect(str(path)) as con:
        for ensure in every_owner:
            ensure(con)
            ensure(con)
    # A read-only database refuses any DDL: once made, no call runs it again.
    with duckdb.connect(str(path), read_only=True) as con:
        for ensure in every_owner:
            ensure(con)
        # sedona_export_lines is a view over the columnar copies of the files (ARCHITECTURE §3)
        names = _tables(con) | {v for (v,) in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    assert CANONICAL_TABLES | {"sedona_export_lines", "export_files", "sedona_api_statements", "sedona_api_records",
                               "sedona_api_watermarks", "sedona_api_pulls", "servicetrade_invoices",
                               "books_mirror", "reconciliation_results", "reconciliation_differences"} <= names


# Who may still name the canonical tables in SQL, and why (everyone else reads through canonical/reads.py).
_NAMES_THE_CANONICAL_TABLES = {
    "model/hash_sql.py": "the canonical JSON and hash in SQL, over the tables or relations shaped like them",
    "ledger/schema.py": "the plan's payload view, defined over the tables once",
    "ledger/plan.py": "the planning statement (being reshaped beside this change)",
    "sources/sedona_export/mapping.py": "the export files' loader, which writes the canonical rows",
    "sources/sedona_export/map_steps.py": "the export files' loader, which writes the canonical rows",
}


def test_only_canonical_and_the_named_exceptions_name_the_canonical_tables_in_sql():
    import re
    from pathlib import Path

    import bridge_assets

    root = Path(bridge_assets.__file__).parent
    sql = re.compile(r"(FROM|JOIN|INTO|UPDATE|TABLE)\s+accounting_document", re.IGNORECASE)
    naming = {path.relative_to(root).as_posix() for path in root.rglob("*.py") if sql.search(path.read_text())}
    outside = {p for p in naming if not p.startswith("canonical/")}
    assert outside <= set(_NAMES_THE_CANONICAL_TABLES), sorted(outside - set(_NAMES_THE_CANONICAL_TABLES))
