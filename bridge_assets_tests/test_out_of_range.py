"""A number too large for its column rejects its own document with the row and the reason; the rest of the
period flows, and the next run of the period works as well (issue 9, point 5)."""

from __future__ import annotations

from bridge_assets.ledger import store as ledger
from bridge_assets.sources.sedona_export import mapping
from bridge_assets.canonical import validation

from .conftest import line, receive_and_map, write_export


def test_a_25_digit_quantity_rejects_its_document_not_the_period(db, settings):
    huge = "1234567890123456789012345"
    path = write_export(settings.inbox / "sep.csv", [
        line(number="1"),
        line(number="2", qty=huge),
        line(number="3", amount="12345678901234567.00", total="12345678901234567.00", rate="12345678901234567"),
        line(number="4", customer="C004", name="Ortiz, M"),
    ])
    receive_and_map(db, settings, [path], ["2026-09"], ("staging_csv",))
    with db.connect() as con:
        kept = sorted(n for (n,) in con.execute("SELECT doc_number FROM accounting_documents").fetchall())
        rejected = dict(con.execute("SELECT source_id, rows || ': ' || reasons FROM rejected_documents").fetchall())
        planned = con.execute("SELECT count(*) FROM posting_plan WHERE action = 'create'").fetchone()[0]
    assert kept == ["1", "4"] and planned == 2
    assert rejected["2"] == (f"3-3: row 3: Quantity '{huge}' is out of range (more than 14 digits before the "
                             f"decimal point)")
    assert "row 4: Amount '12345678901234567.00' is out of range (more than 16 digits" in rejected["3"]
    assert "Rate '12345678901234567' is out of range" in rejected["3"]
    with db.transaction() as con:                          # the next run of the period works too
        assert mapping.map_periods(con, ["2026-09"], known_doc_keys_sql=ledger.KNOWN_DOC_KEYS_SQL).documents == 2


def test_lines_adding_up_past_sixteen_digits_reject_the_document(db, settings):
    rate, amount = "99999999999999", "9899999999999901.00"      # 99 x the largest rate: 16 digits, readable
    path = write_export(settings.inbox / "sep.csv", [
        line(number="5", qty="99", rate=rate, amount=amount, total=""),
        line(number="5", qty="99", rate=rate, amount=amount, total=""),
        line(number="6", rate=rate, amount=rate + ".00", total=rate + ".00"),     # large, but in range: kept
    ])
    receive_and_map(db, settings, [path], ["2026-09"])
    with db.connect() as con:
        kept = [n for (n,) in con.execute("SELECT doc_number FROM accounting_documents").fetchall()]
        (reasons,) = con.execute("SELECT reasons FROM rejected_documents WHERE source_id = '5'").fetchall()[0]
        assert validation.schema_valid(con, ["2026-09"])["2026-09"].passed
    assert kept == ["6"]
    assert reasons == "the lines add up to 19799999999999802.00, more than the 16 digits an amount may have"
