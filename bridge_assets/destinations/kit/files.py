"""Run files for every platform that takes an import file: one new file per run, written durably.

A file destination writes each run to a NEW file named by period and run
(`staging_2026-09_<run_id>.csv`, `qbd_2026-09_<run_id>.iif`). While the run is writing, the file
carries a `.partial` suffix, so nobody imports half a run; `finish` gives it its real name.

Crash safety, per document: its complete rows go out in one write, then flush and fsync, and only
then does `append` return. A kill -9 therefore loses whole documents only (the kernel keeps a
finished write); a power cut can at worst leave the last, unacknowledged document torn. Readers
count a document only when it is complete (the format's `Scanner` says where complete documents
end), and the next run finishes a crashed run's `.partial` file: it cuts off the torn tail and gives
the file its real name, so the documents the ledger was told about are all there and the one it was
not told about is re-sent by the ledger.

Writers hold an exclusive `flock` on their `.partial` file for the whole run; a `.partial` file
whose lock can be taken belongs to a run that is gone. Where `fcntl` does not exist (Windows),
crashed runs' files are left as they are (still searched by `find`).
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
from pathlib import Path
from typing import Callable, Iterator

from bridge_assets.destinations.base import DestinationError
from bridge_assets.runtime.durable import fsync_folder

try:  # POSIX only; see the module docstring for what happens without it.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PARTIAL_SUFFIX = ".partial"

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def check_period(period: str) -> str:
    if not isinstance(period, str) or not _PERIOD.match(period):
        raise ValueError(f"period must look like 2026-09, got {period!r}")
    return period


def run_file_name(prefix: str, period: str, run_id: str, suffix: str) -> str:
    """`<prefix>_<period>_<run_id><suffix>`, with the run id reduced to characters safe in file names."""
    safe_run_id = _UNSAFE_NAME_CHARS.sub("-", run_id).strip("-.")
    if not safe_run_id:
        raise ValueError(f"run_id {run_id!r} has no characters usable in a file name")
    return f"{prefix}_{check_period(period)}_{safe_run_id}{suffix}"


def finished_name(path: Path) -> str:
    """The name a run file has (or will have) once its run ended: without `.partial`."""
    name = path.name
    return name[: -len(PARTIAL_SUFFIX)] if name.endswith(PARTIAL_SUFFIX) else name


@dataclasses.dataclass(frozen=True)
class Entry:
    """One document's complete rows in a run file, as written."""

    action: str
    doc_type: str
    doc_number: str          # as written (after the format's text rules)
    request_id: str
    content_hash: str
    total: str
    rows: tuple[dict[str, str], ...]


@dataclasses.dataclass(frozen=True)
class FileScan:
    """The complete documents at the start of a file, and how many bytes they take."""

    entries: tuple[Entry, ...]
    complete_bytes: int


Scanner = Callable[[bytes], FileScan | None]   # None: not one of our files (foreign header)


def complete_records(data: bytes, offset: int, columns: list[str]) -> Iterator[tuple[dict[str, str], int]]:
    """The CSV records (CRLF-ended) of `data` from `offset`, each with the offset where it ends, up to the first
    one torn or damaged (a crash mid-write): what a scanner may trust of a file it wrote."""
    while True:
        end = data.find(b"\r\n", offset)
        if end < 0:
            return
        try:
            cells = next(csv.reader([data[offset:end].decode("utf-8")]))
            record = dict(zip(columns, cells, strict=True))
        except (UnicodeDecodeError, csv.Error, StopIteration, ValueError):
            return                    # torn or damaged from here on
        offset = end + 2
        yield record, offset


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class RunFile:
    """The file of one run: created by the first document, appended durably, renamed at the end."""

    def __init__(self, folder: Path, name: str, header: bytes):
        self.folder = folder
        self.name = name
        self.header = header
        self.partial_path = folder / (name + PARTIAL_SUFFIX)
        self.final_path = folder / name
        self._fd: int | None = None
        self._size = 0
        self._finished = False

    @property
    def written(self) -> bool:
        return self._fd is not None and self._size > 0

    def append(self, document_bytes: bytes) -> None:
        """Append one document's rows and fsync them. On error nothing of the document remains."""
        if self._finished:
            raise RuntimeError(f"{self.name} is already finished; call begin_run for a new run")
        data = document_bytes
        if self._fd is None:
            self._open()
        if self._size == 0:
            data = self.header + document_bytes
        assert self._fd is not None
        try:
            _write_all(self._fd, data)
            os.fsync(self._fd)
        except OSError:
            self._roll_back()
            raise
        self._size += len(data)

    def _open(self) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_BINARY", 0)
        fd = os.open(self.partial_path, flags, 0o644)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd
        fsync_folder(self.folder)

    def _roll_back(self) -> None:
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError as error:
            raise DestinationError(
                f"{self.partial_path} may end in a half-written document and could not be cut back "
                f"({error}); do not import it: delete its last document by hand or the whole file, "
                f"and mark the run's 'sending' documents for re-sending."
            ) from error

    def finish(self) -> Path | None:
        """Give the file its real name. Returns it, or None when no document was written."""
        if self._finished:
            return self.final_path if self._size else None
        self._finished = True
        if self._fd is None:
            return None
        try:
            if self._size == 0:
                os.unlink(self.partial_path)
                return None
            os.fsync(self._fd)
            if self.final_path.exists():
                raise DestinationError(
                    f"{self.final_path} already exists; this run's documents are in {self.partial_path}: "
                    f"rename it by hand before importing."
                )
            os.rename(self.partial_path, self.final_path)
            fsync_folder(self.folder)
            return self.final_path
        finally:
            os.close(self._fd)   # also releases the lock


