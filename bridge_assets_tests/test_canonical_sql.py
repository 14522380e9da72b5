"""The canonical JSON is built in SQL (never stored) and hashed outside DuckDB: it must stay byte for
byte `documents.canonical_json`, however it is split up, and old databases that stored it still open."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from bridge_assets import canonical_sql, mapping
from bridge_assets.documents import decimal_text

from .conftest import line, receive_and_map, write_export


def test_quantities_and_rates_are_written_as_python_writes_them():
    values = ["0", "1", "-1", "0.5", "-0.5", "19.95", "0.3333", "-0.0001", "100", "10.1", "1234567.8901", "2.250",
              "99999999999999.9999", "0.0010", "-12.3400"]
    con = duckdb.connect()
    expression = canonical_sql._dec_text("x")
    written = con.execute(f"SELECT {expression} FROM (SELECT CAST(unnest(?) AS DECIMAL(18,4)) AS x)", [values]).fetchall()
    assert [w for (w,) in written] == [decimal_text(Decimal(v)) for v in values]


def test_hashing_in_parts_gives_the_stored_hashes(db, settings):
    rows = [line(number=str(n), item=f"PRT-{n % 3}", cycle="", start="", end="", qty=str(n), rate="2.5",
                 amount=f"{2.5 * n:.2f}", total=f"{2.5 * n:.2f}") for n in range(1, 8)]
    receive_and_map(db, settings, [write_export(settings.inbox / "p.csv", rows)], ["2026-09"])
    with db.connect() as con:
        stored = dict(con.execute("SELECT doc_key, content_hash FROM accounting_documents").fetchall())
        count = canonical_sql.hash_documents(con, "SELECT * FROM accounting_documents", "SELECT * FROM accounting_document_lines",
                                             into="_parts", documents_per_part=2)
        in_parts = dict(con.execute("SELECT doc_key, content_hash FROM _parts").fetchall())
    assert count == len(stored) == 7
    assert in_parts == stored


def test_a_database_that_stored_the_json_is_rebuilt_without_it(db):
    with db.connect() as con:
        con.execute("""CREATE TABLE accounting_documents (
            doc_key VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, doc_type VARCHAR NOT NULL, source_id VARCHAR NOT NULL,
            doc_number VARCHAR NOT NULL, txn_date DATE NOT NULL, period VARCHAR NOT NULL, due_date DATE,
            customer_key VARCHAR NOT NULL, customer_name VARCHAR NOT NULL, master_account VARCHAR NOT NULL,
            site VARCHAR NOT NULL, terms VARCHAR NOT NULL, po_number VARCHAR NOT NULL,
            subtotal DECIMAL(18,2) NOT NULL, tax_total DECIMAL(18,2) NOT NULL, total DECIMAL(18,2) NOT NULL,
            currency VARCHAR NOT NULL, memo VARCHAR NOT NULL, source_ref VARCHAR NOT NULL,
            applies_to_key VARCHAR, applies_to_number VARCHAR, applies_to_amount DECIMAL(18,2),
            line_count BIGINT NOT NULL, canonical_json VARCHAR NOT NULL, content_hash VARCHAR NOT NULL,
            file_sha256 VARCHAR, mapped_at TIMESTAMP NOT NULL)""")
        con.execute("""INSERT INTO accounting_documents VALUES ('sedona:invoice:1', 'sedona', 'invoice', '1', '1', DATE '2026-09-01',
            '2026-09', NULL, 'C1', 'Smith', '', '', '', '', 1.00, 0.00, 1.00, 'USD', 'memo', 'f.csv#rows 2-2', NULL, NULL, NULL,
            1, '{}', 'abc', NULL, TIMESTAMP '2026-09-02 00:00:00')""")
        mapping.ensure_schema(con)
        mapping.ensure_schema(con)   # a second time is a no-op
        columns = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'accounting_documents'").fetchall()]
        kept = con.execute("SELECT doc_key, content_hash, CAST(total AS VARCHAR) FROM accounting_documents").fetchall()
    assert "canonical_json" not in columns and columns[-3:] == ["content_hash", "file_sha256", "mapped_at"]
    assert kept == [("sedona:invoice:1", "abc", "1.00")]
