"""Issue 9 acceptance: a corpus of awkward export files through the folder sensor in one tick.

Good files (from the sample-book generator and by hand, in every encoding and layout the bridge reads),
files with one bad document among good ones, files that cannot be read at all, second copies and
temporary names go into the inbox together. One sensor tick looks at all of them; the runs it requests
are executed as the daemon would (a run key already used is not run again). Then every file has an
outcome and a sentence: its good documents posted once each, its bad documents rejected with their
reasons, or the whole file quarantined or set aside with a note naming it. None is silently dropped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json

import dagster as dg
from openpyxl import Workbook

from bridge_assets.definitions import build_definitions
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.defs.sensors import sedona_export_folder_sensor
from bridge_assets.sandbox.book import generate_book
from bridge_assets.sandbox.export_writer import write_exports

from .conftest import BASELINE_HEADER, line

GOOD_PER_FILE = 40          # good invoices beside each bad one: a real export has one bad row among many


def _invoices(first: int, count: int = GOOD_PER_FILE, **fields) -> list[list[str]]:
    fields = {"name": "Customer", **fields}
    return [line(number=str(n), customer=f"K{n}", **fields) for n in range(first, first + count)]


def _csv(rows: list[list[str]], header=None, *, encoding="utf-8", newline_at_end=True, before="") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows([header or BASELINE_HEADER, *rows])
    text = before + out.getvalue()
    return (text if newline_at_end else text.rstrip("\r\n")).encode(encoding)


def _renamed_header() -> list[str]:
    names = {"InvoiceNumber": "Inv #", "InvoiceDate": "Inv Date", "CustomerNumber": "Cust No", "CustomerName": "Customer",
             "ItemCode": "Item", "Quantity": "Qty", "Rate": "Unit Price", "Amount": "Line Amount", "TaxAmount": "Tax",
             "InvoiceTotal": "Invoice Total", "Taxable": "Tax Flag"}
    return [names.get(h, h) for h in BASELINE_HEADER]


def _reordered(rows: list[list[str]]) -> bytes:
    order = list(reversed(range(len(BASELINE_HEADER))))
    return _csv([[r[i] for i in order] for r in rows], [BASELINE_HEADER[i] for i in order])


def _xlsx(rows: list[list[str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [BASELINE_HEADER, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _one_bad(first: int, **bad) -> list[list[str]]:
    """40 good invoices and one bad (number first + 40)."""
    return _invoices(first) + [line(number=str(first + GOOD_PER_FILE), customer="KBAD", name="Bad Row Co", **bad)]


def _corpus(settings) -> tuple[dict[str, bytes], dict[str, tuple]]:
    """The files, and what must become of each: (outcome, good documents, rejected documents, words of its sentence)."""
    book = generate_book(seed=5, lines=240, first_period="2026-08", months=3)
    generated = write_exports(book, settings.work / "generated")
    files: dict[str, bytes] = {p.name: p.read_bytes() for p in generated}
    expect: dict[str, tuple] = {
        p.name: ("posted", {str(d.number) for d in book.invoices if d.period == p.stem[-7:]}, set(), "")
        for p in generated}
    ticket = dict(item="LAB-1", cycle="", start="", end="", qty="1", rate="80.00", amount="80.00", total="80.00")

    def good(name, data, first):
        files[name] = data
        expect[name] = ("posted", {str(n) for n in range(first, first + GOOD_PER_FILE)}, set(), "")

    good("utf8_with_bom.csv", _csv(_invoices(300000), encoding="utf-8-sig"), 300000)
    good("windows_1252.csv", _csv(_invoices(300100, name="Muñoz, José ’Pepe’"), encoding="cp1252"), 300100)
    good("quoted_line_breaks.csv", _csv(_invoices(300200, description="Monitoring\r\nfront door, \"main\" panel")), 300200)
    good("totals_and_blank_rows.csv", _csv(_invoices(300300) + [[""] * 21, ["Report Total"] + [""] * 14 + ["1198.00"]]),
         300300)
    good("reordered_columns.csv", _reordered(_invoices(300400)), 300400)
    good("renamed_columns.csv", _csv(_invoices(300500, taxable="Y", tax="2.40", total="32.35"), _renamed_header()),
         300500)
    good("title_rows_above_header.csv",
         _csv(_invoices(300600), before="Export Invoice Detail\r\n09/01/2026 - 09/30/2026\r\n\r\n"), 300600)
    good("currency_amounts.csv", _csv(_invoices(300700, rate="1234.50", amount="$1,234.50", total="$1,234.50")), 300700)
    good("excel_export.xlsx", _xlsx(_invoices(300800)), 300800)
    discount = [line(number=str(n), customer=f"K{n}", item="PRT-1", cycle="", start="", end="", qty="1", rate="50.00",
                     amount="50.00", total="40.00") for n in range(300900, 300940)]
    discount += [line(number=str(n), customer=f"K{n}", item="FEE-DISC", cycle="", start="", end="", qty="1",
                      rate="-10.00", amount="-10.00", total="40.00") for n in range(300900, 300940)]
    good("negative_discount_lines.csv", _csv(sorted(discount, key=lambda r: r[0])), 300900)
    good("export_as_text.txt", _csv(_invoices(301000)), 301000)

    _with_one_bad_document(files, expect, ticket)
    _unreadable_copies_and_temporary(files, expect)
    return files, expect


def _with_one_bad_document(files: dict, expect: dict, ticket: dict) -> None:
    def one_bad(name, first, words, **bad):
        files[name] = _csv(_one_bad(first, **bad))
        expect[name] = ("posted", {str(n) for n in range(first, first + GOOD_PER_FILE)}, {str(first + GOOD_PER_FILE)}, words)

    one_bad("huge_quantity.csv", 310000, "Quantity '1234567890123456789012345' is out of range (more than 14 digits",
            **{**ticket, "qty": "1234567890123456789012345"})
    one_bad("huge_amount.csv", 310100, "Amount '98765432109876543210.00' is out of range (more than 16 digits",
            **{**ticket, "amount": "98765432109876543210.00", "total": "98765432109876543210.00"})
    one_bad("impossible_date.csv", 310200, "InvoiceDate '02/30/2026' is not MM/DD/YYYY", date="02/30/2026")
    one_bad("bad_amount.csv", 310300, "Amount '12.3.4' is not an amount of money", amount="12.3.4")
    one_bad("total_does_not_add_up.csv", 310400, "InvoiceTotal 99.00 is not the lines 29.95 + tax 0.00", total="99.00")
    one_bad("credit_for_unknown_invoice.csv", 310500, "applies to invoice 999999, which is in no export received",
            doc_type="Credit", applies="999999", cycle="", start="", end="")
    one_bad("negative_invoice.csv", 310800, "below zero: QuickBooks refuses a negative invoice; issue it as a credit memo",
            qty="-1", amount="-29.95", total="-29.95")
    truncated = _one_bad(310600)
    truncated[-1] = truncated[-1][:6]                       # cut after CustomerName, the line break kept
    files["truncated_mid_row.csv"] = _csv(truncated)
    expect["truncated_mid_row.csv"] = ("posted", {str(n) for n in range(310600, 310640)}, {"310640"}, "Amount is empty")
    two = _one_bad(310700)
    two.append(line(number="310740", customer="KOTHER", name="Other Co"))
    files["one_number_two_customers.csv"] = _csv(two)
    expect["one_number_two_customers.csv"] = ("posted", {str(n) for n in range(310700, 310740)}, {"310740"},
                                              "is used by different customers")



def _unreadable_copies_and_temporary(files: dict, expect: dict) -> None:
    def refused(name, data, words):
        files[name] = data
        expect[name] = ("quarantined", set(), set(), words)

    refused("binary_with_nul_bytes.csv", bytes(range(256)) * 64, "not a text export (binary content")
    refused("binary_without_nul_bytes.csv", b"\x81\x8d\x8f\x90\x9d" * 500, "not a text export (binary content")
    refused("empty.csv", b"", "the file is empty")
    refused("header_only.csv", _csv([]), "has a header but no invoice lines")
    refused("missing_amount_column.csv",
            _csv(_invoices(320000), [("Amt Billed" if h == "Amount" else h) for h in BASELINE_HEADER]),
            "required column(s) Amount not found")
    refused("not_an_export.csv", b"Hello,\r\nplease find the invoices attached.\r\nRegards\r\n", "required column(s)")
    refused("cut_short_at_the_end.csv", _csv(_invoices(320100), newline_at_end=False)[:-25],
            "the file looks cut short")
    refused("unterminated_quote.csv", _csv(_invoices(320200) + [line(number="320240", description='"open')])
            .replace(b'"""open"', b'"open'), "never closed")
    refused("broken_workbook.xlsx", _xlsx(_invoices(320300))[:700], "not a readable Excel workbook")
    refused("dated_2031.csv", _csv(_invoices(320400, date="01/05/2031")), "outside the billing periods")

    # Second copies under other names (named to come after their first copy: the sensor looks in name order,
    # and whichever copy is received first is the one kept).
    files["invoice_detail_2026-09_copy.csv"] = files["invoice_detail_2026-09.csv"]
    expect["invoice_detail_2026-09_copy.csv"] = ("duplicate", set(), set(), "as invoice_detail_2026-09.csv, received")
    files["windows_1252_Copy.csv"] = files["windows_1252.csv"]
    expect["windows_1252_Copy.csv"] = ("duplicate", set(), set(), "as windows_1252.csv, received")
    for name in ("upload.csv.part", "~$locked.csv", ".hidden.csv", "export.csv.tmp", "export.csv.partial"):
        files[name] = _csv(_invoices(330000))
        expect[name] = ("left", set(), set(), "temporary or hidden name")


