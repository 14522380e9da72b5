"""Each step of the Sedona mapping is a named SQL function with one job: here each runs on a small
relation, and configuration (prefixes, currency, code tables) goes in as values, never as SQL text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import store as ledger
from bridge_assets.sources.sedona_export import intake
from bridge_assets.sources.sedona_export import map_steps as steps
from bridge_assets.sources.sedona_export import mapping

from .conftest import line, write_export


@pytest.fixture
def con():
    con = duckdb.connect()
    steps.install_macros(con)
    yield con
    con.close()


def test_the_first_matching_item_prefix_decides_a_lines_kind_and_a_quote_is_only_a_character(con):
    con.execute("CREATE TABLE lines AS SELECT * FROM (VALUES ('2026-09', ' labx-1 '), ('2026-09', 'O''B-7'), "
                "('2026-09', 'WIDGET'), ('2026-09', NULL), ('2026-10', 'FEE-1')) t(period, item_code)")
    steps.periods_relation(con, ["2026-09"])
    steps.code_relations(con, [("lab", "ticket_labor"), ("LABX", "rmr"), ("o'b", "fee")], [])
    steps.item_kinds(con, lines_table="lines")
    kinds = dict(con.execute("SELECT code, kind FROM _item_kinds").fetchall())
    assert kinds == {"LABX-1": "ticket_labor", "O'B-7": "fee"}   # no prefix: kind `other`; 2026-10 not asked


def test_due_dates_come_from_the_terms_relation_and_the_number_prefix_is_bound(con):
    con.execute("""CREATE TABLE _heads AS SELECT * FROM (VALUES
        ('1001', 'invoice', DATE '2026-09-01', 'net45', 10.00, 10.00, 0.00, 0, 0, 0, 0, 3, 3, 1),
        ('1002', 'credit_memo', DATE '2026-09-02', 'SOON', -5.00, -5.00, 0.00, 0, 0, 0, 0, 4, 5, 2),
        ('1003', 'invoice', DATE '2026-09-03', 'NET45', NULL, 7.00, 1.00, 0, 0, 0, 0, 6, 9, 2)
    ) t(source_id, doc_type, txn_date, terms, total_in, amount_sum_in, tax_sum_in, negative_tax_as_written,
        negative_tax_flipped, unmultiplied_as_written, unmultiplied_flipped, first_row, last_row, line_count)""")
    steps.code_relations(con, [], [("Net45", 45), ("NET45", 1)])   # the first entry for a code wins
    steps.document_facts(con, source="sed'ona", doc_number_prefix="O'B-")
    facts = con.execute("SELECT source_id, doc_key, doc_number, due_date, flip, total, contiguous FROM _docs "
                        "ORDER BY source_id").fetchall()
    assert facts == [
        ("1001", "sed'ona:invoice:1001", "O'B-1001", dt.date(2026, 10, 16), False, Decimal("10.00"), True),
        ("1002", "sed'ona:credit_memo:1002", "O'B-1002", None, True, Decimal("5.00"), True),
        ("1003", "sed'ona:invoice:1003", "O'B-1003", dt.date(2026, 10, 18), False, Decimal("8.00"), False),
    ]


def _files_and_statements(con):
    con.execute("""CREATE TABLE files AS SELECT * FROM (VALUES
        ('a', 'march.csv', 1), ('b', 'x''api:2026-09', 2), ('c', 'x''api:2026-09', 3), ('d', 'april.csv', 4)
    ) t(file_sha256, file_name, seq)""")
    con.execute("CREATE TABLE statements (period VARCHAR, file_sha256 VARCHAR, seq BIGINT, full_pull BOOLEAN, "
                "stated_at TIMESTAMP)")


def test_only_the_latest_load_of_an_api_file_is_live_and_every_export_file_is(con):
    _files_and_statements(con)
    # The older load is stated again by a later pull: its rows count from that pull's place in the order.
    con.execute("INSERT INTO statements VALUES ('2026-09', 'b', 9, false, TIMESTAMP '2026-09-30 10:00')")
    steps.live_files(con, files_table="files", statements_table="statements", api_file_prefix="x'api:")
    assert con.execute("SELECT file_sha256, seq FROM _live_files ORDER BY 1").fetchall() == [("a", 1), ("b", 9), ("d", 4)]


def test_a_full_pull_newer_than_a_numbers_newest_copy_means_it_no_longer_stands(con):
    _files_and_statements(con)
    con.execute("INSERT INTO statements VALUES ('2026-09', 'c', 3, true, TIMESTAMP '2026-09-30 10:00')")
    con.execute("""CREATE TABLE lines AS SELECT * FROM (VALUES
        ('a', ' 7 ', '2026-09'), ('c', '8', '2026-09'), ('d', '9', '2026-09')) t(file_sha256, invoice_number, period)""")
    steps.live_files(con, files_table="files", statements_table="statements", api_file_prefix="x'api:")
    steps.standing(con, lines_table="lines", statements_table="statements")
    standing = con.execute("SELECT source_id, seq, period FROM _standing ORDER BY 1").fetchall()
    assert standing == [("8", 3, "2026-09"), ("9", 4, "2026-09")]   # 7: only in march.csv, older than the pull


def test_a_table_name_that_is_not_a_name_is_refused(con):
    with pytest.raises(ValueError, match="is not a table name"):
        steps.item_kinds(con, lines_table="lines; DROP TABLE x")


def test_a_prefix_with_a_quote_and_another_currency_reach_the_stored_documents(db, settings):
    rows = [line(number="5001"), line(number="5002", doc_type="Credit", applies="5001", amount="-10.00",
                                      rate="10.00", qty="-1", total="-10.00", item="LAB-1", cycle="", start="", end="")]
    intake.receive_all(db.connect, [write_export(settings.inbox / "q.csv", rows)], settings.folders)
    with db.transaction() as con:
        planning.ensure_schema(con)
        result = mapping.map_periods(con, ["2026-09"], mapping.MappingSettings(doc_number_prefix="O'", currency="CAD"),
                                     known_doc_keys_sql=ledger.KNOWN_DOC_KEYS_SQL)
        stored = con.execute("SELECT doc_number, currency, applies_to_number FROM accounting_documents ORDER BY 1").fetchall()
        kinds = con.execute("SELECT kind FROM accounting_document_lines ORDER BY doc_key").fetchall()
        left = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name IN (SELECT unnest(?))",
                           [list(steps.TEMP_TABLES)]).fetchall()[0][0]
    assert (result.documents, result.rejected_documents) == (2, 0)
    assert stored == [("O'5001", "CAD", None), ("O'5002", "CAD", "O'5001")]
    assert kinds == [("ticket_labor",), ("rmr",)]
    assert left == 0
