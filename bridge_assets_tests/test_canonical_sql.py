"""The canonical JSON is built in SQL (never stored) and hashed by DuckDB: it must stay byte for
byte `documents.canonical_json`, however it is split up, and old databases that stored it still open."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from bridge_assets.model import hash_sql as canonical_sql
from bridge_assets.sources.sedona_export import mapping
from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.model.document import decimal_text

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


def test_documents_stored_from_python_load_back_exactly_with_several_applications_and_no_lines(db):
    """document_store (ServiceTrade, SedonaAPI payments) writes the columns only; the JSON built from
    them is the Python serialization, a payment's applications sorted by document key."""
    import datetime as dt

    from bridge_assets.canonical import store as document_store
    from bridge_assets.model.document import AccountingDocument, Application, DocumentLine, canonical_json, content_hash

    invoice = AccountingDocument(
        doc_key="servicetrade:invoice:77", source="servicetrade", doc_type="invoice", source_id="77", doc_number="ST-77",
        txn_date=dt.date(2026, 9, 3), period="2026-09", due_date=dt.date(2026, 10, 3), customer_key="9",
        customer_name='Acme "North" Ltd', master_account="", site="Dock 4", terms="NET30", po_number="",
        subtotal=Decimal("191.25"), tax_total=Decimal("0.00"), total=Decimal("191.25"), currency="USD",
        memo="ServiceTrade invoice 77", source_ref="servicetrade:invoice/77",
        lines=tuple(DocumentLine(n, "ticket_labor", f"LAB-{n}", f"visit {n}", Decimal("1.25"), Decimal("25.5"),
                                 Decimal("31.88"), n % 2 == 0) for n in range(1, 7)),
    ).with_hash()
    payment = AccountingDocument(
        doc_key="sedona:payment:5", source="sedona", doc_type="payment", source_id="5", doc_number="P5",
        txn_date=dt.date(2026, 9, 20), period="2026-09", due_date=None, customer_key="C1", customer_name="Smith",
        master_account="", site="", terms="", po_number="", subtotal=Decimal("80.00"), tax_total=Decimal("0.00"),
        total=Decimal("80.00"), currency="USD", memo="payment 5", source_ref="sedonaapi:payment/5",
        applies_to=(Application("sedona:invoice:9", "9", Decimal("30.00")), Application("sedona:invoice:10", "10", Decimal("50.00"))),
    ).with_hash()
    with db.connect() as con:
        document_store.replace_documents(con, source="servicetrade", doc_types=("invoice",), periods=["2026-09"], documents=[invoice])
        document_store.replace_documents(con, source="sedona", doc_types=("payment",), periods=["2026-09"], documents=[payment])
        texts = canonical_sql.canonical_json(con, [invoice.doc_key, payment.doc_key])
        loaded = canonical_reads.load_documents(con, [invoice.doc_key, payment.doc_key])
    assert texts == {invoice.doc_key: canonical_json(invoice), payment.doc_key: canonical_json(payment)}
    assert content_hash(loaded[payment.doc_key]) == loaded[payment.doc_key].content_hash == payment.content_hash
    assert loaded[invoice.doc_key].content_hash == invoice.content_hash
