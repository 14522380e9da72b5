"""The kit's file writing: any import format gets durable run files and formula-safe cells by naming its rules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bridge_assets.destinations.kit.cells import row_cells, text_cell
from bridge_assets.destinations.kit.files import PARTIAL_SUFFIX, Entry, FileScan, OutputFolder

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HEADER = b"number;total\n"


def scan_lines(data: bytes) -> FileScan | None:
    """A toy import format: a header, then one `number;total` line per document."""
    if not data.startswith(HEADER):
        return FileScan((), 0) if HEADER.startswith(data) else None
    entries, offset = [], len(HEADER)
    while (end := data.find(b"\n", offset)) >= 0:
        number, _, total = data[offset:end].decode().partition(";")
        entries.append(Entry("create", "invoice", number, "", "", total, ({"number": number},)))
        offset = end + 1
    return FileScan(tuple(entries), offset)


def test_text_cells_are_defused_and_numeric_cells_are_left_exact():
    row = {"customer": "  =HYPERLINK(\"http://x\")", "memo": "two\r\nlines", "total": "-12.50", "note": "+1"}
    cells = row_cells(row, ("customer", "memo", "total", "note"), frozenset({"total"}))
    assert cells == ["'  =HYPERLINK(\"http://x\")", "two lines", "-12.50", "'+1"]
    assert text_cell(None) == "" and text_cell("\uff1dSUM(A1)") == "'\uff1dSUM(A1)"


CRASHING_WRITER = """
import os, sys
from pathlib import Path
from bridge_assets.destinations.kit.files import OutputFolder
from bridge_assets_tests.destinations.test_kit_files import HEADER, scan_lines
run = OutputFolder(Path(sys.argv[1]), "toy", ".txt", HEADER, scan_lines).start_run("run-1", "2026-09")
run.append(b"1001;10.00\\n")
run.append(b"1002;20.00\\n")
os.write(run._fd, b"1003;3")      # torn: the writer dies inside its third document
os._exit(9)
"""


def test_a_crashed_runs_file_keeps_its_acknowledged_documents_and_loses_the_torn_one(tmp_path: Path):
    writer = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(tmp_path)],
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True)
    assert writer.returncode == 9, writer.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["toy_2026-09_run-1.txt" + PARTIAL_SUFFIX]

    folder = OutputFolder(tmp_path, "toy", ".txt", HEADER, scan_lines)
    finished = folder.finish_crashed_runs()
    assert [p.name for p in finished] == ["toy_2026-09_run-1.txt"]
    assert finished[0].read_bytes() == HEADER + b"1001;10.00\n1002;20.00\n"
    assert [(e.doc_number, e.total) for _, e in folder.entries()] == [("1001", "10.00"), ("1002", "20.00")]