def _outcomes(settings, db, names) -> dict[str, tuple[str, str]]:
    """What became of each file, with the sentence that says so."""
    with db.connect() as con:
        received = {name: sha for name, sha in con.execute(
            "SELECT file_name, file_sha256 FROM export_files").fetchall()}
        rejected = {}
        for name, number, reasons in con.execute(
                "SELECT file_name, source_id, reasons FROM rejected_documents ORDER BY 1, 2").fetchall():
            rejected.setdefault(name, []).append(f"{number}: {reasons}")
        posted = dict(con.execute(
            "SELECT f.file_name, count(*) FROM ledger_postings l JOIN accounting_documents d USING (doc_key) "
            "JOIN export_files f ON f.file_sha256 = d.file_sha256 WHERE l.state = 'posted' GROUP BY 1").fetchall())
    notes = {}
    for folder, suffix, outcome in ((settings.quarantine, ".error.txt", "quarantined"),
                                    (settings.folders.duplicates, ".duplicate.txt", "duplicate")):
        for note in folder.glob(f"*{suffix}") if folder.exists() else []:
            text = note.read_text(encoding="utf-8")
            name = text.splitlines()[0].removeprefix("File: ")
            notes[name] = (outcome, " ".join(text.split("\n\n")[1].split()))
    table = {}
    for name in names:
        if name in notes:
            table[name] = notes[name]
        elif name in received:
            sentence = f"{posted.get(name, 0)} documents posted"
            if rejected.get(name):
                sentence += f"; rejected {'; '.join(rejected[name])}"
            table[name] = ("posted", sentence)
        elif (settings.inbox / name).exists():
            table[name] = ("left", "left in the inbox: a temporary or hidden name is never taken")
        else:
            table[name] = ("MISSING", "nothing says what became of it")
    return table