class OutputFolder:
    """A destination's folder: run files in it, finding documents in them, finishing crashed runs."""

    def __init__(self, path: Path | str, prefix: str, suffix: str, header: bytes, scan: Scanner):
        self.path = Path(path)
        self.prefix = prefix
        self.suffix = suffix
        self.header = header
        self.scan = scan
        self._scans: dict[Path, tuple[tuple[int, int], FileScan | None]] = {}

    def ensure(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DestinationError(f"Cannot create the output folder {self.path}: {error}. "
                                   f"Create it, or point the destination at a writable folder.") from error
        if not self.path.is_dir() or not os.access(self.path, os.W_OK):
            raise DestinationError(f"The output folder {self.path} is not a writable folder; "
                                   f"fix its permissions or point the destination elsewhere.")

    def start_run(self, run_id: str, period: str) -> RunFile:
        """A new run file name (never one that exists); nothing is created until the first document."""
        self.ensure()
        base = run_file_name(self.prefix, period, run_id, "")
        for attempt in range(1, 10_000):
            name = f"{base}{self.suffix}" if attempt == 1 else f"{base}_{attempt}{self.suffix}"
            if not (self.path / name).exists() and not (self.path / (name + PARTIAL_SUFFIX)).exists():
                return RunFile(self.path, name, self.header)
        raise DestinationError(f"Too many files named {base}* in {self.path}; use a new run id.")

    def run_files(self) -> list[Path]:
        """Finished and unfinished run files, oldest first (by modification time, then name)."""
        if not self.path.is_dir():
            return []
        pattern = f"{self.prefix}_*{self.suffix}"
        paths = [*self.path.glob(pattern), *self.path.glob(pattern + PARTIAL_SUFFIX)]
        stamped = []
        for path in paths:
            try:
                stamped.append((path.stat().st_mtime_ns, path.name, path))
            except FileNotFoundError:
                continue   # renamed by its run in the meantime
        return [path for _, _, path in sorted(stamped)]

    def read(self, path: Path) -> FileScan | None:
        """The complete documents in one file (cached while its size and mtime stay the same)."""
        try:
            stat = path.stat()
            stamp = (stat.st_size, stat.st_mtime_ns)
            cached = self._scans.get(path)
            if cached and cached[0] == stamp:
                return cached[1]
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        scan = self.scan(data)
        self._scans[path] = (stamp, scan)
        return scan

    def entries(self) -> Iterator[tuple[Path, Entry]]:
        """Every complete document in every run file, oldest first."""
        for path in self.run_files():
            scan = self.read(path)
            if scan is None:
                # The file may have been renamed from .partial to its real name while listing.
                if path.name.endswith(PARTIAL_SUFFIX):
                    scan = self.read(path.with_name(finished_name(path)))
                if scan is None:
                    continue
            for entry in scan.entries:
                yield path, entry

    def latest(self, doc_type: str, written_doc_number: str) -> tuple[Path, Entry] | None:
        found = None
        for path, entry in self.entries():
            if entry.doc_type == doc_type and entry.doc_number == written_doc_number:
                found = (path, entry)
        return found

    def finish_crashed_runs(self, exclude: Path | None = None) -> list[Path]:
        """Give unfinished files of runs that are gone their real names, without any torn tail.

        Only acknowledged (complete, fsynced) documents survive; a file with none is removed.
        Returns the files that now exist under their real names.
        """
        if fcntl is None or not self.path.is_dir():
            return []
        finished: list[Path] = []
        for path in sorted(self.path.glob(f"{self.prefix}_*{self.suffix}{PARTIAL_SUFFIX}")):
            if exclude is not None and path == exclude:
                continue
            result = self._finish_crashed(path)
            if result is not None:
                finished.append(result)
        return finished

    def _finish_crashed(self, path: Path) -> Path | None:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None          # a live run is writing it
            try:
                if os.fstat(fd).st_ino != path.stat().st_ino:
                    return None      # its run renamed it while we waited
            except FileNotFoundError:
                return None
            size = os.fstat(fd).st_size
            if size == 0:
                return None          # its writer has just created it and not yet locked it
            scan = self.scan(_read_fd(fd, size))
            if scan is None:
                return None          # not ours: leave it alone
            final = path.with_name(finished_name(path))
            if scan.complete_bytes == 0:
                os.unlink(path)
                return None
            if final.exists():
                return None          # left for a person; `find` still reads it
            if scan.complete_bytes < size:
                os.ftruncate(fd, scan.complete_bytes)
            os.fsync(fd)
            os.rename(path, final)
            fsync_folder(self.path)
            return final
        finally:
            os.close(fd)


def _read_fd(fd: int, size: int) -> bytes:
    chunks = []
    offset = 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)
