"""Issue 12: several new export files are converted to their Parquet copies side by side (one per
thread), then recorded one at a time: each keeps its own lineage, a bad one among them is still refused
and quarantined with its message, and a second copy of the same bytes is still set aside unread."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import duckdb

from bridge_assets.sources.sedona_export import intake, prefetch

from .conftest import line, write_export


def _files(settings):
    good = [write_export(settings.inbox / f"export_{n}.csv",
                         [line(number=f"{n}0{k}", customer=f"C{n}") for k in range(1, 4)]) for n in (1, 2, 3)]
    bad = write_export(settings.inbox / "no_amounts.csv", [["1", "09/01/2026"]], header=["InvoiceNumber", "InvoiceDate"])
    return good, bad


def test_files_converted_side_by_side_keep_their_own_lineage(db, settings):
    good, bad = _files(settings)
    shutil.copyfile(good[0], settings.inbox / "export_1_again.csv")
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in good}

    received, refused = intake.receive_all(db.connect, sorted(settings.inbox.iterdir()), settings.folders)

    assert sorted(r.file_name for r in received if not r.already_received) == [p.name for p in good]
    assert [r.file_name for r in received if r.already_received] == ["export_1_again.csv"]
    assert [q.file_name for q in refused] == ["no_amounts.csv"]
    assert "required column(s)" in refused[0].reason
    moved = Path(refused[0].moved_to)
    assert moved.parent == settings.quarantine and moved.exists() and not bad.exists()
    assert "no_amounts.csv" in moved.with_name(moved.name + ".error.txt").read_text()
    with db.connect() as con:
        rows = con.execute("SELECT file_name, file_sha256, min(row_number), max(row_number), count(*), "
                           "min(parser_version) FROM sedona_export_lines GROUP BY 1, 2 ORDER BY 1").fetchall()
    assert [(name, sha) for name, sha, *_ in rows] == sorted(digests.items())
    assert all(first == 2 and last == 4 and count == 3 and version for _, _, first, last, count, version in rows)


def test_the_side_by_side_step_converts_only_new_bytes_and_leaves_the_copies_aside_until_recorded(db, settings):
    good, _ = _files(settings)
    first = hashlib.sha256(good[0].read_bytes()).hexdigest()
    again = Path(shutil.copyfile(good[0], settings.inbox / "export_1_again.csv"))
    intake.receive_all(db.connect, [good[0]], settings.folders)          # received before: not converted again
    early = prefetch.prefetch(db.connect, [again, good[1], good[2]], settings.folders, None,
                              intake.columnar_copy, workers=2)

    assert sorted(key[2] for key in early.converted) == ["export_2.csv", "export_3.csv"]
    made = [path for _, path in early.converted.values()]
    assert all(loaded.line_rows == 3 and loaded.periods == ("2026-09",) for loaded, _ in early.converted.values())
    rows = duckdb.sql("SELECT file_name, count(*) FROM read_parquet($p) GROUP BY 1 ORDER BY 1",
                      params={"p": [str(m) for m in made]}).fetchall()
    assert rows == [("export_2.csv", 3), ("export_3.csv", 3)]
    # Nothing is in place until the recording step takes it: the only copy in place is the one received.
    assert [c.name.split(".")[0] for c in settings.folders.columnar.glob("*.parquet")] == [first]
    early.discard()
    assert not any(m.exists() for m in made)
