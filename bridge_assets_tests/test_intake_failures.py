"""Issue 9: the intake failures found with bad input, each reproduced and now handled.

Every test here failed on the code before the fix (see the issue's numbered points in each name's docstring)."""

from __future__ import annotations

import hashlib
import os
import shutil

import dagster as dg

from bridge_assets import intake
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.sensors import sedona_export_folder_sensor

from .conftest import BASELINE_HEADER, line, receive_and_map, write_export


def _tick(settings, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"bridge": BridgeResource(home=str(settings.home))})
    return sedona_export_folder_sensor(context)


def _two_looks(settings):
    return _tick(settings, _tick(settings).cursor)


def _notes(folder, suffix):
    return {p.name: p.read_text() for p in folder.glob(f"*{suffix}")} if folder.exists() else {}


def _rejections(db):
    with db.connect() as con:
        return dict(con.execute("SELECT source_id, reasons FROM rejected_documents ORDER BY 1").fetchall())


def _documents(db):
    with db.connect() as con:
        return [r[0] for r in con.execute("SELECT source_id FROM accounting_documents ORDER BY 1").fetchall()]


def test_binary_file_is_quarantined_and_the_good_file_in_the_same_tick_still_flows(settings):
    """Point 3: a binary file renamed .csv made every tick raise UnicodeDecodeError."""
    (settings.inbox / "scan.csv").write_bytes(bytes(range(256)) * 40)                      # NUL bytes
    (settings.inbox / "photo.csv").write_bytes(b"\x81\x8d\x8f\x90\x9d" * 200)              # no NUL, not cp1252
    write_export(settings.inbox / "good.csv", [line(number="5")])
    result = _two_looks(settings)
    assert [r.tags["bridge/file"] for r in result.run_requests] == ["good.csv"]
    notes = _notes(settings.quarantine, ".error.txt")
    assert len(notes) == 2
    for name in ("scan.csv", "photo.csv"):
        (text,) = [t for n, t in notes.items() if n.endswith(f"_{name}.error.txt")]
        assert f"File: {name}" in text and "not a text export (binary content" in text
    assert not (settings.inbox / "scan.csv").exists() and not (settings.inbox / "photo.csv").exists()


def test_binary_file_given_to_a_run_is_quarantined_not_a_crash(db, settings):
    """Point 3, the run's side: receive_all named the file given by the sensor or the demo."""
    bad = settings.inbox / "scan.csv"
    bad.write_bytes(b"\x81\x8d\x8f" * 100)
    good = write_export(settings.inbox / "good.csv", [line(number="5")])
    received, refused = receive_and_map(db, settings, [bad, good], ["2026-09"])
    assert [r.file_name for r in received] == ["good.csv"]
    assert [q.file_name for q in refused] == ["scan.csv"] and "binary content" in refused[0].reason
    assert _documents(db) == ["5"]


def test_quoted_line_break_in_a_description_is_read_as_one_field(db, settings):
    """Point 4: DuckDB's parallel scanner refused quoted new lines with null padding: the inbox was stuck."""
    path = write_export(settings.inbox / "multi.csv", [
        line(number="1", description="Monitoring\nfront door and garage"),
        line(number="2", description="Repair, \"urgent\"\r\nsecond visit", item="LAB-1", cycle="", start="", end="",
             qty="1", rate="80.00", amount="80.00", total="80.00"),
    ], trailer=[["Report Total", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "109.95"]])
    result = _two_looks(settings)
    (request,) = result.run_requests
    assert request.tags["bridge/file"] == "multi.csv"
    received, refused = receive_and_map(db, settings, [path], ["2026-09"])
    assert refused == [] and received[0].line_rows == 2
    with db.connect() as con:
        descriptions = dict(con.execute("SELECT doc_key, description FROM accounting_document_lines").fetchall())
    assert descriptions == {"sedona:invoice:1": "Monitoring\nfront door and garage",
                            "sedona:invoice:2": "Repair, \"urgent\"\r\nsecond visit"}


