"""Issue 9: the intake failures found with bad input, each reproduced and now handled.

Every test here failed on the code before the fix (see the issue's numbered points in each name's docstring)."""

from __future__ import annotations

import hashlib
import os
import shutil

import dagster as dg

from bridge_assets.sources.sedona_export import intake
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
    assert "row 3: Quantity '1234567890123456789012345' is out of range (more than 14 digits" in rejected["2"]
    assert "row 4: Amount '123456789012345678901.00' is out of range (more than 16 digits" in rejected["3"]
    assert "row 5: InvoiceTotal '99999999999999999999' is out of range (more than 16 digits" in rejected["4"]


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


def _run_request(defs, request, instance):
    """Execute a run the sensor requested, as the daemon would: its config and its tags."""
    return defs.resolve_job_def("bridge_job").execute_in_process(
        instance=instance, run_config=request.run_config, tags=request.tags, raise_on_error=False)


def _levy_file(settings, name="levy.csv"):
    header = list(BASELINE_HEADER)
    header[header.index("TaxAmount")] = "Levy"            # a spelling no alias table knows
    return write_export(settings.inbox / name, [line(number="41", taxable="Y", tax="2.40", total="32.35")],
                        header=header)


def _posted(db):
    with db.connect() as con:
        return con.execute("SELECT l.doc_number, CAST(d.total AS VARCHAR), count(e.*) FILTER (WHERE e.outcome = 'created') "
                           "FROM ledger_postings l JOIN accounting_documents d USING (doc_key) "
                           "LEFT JOIN ledger_events e ON e.doc_key = l.doc_key AND e.destination = l.destination "
                           "WHERE l.state = 'posted' GROUP BY ALL ORDER BY 1").fetchall()


def test_after_the_alias_table_is_fixed_the_same_file_dropped_again_is_read_again(db, settings, monkeypatch):
    """Point 9: the sha256 run key was "already completed" and a forced run said "already received"."""
    from bridge_assets.definitions import build_definitions

    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv")
    defs, instance = build_definitions(settings.home), dg.DagsterInstance.ephemeral()
    path = _levy_file(settings)
    content = path.read_bytes()
    (request,) = _two_looks(settings).run_requests
    assert _run_request(defs, request, instance).success is False          # the blocking check stops the period
    assert "InvoiceTotal 32.35 is not the lines 29.95 + tax 0.00" in _rejections(db)["41"]
    assert not path.exists()

    aliases = settings.home / "aliases.toml"
    aliases.write_text('TaxAmount = ["Levy"]\n', encoding="utf-8")
    monkeypatch.setenv("BRIDGE_HEADER_ALIASES", str(aliases))
    path.write_bytes(content)                                                   # the same bytes, dropped again
    (again,) = _two_looks(settings).run_requests
    assert again.run_key != request.run_key and again.tags["bridge/reread"]
    assert _run_request(defs, again, instance).success
    assert _rejections(db) == {} and _posted(db) == [("41", "32.35", 1)]
    assert not path.exists() and not list(settings.folders.duplicates.glob("*"))
    with db.connect() as con:
        assert con.execute("SELECT count(*), count(reread_at) FROM export_files").fetchall() == [(1, 1)]
        assert con.execute("SELECT count(*) FROM sedona_export_lines").fetchall() == [(1,)]
    # the same bytes once more under this configuration: a second copy, set aside
    path.write_bytes(content)
    assert _two_looks(settings).run_requests == [] and not path.exists()
    assert len(list(settings.folders.duplicates.glob("*.duplicate.txt"))) == 1


def test_bridge_reread_reads_one_archived_file_again_and_posts_nothing_twice(db, settings, monkeypatch, capsys, tmp_path):
    """Point 9: a documented command re-reads one archived file (by sha256 prefix or archived path)."""
    from bridge_assets import cli

    monkeypatch.setenv("BRIDGE_HOME", str(settings.home))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv")
    monkeypatch.setenv("QBO_CLIENT_ID", "not-used")        # no QuickBooks emulator: the file destination only
    good = write_export(settings.inbox / "good.csv", [line(number="40")])
    levy = _levy_file(settings)
    sha = hashlib.sha256(levy.read_bytes()).hexdigest()
    receive_and_map(db, settings, [good, levy], ["2026-09"])
    assert "41" in _rejections(db)

    assert cli.main(["reread", "zz-not-a-file"]) == 2
    assert "neither a file nor the start of a sha256" in capsys.readouterr().err
    aliases = settings.home / "aliases.toml"
    aliases.write_text('TaxAmount = ["Levy"]\n', encoding="utf-8")
    monkeypatch.setenv("BRIDGE_HEADER_ALIASES", str(aliases))
    assert cli.main(["reread", sha[:8]]) == 0
    out = capsys.readouterr().out
    assert f"Reading levy.csv (archived as {settings.archive / (sha[:12] + '_levy.csv')}) again for 2026-09" in out
    assert _rejections(db) == {} and _posted(db) == [("40", "29.95", 1), ("41", "32.35", 1)]
    # again, by the archived path: the same reading, nothing new posted
    assert cli.main(["reread", str(settings.archive / f"{sha[:12]}_levy.csv")]) == 0
    assert "This run posted nothing new" in capsys.readouterr().out
    assert _posted(db) == [("40", "29.95", 1), ("41", "32.35", 1)]