def test_awkward_corpus_through_one_sensor_tick_every_file_accounted_for(db, settings, monkeypatch, capsys):
    monkeypatch.setenv("BRIDGE_DESTINATIONS", "staging_csv")
    files, expect = _corpus(settings)
    assert len(files) >= 30
    for name, data in files.items():
        (settings.inbox / name).write_bytes(data)
    defs, instance = build_definitions(settings.home), dg.DagsterInstance.ephemeral()
    job = defs.resolve_job_def("bridge_job")

    def tick(cursor=None):
        context = dg.build_sensor_context(cursor=cursor, resources={"bridge": BridgeResource(home=str(settings.home))})
        return sedona_export_folder_sensor(context)

    looked = tick(tick().cursor)                            # the first look only notes the files; this is the tick
    used_keys = set()
    for request in looked.run_requests:
        if request.run_key in used_keys:
            continue                                         # Dagster runs a run key once
        used_keys.add(request.run_key)
        job.execute_in_process(instance=instance, run_config=request.run_config, tags=request.tags,
                               raise_on_error=False)
    # The second copies were looked at before their first copy was received; the next look sets them aside.
    again = tick(tick().cursor)
    assert again.run_requests == []

    table = _outcomes(settings, db, sorted(files))
    with capsys.disabled():
        print(f"\n{'file':<38} {'outcome':<12} sentence")
        for name, (outcome, sentence) in table.items():
            print(f"{name:<38} {outcome:<12} {sentence[:150]}")
    for name, (outcome, good, bad, words) in expect.items():
        got, sentence = table[name]
        assert got == outcome, (name, table[name])
        assert words in sentence, (name, sentence)
        if outcome == "posted":
            assert sentence.startswith(f"{len(good)} documents posted"), (name, sentence)
            assert [r.split(":")[0] for r in sentence.split("; rejected ")[1:]] == sorted(bad), (name, sentence)

    # Every good document posted exactly once, nothing else posted.
    want = set().union(*(good for _, good, _, _ in expect.values()))
    with db.connect() as con:
        created = con.execute("SELECT split_part(doc_key, ':', 3), count(*) FROM ledger_events WHERE outcome = 'created' "
                              "GROUP BY 1").fetchall()
    assert {n for n, _ in created} == want and all(c == 1 for _, c in created)