def test_out_of_range_numbers_reject_their_document_with_the_row_not_the_period(db, settings):
    """Point 5: a 25-digit quantity raised ConversionException in the mapping, and every run of the period failed."""
    path = write_export(settings.inbox / "huge.csv", [
        line(number="1"),
        line(number="2", item="PRT-1", cycle="", start="", end="", qty="1234567890123456789012345", rate="1",
             amount="1.00", total="1.00"),
        line(number="3", item="PRT-1", cycle="", start="", end="", qty="1", rate="1",
             amount="123456789012345678901.00", total="123456789012345678901.00"),
        line(number="4", item="PRT-1", cycle="", start="", end="", qty="1", rate="1", amount="1.00",
             total="99999999999999999999"),
    ])
    receive_and_map(db, settings, [path], ["2026-09"])
    assert _documents(db) == ["1"]
    rejected = _rejections(db)
    assert "row 3: Quantity '1234567890123456789012345' has more than 14 digits" in rejected["2"]
    assert "row 4: Amount '123456789012345678901.00' has more than 16 digits" in rejected["3"]
    assert "row 5: InvoiceTotal '99999999999999999999' has more than 16 digits" in rejected["4"]


def test_empty_file_is_quarantined_once_quiet(settings):
    """Point 7: a 0-byte file was never taken, never quarantined, never mentioned."""
    (settings.inbox / "empty.csv").write_bytes(b"")
    result = _two_looks(settings)
    assert result.run_requests == []
    (text,) = _notes(settings.quarantine, ".error.txt").values()
    assert "File: empty.csv" in text and "the file is empty" in text
    assert not (settings.inbox / "empty.csv").exists()


def test_second_copy_of_a_received_file_is_set_aside_with_a_note_naming_the_first(db, settings):
    """Point 8: a second copy (another name, same bytes) stayed in the inbox forever."""
    first = write_export(settings.inbox / "sept.csv", [line(number="7")])
    content = first.read_bytes()
    receive_and_map(db, settings, [first], ["2026-09"])
    assert not first.exists()
    copy = settings.inbox / "sept (copy).csv"
    copy.write_bytes(content)
    result = _two_looks(settings)
    assert result.run_requests == []
    assert not copy.exists()
    (note,) = _notes(settings.folders.duplicates, ".duplicate.txt").values()
    sha = hashlib.sha256(content).hexdigest()
    assert "File: sept (copy).csv" in note and "sept.csv" in note and sha in note and f"{sha[:12]}_sept.csv" in note
    (kept,) = [p for p in settings.folders.duplicates.iterdir() if not p.name.endswith(".txt")]
    assert kept.read_bytes() == content


def test_second_copy_given_to_a_run_is_set_aside_too(db, settings):
    """Point 8, the run's side (the database was busy when the sensor looked, or the demo dropped it again)."""
    first = write_export(settings.inbox / "a.csv", [line(number="7")])
    content = first.read_bytes()
    receive_and_map(db, settings, [first], ["2026-09"])
    again = settings.inbox / "b.csv"
    again.write_bytes(content)
    (outcome,), refused = receive_and_map(db, settings, [again], ["2026-09"])
    assert outcome.already_received and outcome.set_aside and not again.exists()
    assert "already received" in outcome.sentence and "a.csv" in outcome.sentence
    assert len(list(settings.archive.iterdir())) == 1          # archived once, under the first name


def test_tax_header_is_the_tax_amount(db, settings):
    """Point 10: `Tax` was not the tax column, so every document was rejected for a total that did not add up."""
    header = list(BASELINE_HEADER)
    header[header.index("TaxAmount")] = "Tax"
    path = write_export(settings.inbox / "tax.csv",
                        [line(number="1", taxable="Y", tax="2.40", total="32.35")], header=header)
    receive_and_map(db, settings, [path], ["2026-09"])
    assert _rejections(db) == {}
    with db.connect() as con:
        assert con.execute("SELECT CAST(tax_total AS VARCHAR), CAST(total AS VARCHAR) FROM accounting_documents"
                           ).fetchall() == [("2.40", "32.35")]


def test_sales_tax_header_and_taxable_flag_side_by_side(db, settings):
    header = list(BASELINE_HEADER)
    header[header.index("TaxAmount")] = "Sales Tax"
    header[header.index("Taxable")] = "Tax Flag"
    path = write_export(settings.inbox / "tax.csv", [line(number="1", taxable="Y", tax="2.40", total="32.35")],
                        header=header)
    receive_and_map(db, settings, [path], ["2026-09"])
    assert _rejections(db) == {}
