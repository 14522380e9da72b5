"""Reading SedonaOffice exports: encodings, formats, header aliases, refusals, row-level defects."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.model.document import line_amount, money
from bridge_assets.sources.sedona_export.parser import AliasTable, ExportFileRefused, open_export

from .conftest import BASELINE_HEADER, line, receive_and_map, write_export


def _documents(db):
    with db.connect() as con:
        return con.execute(
            "SELECT doc_key, customer_name, CAST(total AS VARCHAR), CAST(tax_total AS VARCHAR), txn_date FROM accounting_documents ORDER BY doc_key"
        ).fetchall()


def _lines(db, doc_key):
    with db.connect() as con:
        return con.execute(
            "SELECT line_no, kind, CAST(qty AS VARCHAR), CAST(unit_price AS VARCHAR), CAST(amount AS VARCHAR), taxable, "
            "service_start, service_end FROM accounting_document_lines WHERE doc_key = ? ORDER BY line_no", [doc_key]
        ).fetchall()


def _rejections(db):
    with db.connect() as con:
        return con.execute("SELECT source_id, rows, reasons FROM rejected_documents ORDER BY source_id").fetchall()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodings_utf8_with_and_without_bom_and_windows_1252(db, settings, encoding):
    path = write_export(settings.inbox / "e.csv", [line(name="Muñoz, José ’Pepe’")], encoding=encoding)
    assert open_export(path).encoding == encoding
    receive_and_map(db, settings, [path], ["2026-09"])
    assert _documents(db)[0][1] == "Muñoz, José ’Pepe’"


def test_dates_are_month_day_year_and_12_30_1899_means_no_date(db, settings):
    rows = [
        line(number="1", date="9/1/2026", start="09/01/2026", end="09/30/2026"),
        line(number="2", date="09/02/2026", item="PRT-PIR100", cycle="", start="12/30/1899", end="12/30/1899",
             qty="1", rate="10", amount="10.00", total="10.00"),
    ]
    path = write_export(settings.inbox / "d.csv", rows)
    receive_and_map(db, settings, [path], ["2026-09"])
    docs = _documents(db)
    assert [d[4] for d in docs] == [dt.date(2026, 9, 1), dt.date(2026, 9, 2)]
    assert _lines(db, "sedona:invoice:1")[0][6:] == (dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert _lines(db, "sedona:invoice:2")[0][6:] == (None, None)


def test_amount_formats_thousands_currency_and_parentheses(db, settings):
    rows = [
        line(number="1", item="PRT-A", cycle="", qty="2", rate="617.25", amount="1,234.50", total="$1,234.50"),
        line(number="2", item="PRT-B", cycle="", qty="2", rate="617.25", amount="$1,234.50", total="1234.50"),
        line(number="3", doc_type="Credit", applies="1", item="PRT-A", cycle="", qty="1", rate="45.00",
             amount="(45.00)", tax="(0.00)", total="(45.00)"),
    ]
    path = write_export(settings.inbox / "a.csv", rows)
    receive_and_map(db, settings, [path], ["2026-09"])
    totals = {k: t for k, _, t, _, _ in _documents(db)}
    assert totals == {"sedona:invoice:1": "1234.50", "sedona:invoice:2": "1234.50", "sedona:credit_memo:3": "45.00"}
    assert _rejections(db) == []


def test_trailing_blank_and_total_rows_are_ignored_not_rejected(db, settings):
    trailer = [[""] * 21, ["Report Total"] + [""] * 14 + ["29.95", "", "0.00", "29.95", "", ""]]
    path = write_export(settings.inbox / "t.csv", [line()], trailer=trailer)
    received, refused = receive_and_map(db, settings, [path], ["2026-09"])
    assert refused == []
    assert received[0].line_rows == 1 and received[0].ignored_rows == 2
    assert len(_documents(db)) == 1 and _rejections(db) == []


def test_each_document_is_filed_under_its_period_and_an_undated_one_under_the_files_usual_period(db, settings):
    from bridge_assets.sources.sedona_export import intake

    rows = [
        line(number="1", date="09/01/2026"), line(number="1", date="09/01/2026", item="RMR-CELL"),
        line(number="2", date="09/15/2026"),
        line(number="3", date="10/01/2026", start="10/01/2026", end="10/31/2026"),
        line(number="4", date="13/45/2026"),
    ]
    path = write_export(settings.inbox / "m.csv", rows, trailer=[[""] * 21])
    assert intake.periods_in(path)[1] == ("2026-09", "2026-10")
    received, _ = receive_and_map(db, settings, [path], ["2026-09", "2026-10"])
    assert received[0].periods == ("2026-09", "2026-10")
    assert (received[0].line_rows, received[0].ignored_rows) == (5, 1)
    with db.connect() as con:
        filed = con.execute("SELECT invoice_number, period FROM sedona_export_lines ORDER BY row_number").fetchall()
    assert filed == [("1", "2026-09"), ("1", "2026-09"), ("2", "2026-09"), ("3", "2026-10"), ("4", "2026-09")]
    assert "InvoiceDate '13/45/2026' is not MM/DD/YYYY" in dict((n, r) for n, _, r in _rejections(db))["4"]


def test_xlsx_export_reads_like_csv(db, settings):
    book = Workbook()
    sheet = book.active
    sheet.append(["Invoice Detail Export", None])          # a title row above the header
    sheet.append(BASELINE_HEADER)
    row = line(qty="1.5", rate="95.00", amount="142.50", item="LAB-STD", cycle="", start="", end="", total="142.50")
    values: list[object] = list(row)
    values[1] = dt.datetime(2026, 9, 3)
    values[13], values[14], values[15], values[18] = 1.5, 95.0, 142.5, 142.5
    sheet.append(values)
    path = settings.inbox / "x.xlsx"
    book.save(path)
    export = open_export(path, work_dir=settings.work)
    assert export.header_row == 2
    receive_and_map(db, settings, [path], ["2026-09"])
    assert _documents(db)[0][2] == "142.50"
    assert _lines(db, "sedona:invoice:100001")[0][1:5] == ("ticket_labor", "1.5000", "95.0000", "142.50")


def test_common_header_spellings_are_recognised(settings):
    header = ["Invoice #", "Inv Date", "Type", "Applies To", "Customer No", "Customer", "Master Account", "Site",
              "Item Code", "Desc", "Bill Cycle", "Service Start", "Service End", "Qty", "Unit Price",
              "Extended Amount", "Taxable", "Sales Tax", "Invoice Total", "Terms", "PO #"]
    path = write_export(settings.inbox / "h.csv", [line()], header=header)
    export = open_export(path)
    assert set(export.columns) == set(BASELINE_HEADER)
    assert export.unknown_columns == ()


def test_user_alias_file_extends_the_table(settings, tmp_path):
    header = list(BASELINE_HEADER)
    header[header.index("Amount")] = "Amt Billed"
    path = write_export(settings.inbox / "u.csv", [line()], header=header)
    with pytest.raises(ExportFileRefused):
        open_export(path)
    alias_file = tmp_path / "aliases.toml"
    alias_file.write_text('Amount = ["Amt Billed"]\n', encoding="utf-8")
    table = AliasTable.from_toml(alias_file)
    export = open_export(path, table)
    assert export.headers[export.columns["Amount"]] == "Amt Billed"
    assert export.alias_version != AliasTable.baseline().version


def test_file_missing_a_required_column_is_refused_naming_file_columns_and_aliases(settings):
    header = list(BASELINE_HEADER)
    header[header.index("Amount")] = "Amt Billed"
    header[header.index("CustomerNumber")] = "Client Ref"
    path = write_export(settings.inbox / "march.csv", [line()], header=header)
    with pytest.raises(ExportFileRefused) as caught:
        open_export(path)
    message = str(caught.value)
    assert "march.csv" in message
    assert "CustomerNumber, Amount" in message
    assert "Extended Amount" in message and "Customer No" in message   # the aliases tried
    assert "BRIDGE_HEADER_ALIASES" in message                          # what to do


def test_refused_file_is_quarantined_with_a_note_and_nothing_loaded(db, settings):
    header = list(BASELINE_HEADER)
    header[header.index("Amount")] = "Amt Billed"
    bad = write_export(settings.inbox / "bad.csv", [line()], header=header)
    good = write_export(settings.inbox / "good.csv", [line(number="2")])
    received, refused = receive_and_map(db, settings, [bad, good], ["2026-09"])
    assert [r.file_name for r in received] == ["good.csv"] and [q.file_name for q in refused] == ["bad.csv"]
    notes = list(settings.quarantine.glob("*.error.txt"))
    assert len(notes) == 1 and "Amount" in notes[0].read_text()
    assert (settings.quarantine / notes[0].name.removesuffix(".error.txt")).exists()
    assert not bad.exists()
    assert [d[0] for d in _documents(db)] == ["sedona:invoice:2"]


def test_line_amount_rounds_half_up_to_the_cent():
    assert line_amount(Decimal("3"), Decimal("0.335")) == Decimal("1.01")      # 1.005 -> 1.01 (half-even gives 1.00)
    assert line_amount(Decimal("1.5"), Decimal("0.05")) == Decimal("0.08")     # 0.075 -> 0.08
    assert line_amount(Decimal("2"), Decimal("0.125")) == Decimal("0.25")
    assert line_amount(Decimal("-1"), Decimal("0.005")) == Decimal("-0.01")    # half away from zero
    assert str(money(Decimal("-0.001"))) == "0.00"


def test_mapping_rounds_qty_times_rate_half_up_and_refuses_amounts_that_do_not_multiply_out(db, settings):
    rows = [
        line(number="1", item="PRT-A", cycle="", qty="3", rate="0.335", amount="1.01", total="1.01"),
        line(number="2", item="PRT-A", cycle="", qty="3", rate="0.335", amount="1.00", total="1.00"),
    ]
    path = write_export(settings.inbox / "r.csv", rows)
    receive_and_map(db, settings, [path], ["2026-09"])
    assert [d[0] for d in _documents(db)] == ["sedona:invoice:1"]
    (number, rows_text, reasons), = _rejections(db)
    assert number == "2" and "Amount 1.00 is not Quantity 3 x Rate 0.335 = 1.01" in reasons


def test_bad_amount_rejects_the_whole_document_with_its_row_and_keeps_the_rest(db, settings):
    rows = [
        line(number="1"),
        line(number="2", item="PRT-A", cycle="", amount="12.3.4", total="29.95"),
        line(number="2", item="RMR-MON", rate="29.95", amount="29.95", total="29.95"),
    ]
    path = write_export(settings.inbox / "b.csv", rows)
    receive_and_map(db, settings, [path], ["2026-09"])
    assert [d[0] for d in _documents(db)] == ["sedona:invoice:1"]
    (number, rows_text, reasons), = _rejections(db)
    assert number == "2" and rows_text == "3-4" and "row 3: Amount '12.3.4' is not an amount of money" in reasons


def test_duplicate_invoice_number_for_two_customers_is_rejected(db, settings):
    rows = [line(number="7", customer="C001"), line(number="7", customer="C002", name="Jones, K")]
    path = write_export(settings.inbox / "dup.csv", rows)
    receive_and_map(db, settings, [path], ["2026-09"])
    assert _documents(db) == []
    assert "used by different customers (C001 and C002" in _rejections(db)[0][2]


def test_credit_pointing_at_an_unknown_invoice_is_rejected_with_what_to_do(db, settings):
    rows = [line(number="1"), line(number="2", doc_type="Credit", applies="999999", cycle="", start="", end="")]
    path = write_export(settings.inbox / "c.csv", rows)
    receive_and_map(db, settings, [path], ["2026-09"])
    assert [d[0] for d in _documents(db)] == ["sedona:invoice:1"]
    reasons = _rejections(db)[0][2]
    assert "applies to invoice 999999" in reasons and "export that invoice" in reasons


def test_header_total_must_equal_lines_plus_tax(db, settings):
    rows = [line(number="1", item="PRT-A", cycle="", qty="1", rate="100", amount="100.00", taxable="Y",
                 tax="7.25", total="107.00")]
    path = write_export(settings.inbox / "tot.csv", rows)
    receive_and_map(db, settings, [path], ["2026-09"])
    assert "InvoiceTotal 107.00 is not the lines 100.00 + tax 7.25 = 107.25" in _rejections(db)[0][2]


def test_same_file_received_twice_is_a_no_op(db, settings):
    path = write_export(settings.inbox / "same.csv", [line()])
    copy = Path(str(path) + ".copy.csv")
    copy.write_bytes(path.read_bytes())
    first, _ = receive_and_map(db, settings, [path], ["2026-09"])
    second, _ = receive_and_map(db, settings, [copy], ["2026-09"])
    assert not first[0].already_received and second[0].already_received
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM sedona_export_lines").fetchall()[0][0] == 1


def test_a_later_export_of_the_same_invoice_supersedes_the_earlier(db, settings):
    first = write_export(settings.inbox / "one.csv", [line(rate="29.95", amount="29.95", total="29.95")])
    receive_and_map(db, settings, [first], ["2026-09"])
    second = write_export(settings.inbox / "two.csv", [line(rate="39.95", amount="39.95", total="39.95")])
    receive_and_map(db, settings, [second], ["2026-09"])
    assert _documents(db)[0][2] == "39.95"


def test_sql_and_python_canonical_serialisations_agree(db, settings):
    """The JSON is not stored: it is built in SQL to hash it and again, from the stored columns, to load
    a document. Both must be byte for byte `documents.canonical_json`, whose sha256 is the stored hash,
    including a document with more lines than the SQL picks by number and one whose rows are scattered."""
    import hashlib

    from bridge_assets.model import hash_sql as canonical_sql
    from bridge_assets.model.document import canonical_json, content_hash

    name = 'Café "Olé" \\ Co/Ltd'
    many = [line(number="3", item=f"PRT-{n}", cycle="", start="", end="", qty=str(n), rate="1.5",
                 amount=f"{1.5 * n:.2f}", description=f"part {n}", name=name, total="82.50") for n in range(1, 11)]
    rows = [
        line(number="1", name=name, description="Line\twith tab, comma; and ’quotes’", total="30.95"),
        line(number="4", item="PRT-A", cycle="", start="", end="", qty="2", rate="5", amount="10.00", total="15.00"),
        line(number="1", item="PRT-X", cycle="", start="", end="", qty="0.3333", rate="3", amount="1.00",
             name=name, description="=cmd", total="30.95"),
        line(number="2", doc_type="Credit", applies="1", cycle="", start="", end="", total="29.95", name=name),
        *many,
        line(number="4", item="PRT-B", cycle="", start="", end="", qty="1", rate="5", amount="5.00", total="15.00"),
    ]
    path = write_export(settings.inbox / "s.csv", rows)
    receive_and_map(db, settings, [path], ["2026-09"])
    with db.connect() as con:
        stored = dict(con.execute("SELECT doc_key, content_hash FROM accounting_documents").fetchall())
        texts = canonical_sql.canonical_json(con, list(stored))
        documents = canonical_reads.load_documents(con, list(stored))
        line_numbers = con.execute("SELECT doc_key, list(line_no ORDER BY row_number) FROM accounting_document_lines "
                                   "GROUP BY doc_key").fetchall()
    assert sorted(stored) == ["sedona:credit_memo:2", "sedona:invoice:1", "sedona:invoice:3", "sedona:invoice:4"]
    assert dict(line_numbers)["sedona:invoice:1"] == [1, 2]          # rows 1 and 3 of the file: numbered in order
    assert dict(line_numbers)["sedona:invoice:3"] == list(range(1, 11))
    for key, digest in stored.items():
        assert canonical_json(documents[key]) == texts[key]
        assert hashlib.sha256(texts[key].encode("utf-8")).hexdigest() == digest
        assert content_hash(documents[key]) == digest
    assert [l.item_code for l in documents["sedona:invoice:3"].lines] == [f"PRT-{n}" for n in range(1, 11)]


def test_credit_applying_to_a_rejected_invoice_waits_with_it(db, settings):
    rows = [line(number="1", amount="oops"), line(number="2", doc_type="Credit", applies="1", cycle="", start="", end="")]
    path = write_export(settings.inbox / "w.csv", rows)
    receive_and_map(db, settings, [path], ["2026-09"])
    assert _documents(db) == []
    assert "which was rejected" in dict((n, r) for n, _, r in _rejections(db))["2"]


def test_quantity_or_rate_that_is_only_a_sign_is_rejected_not_a_crash(db, settings):
    rows = [line(number="1", qty="-"), line(number="2", rate="."), line(number="3", qty=".5", rate="59.90",
                                                                         amount="29.95", total="29.95")]
    path = write_export(settings.inbox / "signs.csv", rows)
    receive_and_map(db, settings, [path], ["2026-09"])
    assert [d[0] for d in _documents(db)] == ["sedona:invoice:3"]
    reasons = dict((n, r) for n, _, r in _rejections(db))
    assert "Quantity '-' is not a number" in reasons["1"] and "Rate '.' is not a number" in reasons["2"]


def test_a_files_rows_are_kept_once_as_a_parquet_copy_named_by_its_sha256_and_a_missing_copy_is_named(db, settings):
    import pytest as _pytest

    from bridge_assets.sources.sedona_lines import ColumnarCopyMissing

    path = write_export(settings.inbox / "p.csv", [line(number="1"), line(number="2")])
    received, _ = receive_and_map(db, settings, [path], ["2026-09"])
    with db.connect() as con:
        (copy,) = [Path(p) for (p,) in con.execute("SELECT columnar_path FROM export_files").fetchall()]
        assert con.execute("SELECT count(*) FROM sedona_received_rows").fetchone() == (0,)      # none inside DuckDB
        assert con.execute("SELECT count(*), min(row_number), min(parser_version) FROM read_parquet(?)",
                           [str(copy)]).fetchone() == (2, 2, "sedona-export/2")
        assert con.execute("SELECT table_type FROM information_schema.tables WHERE table_name = 'sedona_export_lines'"
                           ).fetchone() == ("VIEW",)
    assert copy.name.startswith(received[0].sha256) and copy.parent == settings.folders.columnar
    copy.unlink()
    with _pytest.raises(ColumnarCopyMissing, match=r"p\.csv .*bridge reread " + received[0].sha256[:12]):
        receive_and_map(db, settings, [], ["2026-09"])


def test_a_database_from_before_the_columnar_copies_keeps_the_rows_it_holds(tmp_path):
    import duckdb

    from bridge_assets.sources import schema, sedona_lines

    with duckdb.connect(str(tmp_path / "old.duckdb")) as con:
        con.execute(sedona_lines.lines_table_ddl("sedona_export_lines", with_period=True))   # every row in a table
        con.execute("INSERT INTO sedona_export_lines (file_sha256, file_name, row_number, parser_version, period, "
                    "invoice_number) VALUES ('abc', 'old.csv', 2, 'sedona-export/2', '2026-09', '7')")
        schema.ensure_schema(con)
        assert con.execute("SELECT file_name, invoice_number FROM sedona_export_lines").fetchall() == [("old.csv", "7")]
        assert con.execute("SELECT count(*) FROM sedona_received_rows").fetchone() == (1,)
