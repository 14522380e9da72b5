"""Converting several received files to their Parquet copies at once, before each is recorded in turn.

DuckDB's CSV reader reads an export file on one thread (a quoted line break rules out its parallel
scanner, see `parser._reading`), so a batch of files is converted side by side, one file per thread,
each in its own in-memory DuckDB; then `intake.receive_all` records them one at a time, each in its
own transaction, exactly as without this step, and finds the copy made (it does not convert again).

Only a speed-up: a file is converted here only when its bytes are taken from the inbox (copied into
the archive, hashed) and not received before. Whatever goes wrong here (an unreadable file, a refused
one) is left for the recording step, which meets the same problem and quarantines the file with its
message. A copy made here is written under a private name beside its place; only the recording step
moves it into place, inside its transaction and after finding the bytes not received meanwhile (by
another run, say), exactly where it would have written the copy itself. Copies not taken are removed.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import threading
from pathlib import Path
from typing import Callable, Iterable

import duckdb

from bridge_assets.runtime.settings import Folders
from bridge_assets.sources import sedona_lines
from bridge_assets.sources.sedona_export import inbox
from bridge_assets.sources.sedona_export.parser import AliasTable, ExportFile, LoadedLines, open_export, write_export_lines

# Each converting thread's DuckDB: one thread, a cap on memory (it spills to the work folder beyond it).
WORKER_MEMORY = "320MB"


@dataclasses.dataclass
class Prefetched:
    """What the conversion step did: the files it took, and the copies it made (by sha256, configuration
    and the name the file is read under: the copy's rows carry that name)."""

    taken: dict[Path, inbox.Taken] = dataclasses.field(default_factory=dict)
    converted: dict[tuple[str, str, str], tuple[LoadedLines, Path]] = dataclasses.field(default_factory=dict)
    opened: dict[tuple[Path, str, str], ExportFile] = dataclasses.field(default_factory=dict)

    def opened_as(self, copy: Path, name: str, sha256: str) -> ExportFile | None:
        """The file as recognised when it was converted here (the archived copy `copy`, dropped as `name`):
        the recording step does not read all its bytes again to recognise it."""
        return self.opened.pop((copy, name, sha256), None)

    def put_in_place(self, sha256: str, config_version: str, name: str, copy: Path) -> LoadedLines | None:
        """Move the copy made of these bytes (read under this configuration and name) to `copy`, its place,
        and say what it holds; None when there is none (the caller converts the file itself)."""
        found = self.converted.pop((sha256, config_version, name), None)
        if found is None or not found[1].is_file():
            return None
        found[1].replace(copy)
        return found[0]

    def discard(self) -> None:
        """Remove the copies no file was recorded with."""
        for _, made in self.converted.values():
            made.unlink(missing_ok=True)
        self.converted.clear()
        self.opened.clear()


def prefetch(con_factory: Callable, paths: Iterable[Path], folders: Folders, aliases: AliasTable | None,
             copy_for: Callable, workers: int | None = None) -> Prefetched:
    """Take every file of `paths` and convert those not received before, `workers` at a time (default: one
    more than the cores, at most 4, as each holds up to WORKER_MEMORY; never more than the files).
    `copy_for(folders, export)` names a file's Parquet copy.

    Each worker takes its file (copies it into the archive, hashing on the way) and converts it, so one
    file's copying overlaps another's parsing. One worker more than the cores: the CSV reader is
    single-threaded, and with three files on two cores the third would otherwise run alone on one core
    after the first two (measured at a million lines: parse 3.46 s with two workers, 2.98 s with
    three, the same CPU; scripts/BENCHMARKS.md)."""
    done = Prefetched()
    paths = [p for p in paths if p.exists()]
    workers = workers or min(4, (os.cpu_count() or 1) + 1)
    if len(paths) < 2 or workers < 2:
        return done
    received = _received(con_factory)
    claimed: set[str] = set()
    lock = threading.Lock()

    def take_and_convert(path: Path):
        try:
            taken = inbox.take(path, folders.archive)
        except OSError:
            return path, None, (None, None)     # the recording step takes it again and says what is wrong
        if taken is None:
            return path, None, (None, None)
        with lock:                              # received before, or a second copy in this batch: not converted
            new = taken.sha256 not in received and taken.sha256 not in claimed
            claimed.add(taken.sha256)
        return path, taken, _convert(taken, folders, aliases, copy_for) if new else (None, None)

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(paths))) as pool:
        for path, taken, (export, made) in pool.map(take_and_convert, paths):
            if taken is not None:
                done.taken[path] = taken
            if made is not None:
                done.converted[(export.sha256, export.config_version, export.name)] = made
                done.opened[(taken.copy, taken.name, taken.sha256)] = export
    return done


def _received(con_factory: Callable) -> set[str]:
    """The sha256 of every file received before (under any configuration: a re-read is left to the
    recording step)."""
    with con_factory() as con:
        try:
            return {r[0] for r in con.execute(f"SELECT file_sha256 FROM {sedona_lines.FILES_TABLE}").fetchall()}
        except duckdb.CatalogException:
            return set()                        # a new database: nothing received yet


def _convert(taken: inbox.Taken, folders: Folders, aliases: AliasTable | None,
             copy_for: Callable) -> tuple[ExportFile | None, tuple[LoadedLines, Path] | None]:
    try:
        export = open_export(taken.copy, aliases, work_dir=folders.work, name=taken.name, sha256=taken.sha256)
        place = copy_for(folders, export)
        private = place.with_name(f".{place.name}.prefetched-{os.getpid()}")
        con = duckdb.connect(config={"threads": 1, "memory_limit": WORKER_MEMORY,
                                     "temp_directory": str(folders.work / "duckdb-spill")})
        try:
            loaded = write_export_lines(con, export, private)
        finally:
            con.close()
    except Exception:                           # noqa: BLE001 - the recording step meets it again and says why
        return None, None
    return export, (loaded, private)
