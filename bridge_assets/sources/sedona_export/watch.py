"""Deciding when a file in the watched folder is ready: seen twice unchanged, and quiet long enough.

A file still being copied grows or is touched between two looks; a writer that pauses (an export
written in bursts) is waited for by the quiet period (BRIDGE_INBOX_QUIET_SECONDS): a file is taken only
when nothing has written to it for that long. Should a writer resume after that, nothing is lost: the
intake copies the bytes and leaves a file that changed since in the inbox, as a new version.
Hidden and temporary names of the write-then-rename convention (`.part`, `.partial`, `.tmp`, `~$...`,
`.name`) are never taken. An empty file is taken like any other (and refused, with a note) once it has
stayed empty for the quiet period.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import duckdb

from bridge_assets.sources.sedona_export import inbox
from bridge_assets.sources.sedona_export import intake
from bridge_assets.sources.sedona_export.parser import AliasTable, ExportFileRefused, is_candidate
from bridge_assets.runtime.storage import Database, DatabaseBusy

Snapshot = dict[str, list[int]]   # path -> [size, mtime_ns]


def scan(folder: Path) -> Snapshot:
    if not folder.exists():
        return {}
    snapshot: Snapshot = {}
    for path in sorted(folder.iterdir()):
        try:
            if is_candidate(path):
                stat = path.stat()
                snapshot[str(path)] = [stat.st_size, stat.st_mtime_ns]
        except FileNotFoundError:
            continue                       # taken or renamed between the listing and the look
    return snapshot


def stable(previous: Snapshot, current: Snapshot, quiet_seconds: float = 0.0, now: float | None = None) -> list[Path]:
    """Files present in both looks, unchanged, and not written to for `quiet_seconds`."""
    now_ns = int((now if now is not None else time.time()) * 1e9)
    return [Path(p) for p, seen in current.items()
            if previous.get(p) == seen and now_ns - seen[1] >= quiet_seconds * 1e9]


def still_waiting(current: Snapshot, taken: list[Path]) -> Snapshot:
    """What to remember for the next look: everything not taken this time."""
    done = {str(p) for p in taken}
    return {p: v for p, v in current.items() if p not in done}


# --- what to do with a file that is ready ----------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Ready:
    """A file to start a run for: its bytes under the current parser configuration, never read so."""

    path: Path
    sha256: str
    config_version: str
    periods: tuple[str, ...]      # the periods it holds (and, read again, those its earlier reading held)
    reread: bool                  # the same bytes were received under another configuration

    @property
    def run_key(self) -> str:
        return f"{self.sha256}:{self.config_version}"


@dataclasses.dataclass(frozen=True)
class NotTaken:
    path: Path
    outcome: str                  # quarantined | duplicate | changing
    sentence: str


def probe(path: Path, folders: intake.Folders) -> inbox.Taken | None:
    """A copy of the file to look at (in the work folder), hashed; None while it is being written."""
    return inbox.take(path, folders.work / "probe")


def received_before(database: Path, shas: list[str]) -> dict[str, tuple] | None:
    """sha256 -> what intake.already_received says, for the bytes received before; None when the
    database is busy with a run (the run then decides, and sets a second copy aside itself)."""
    if not shas or not Path(database).exists():
        return {}
    try:
        with Database(database, lock_timeout_s=2).connect(read_only=True) as con:
            return {sha: row for sha in shas if (row := intake.already_received(con, sha)) is not None}
    except DatabaseBusy:
        return None
    except duckdb.Error:          # no intake yet, or a database from before the configuration was recorded
        return {}


def decide(taken: inbox.Taken, folders: intake.Folders, aliases: AliasTable, known: dict[str, tuple] | None,
           kept_periods: list[str]) -> Ready | NotTaken:
    """Start a run, set a second copy aside, or quarantine, for one probed file. Never raises for a
    bad file: whatever is wrong with it becomes its quarantine note."""
    path = taken.path
    first = (known or {}).get(taken.sha256)
    try:
        if first is not None and first[0] == aliases.config_version and intake.left_behind(taken, first) \
                and inbox.remove_if_unchanged(taken) == inbox.REMOVED:
            return NotTaken(path, "duplicate", f"{path.name} is the file already received (archived as {first[2]}), "
                                               "left in the inbox by an interrupted run; removed")
        if first is not None and first[0] == aliases.config_version:
            if not inbox.still_as_taken(taken):
                return NotTaken(path, "changing", f"{path.name} changed while it was looked at; looked at again later")
            moved = intake.set_aside_duplicate(path, folders, taken.sha256, first[1], first[2], first[3])
            return NotTaken(path, "duplicate", f"{path.name} is a second copy of {first[1]} (already received, "
                                               f"archived as {first[2]}); set aside in {moved}")
        export, periods = intake.periods_in(taken.copy, aliases, folders.work, name=path.name)
        outside = [p for p in periods if p not in kept_periods]
        if outside:
            raise ExportFileRefused(path, (
                f"it holds invoices dated in {', '.join(outside)}, outside the billing periods the bridge keeps "
                f"({kept_periods[0]} to {kept_periods[-1]}); check the invoice dates, or set BRIDGE_FIRST_PERIOD to "
                "an earlier month"))
        earlier = tuple(p for p in (first[4] or "").split(",") if p in kept_periods) if first else ()
        return Ready(path, taken.sha256, export.config_version, tuple(sorted(set(periods) | set(earlier))),
                     reread=first is not None)
    except Exception as exc:      # a binary file, a DuckDB error, anything: this file only
        reason = exc.reason if isinstance(exc, ExportFileRefused) else intake.unreadable_reason(exc)
        if not inbox.still_as_taken(taken):
            return NotTaken(path, "changing", f"{path.name} changed while it was looked at; looked at again later")
        moved = intake.quarantine(path, folders, reason)
        return NotTaken(path, "quarantined", f"{path.name} quarantined ({moved.moved_to}): {reason}")
    finally:
        if taken.copy != taken.path:
            taken.copy.unlink(missing_ok=True)
