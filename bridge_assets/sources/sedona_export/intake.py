"""Receiving export files: recognise, load every row as text with lineage, archive or quarantine.

A file is identified by its sha256 and the parser configuration it was read under: receiving the same
bytes again under the same configuration is a no-op (a second copy under any name is set aside in the
`duplicates` folder with a note naming the copy already received); under a new configuration (an
extended alias table, a new parser) the bytes are read again, in place of their earlier reading. Each
row is tagged with the billing period of its document (the document's invoice date), so one file
spanning several months feeds each month's partition.

Nothing is moved while a writer may hold it: the bytes are copied into the archive and read from there,
and the inbox file is removed only if it still holds exactly those bytes (`inbox.py`). A file that grew
meanwhile is taken later as a new version; `export_files.supersedes` names the version of the same
name it follows. A refused file is moved to the quarantine folder with a `.error.txt` beside it saying
what is wrong and what to do; nothing from it is loaded. One file's failure, whatever it is, never
stops the others.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path
from typing import Iterable

import duckdb

from bridge_assets.sources import sedona_lines
from bridge_assets.sources.schema import ensure_schema  # the received tables, made once per process
from bridge_assets.sources.sedona_export import inbox
from bridge_assets.sources.sedona_export.prefetch import Prefetched, prefetch
from bridge_assets.runtime.settings import Folders
from bridge_assets.runtime.storage import DatabaseBusy
from bridge_assets.sources.sedona_export.parser import (
    AliasTable,
    ExportFile,
    ExportFileRefused,
    document_periods,
    is_candidate,
    open_export,
    write_export_lines,
)

# The tables received lines go to are shared with SedonaAPI's rows: they are defined in sources/sedona_lines.py.
LINES_TABLE = sedona_lines.LINES_TABLE            # a view over the columnar copies and the stored rows
FILES_TABLE = sedona_lines.FILES_TABLE
SCHEMA_DDL = sedona_lines.SCHEMA_DDL


@dataclasses.dataclass(frozen=True)
class Received:
    file_name: str
    sha256: str
    periods: tuple[str, ...]
    line_rows: int
    ignored_rows: int
    already_received: bool
    archived_as: str | None
    supersedes: str | None = None          # sha256 of the earlier version of the same name, when there is one
    reread: bool = False                   # the same bytes read again (new configuration, or `bridge reread`)
    earlier_periods: tuple[str, ...] = ()  # re-read: the periods its earlier reading held
    set_aside: str | None = None           # a second copy of bytes already received: where it was moved
    inbox_file: str = inbox.REMOVED         # or STILL_OPEN / CHANGED: it stays in the inbox (see `sentence`)

    @property
    def sentence(self) -> str:
        """What happened to the file, in a bookkeeper's words (the run's log and metadata)."""
        if self.already_received:
            where = f"; this copy was set aside in {self.set_aside}" if self.set_aside else ""
            return f"{self.file_name}: already received (the same bytes as {self.archived_as}), nothing read again{where}"
        text = f"{self.file_name}: {self.line_rows} lines for {', '.join(self.periods)}"
        if self.reread:
            text += " (read again under the current parser configuration; its documents update their earlier reading)"
        if self.supersedes:
            text += (f"; a new version of {self.file_name} (the earlier one, sha256 {self.supersedes[:12]}, was "
                     "received before): its documents update the earlier ones")
        if self.inbox_file == inbox.CHANGED:
            text += "; the file in the inbox changed after it was read, so it stays there and is taken as a new version"
        elif self.inbox_file == inbox.STILL_OPEN:
            text += ("; the file is still open in another program, so it stays in the inbox: it is removed once closed "
                     "unchanged, or taken as a new version if it grows")
        return text


@dataclasses.dataclass(frozen=True)
class Quarantined:
    file_name: str
    reason: str
    moved_to: str


@dataclasses.dataclass
class IntakeRun:
    """What one pass over some inbox files did. Unpacks as (received, refused)."""

    received: list[Received] = dataclasses.field(default_factory=list)
    refused: list[Quarantined] = dataclasses.field(default_factory=list)
    left: list[str] = dataclasses.field(default_factory=list)      # still being written: looked at again later

    def __iter__(self):
        return iter((self.received, self.refused))


def stable_files(folder: Path, min_age_seconds: float = 2.0, now: float | None = None) -> list[Path]:
    """Candidate files in the inbox not modified for `min_age_seconds` (a file still being copied is left)."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.iterdir()
                  if is_candidate(p) and inbox.is_quiet(p, min_age_seconds, now) and not inbox.open_elsewhere(p))


QUARANTINE_NOTE = """File: {name}
Refused at: {when}

What is wrong: {reason}

Nothing from this file was posted. Fix the file (or the setting named above) and drop it into the inbox again.
"""


def quarantine(path: Path, folders: Folders, reason: str, *, name: str | None = None) -> Quarantined:
    """Move a refused file out of the inbox with a note beside it. The file itself is kept, never deleted.
    `name`: the name it was dropped under, when `path` is the copy that was read (the inbox file changed since)."""
    name = name or path.name
    note = QUARANTINE_NOTE.format(name=name, when=dt.datetime.now().isoformat(timespec="seconds"), reason=reason)
    target = inbox.move_aside(path, folders.quarantine, ".error.txt", note, name=name)
    return Quarantined(name, reason, str(target))


def set_aside_duplicate(path: Path, folders: Folders, sha256: str, first_name: str, archived_as: str | None,
                        received_at) -> Path:
    """Move a second copy of bytes already received to the duplicates folder, with a note naming the first."""
    note = (f"File: {path.name}\nSet aside at: {dt.datetime.now().isoformat(timespec='seconds')}\n\n"
            f"These are the same bytes (sha256 {sha256}) as {first_name}, received at {received_at:%Y-%m-%d %H:%M} "
            f"UTC and archived as {archived_as}. Nothing in this copy was read again: its documents were taken from "
            f"that file once.\n\nNothing to do; you may delete this copy. To read the file again on purpose (after "
            f"changing the header alias table, say), run: bridge reread {sha256[:12]}\n")
    return inbox.move_aside(path, folders.duplicates, ".duplicate.txt", note)


def left_behind(taken: inbox.Taken, first: tuple) -> bool:
    """The file received itself, still in the inbox (a run interrupted before it removed it, or a writer
    that held it open then): same name, and not written to since it was received. A copy dropped again
    after it was received is a second copy instead, set aside with a note."""
    written = dt.datetime.fromtimestamp(taken.mtime_ns / 1e9, dt.timezone.utc).replace(tzinfo=None)
    return first[1] == taken.name and written <= first[3]


def already_received(con: duckdb.DuckDBPyConnection, sha256: str) -> tuple | None:
    """(config_version, file_name, archived_as, received_at, periods) of the bytes, when received before."""
    return con.execute(f"SELECT config_version, file_name, archived_as, received_at, periods FROM {FILES_TABLE} "
                       "WHERE file_sha256 = ?", [sha256]).fetchone()


def columnar_copy(folders: Folders, export: ExportFile) -> Path:
    """Where the rows of `export` are kept as Parquet: named by its sha256 and the parser configuration it
    is read under (the same bytes read under a new configuration are a new copy)."""
    return folders.columnar / f"{export.sha256}.{export.config_version or 'baseline'}.parquet"


def receive(con: duckdb.DuckDBPyConnection, taken: inbox.Taken, folders: Folders, aliases: AliasTable | None = None,
            *, reread: bool = False, prefetched: Prefetched | None = None) -> Received:
    """Load the bytes taken from one inbox file, inside the caller's transaction. Raises ExportFileRefused.

    The inbox file is not touched here: the caller removes it only after the commit (and only if it
    is unchanged), so a crash can leave a received file in the inbox (received again as a no-op) but
    never lose one. `reread`: read the bytes again even under the same configuration. `prefetched`: the
    copies `prefetch` made of this batch's files (a file found there is not converted again)."""
    export = ((prefetched.opened_as(taken.copy, taken.name, taken.sha256) if prefetched else None)
              or open_export(taken.copy, aliases, work_dir=folders.work, name=taken.name, sha256=taken.sha256))
    seen = con.execute(f"SELECT config_version, periods, line_rows, ignored_rows, archived_as FROM {FILES_TABLE} "
                       "WHERE file_sha256 = ?", [export.sha256]).fetchone()
    if seen and seen[0] == export.config_version and not reread:
        _, periods, line_rows, ignored, archived = seen
        return Received(export.name, export.sha256, _split(periods), line_rows, ignored, True, archived)
    if seen:    # rows of a reading from before the columnar copies, kept inside the database
        con.execute(f"DELETE FROM {sedona_lines.STORED_LINES_TABLE} WHERE file_sha256 = ?", [export.sha256])
    copy = columnar_copy(folders, export)
    made = prefetched.put_in_place(export.sha256, export.config_version, export.name, copy) if prefetched else None
    loaded = made or write_export_lines(con, export, copy)
    if loaded.line_rows == 0:
        copy.unlink(missing_ok=True)
        raise ExportFileRefused(taken.name, "the file has a header but no invoice lines; export it again with a date range that has invoices")
    line_rows, ignored, periods = loaded.line_rows, loaded.data_rows - loaded.line_rows, loaded.periods
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    described = [export.encoding, export.header_row, _columns_json(export), ", ".join(export.unknown_columns),
                 export.alias_version, line_rows, ignored, ",".join(periods), export.config_version]
    if seen:
        con.execute(f"UPDATE {FILES_TABLE} SET encoding = ?, header_row = ?, columns_json = ?, unknown_columns = ?, "
                    "alias_version = ?, line_rows = ?, ignored_rows = ?, periods = ?, config_version = ?, reread_at = ?, "
                    "columnar_path = ? WHERE file_sha256 = ?", described + [now, str(copy), export.sha256])
        sedona_lines.refresh_lines_view(con)
        return Received(export.name, export.sha256, periods, line_rows, ignored, False, seen[4], reread=True,
                        earlier_periods=_split(seen[1]))
    earlier = con.execute(f"SELECT file_sha256 FROM {FILES_TABLE} WHERE file_name = ? ORDER BY seq DESC LIMIT 1",
                          [export.name]).fetchone()
    seq = con.execute("SELECT nextval('export_file_seq')").fetchall()[0][0]
    con.execute(
        f"INSERT INTO {FILES_TABLE} (file_sha256, file_name, seq, received_at, archived_as, supersedes, encoding, "
        "header_row, columns_json, unknown_columns, alias_version, line_rows, ignored_rows, periods, config_version, "
        "columnar_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [export.sha256, export.name, seq, now, str(taken.copy), earlier[0] if earlier else None] + described + [str(copy)],
    )
    sedona_lines.refresh_lines_view(con)
    return Received(export.name, export.sha256, periods, line_rows, ignored, False, str(taken.copy),
                    supersedes=earlier[0] if earlier else None)


def receive_all(
    con_factory,
    paths: Iterable[Path],
    folders: Folders,
    aliases: AliasTable | None = None,
    *,
    reread: bool = False,
) -> IntakeRun:
    """Receive each file in its own transaction: a bad file is quarantined, the others still flow. Several
    new files are converted to their Parquet copies side by side first (`prefetch`); each is still
    recorded on its own, in order."""
    run = IntakeRun()
    paths = list(paths)
    early = Prefetched() if reread else prefetch(con_factory, paths, folders, aliases, columnar_copy)
    try:
        _receive_each(run, con_factory, paths, folders, aliases, reread, early)
    finally:
        early.discard()
    return run


def _receive_each(run: IntakeRun, con_factory, paths: list[Path], folders: Folders, aliases: AliasTable | None,
                  reread: bool, early: Prefetched) -> None:
    for path in paths:
        if not path.exists():
            continue  # taken by a concurrent run, already archived
        try:
            outcome = _receive_one(con_factory, path, folders, aliases, reread, early)
        except DatabaseBusy:
            raise                                   # not this file's fault: the run fails and says why
        except Exception as exc:                    # anything about this one file: the others still flow
            reason = exc.reason if isinstance(exc, ExportFileRefused) else unreadable_reason(exc)
            if folders.archive in path.parents:     # re-reading an archived file: it stays where it is
                run.refused.append(Quarantined(path.name, reason, str(path)))
                continue
            run.refused.append(quarantine(getattr(exc, "quarantine_instead", None) or path, folders, reason,
                                          name=path.name))
        else:
            if outcome is None:
                run.left.append(f"{path.name}: it changed while it was being read (still being written); "
                                "left in the inbox and taken once it is quiet")
            else:
                run.received.append(outcome)
    return run


def unreadable_reason(exc: BaseException) -> str:
    return (f"the bridge could not read it ({type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'no detail'}). "
            "Check that it is an \"Export Invoice Detail\" CSV or XLSX file that opens in a spreadsheet, export it "
            "again, and drop the new file; if it does open, send this note and the file to whoever supports the bridge")


def _receive_one(con_factory, path: Path, folders: Folders, aliases: AliasTable | None, reread: bool,
                 early: Prefetched) -> Received | None:
    taken = early.taken.get(path) or inbox.take(path, folders.archive)
    if taken is None:
        return None
    try:
        with con_factory() as con:
            ensure_schema(con)
            con.execute("BEGIN TRANSACTION")
            try:
                outcome = receive(con, taken, folders, aliases, reread=reread, prefetched=early)
                first = already_received(con, taken.sha256) if outcome.already_received else None
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
    except Exception as exc:
        if taken.copy != taken.path:
            if not isinstance(exc, DatabaseBusy) and not inbox.still_as_taken(taken):
                # the inbox file changed since: the bytes read are quarantined instead, and the file
                # stays to be looked at again as it is now (an archived file received earlier stays too)
                exc.quarantine_instead = taken.copy if taken.fresh else Path(  # type: ignore[attr-defined]
                    shutil.copyfile(taken.copy, folders.work / taken.copy.name))
            elif taken.fresh:
                taken.copy.unlink(missing_ok=True)      # the inbox file is the one kept
        raise
    if first is not None and taken.path != Path(first[2] or ""):
        if taken.fresh and taken.copy != Path(first[2] or ""):
            taken.copy.unlink(missing_ok=True)           # the bytes are archived once, under the first name
        if left_behind(taken, first) and inbox.remove_if_unchanged(taken) == inbox.REMOVED:
            return outcome                              # the received file itself, left by an interrupted run
        if inbox.still_as_taken(taken) and not inbox.open_elsewhere(path):
            moved = set_aside_duplicate(path, folders, taken.sha256, first[1], first[2], first[3])
            return dataclasses.replace(outcome, set_aside=str(moved))
        return dataclasses.replace(outcome, inbox_file=inbox.STILL_OPEN if inbox.open_elsewhere(path) else inbox.CHANGED)
    return dataclasses.replace(outcome, inbox_file=inbox.remove_if_unchanged(taken))


def periods_in(path: Path, aliases: AliasTable | None = None, work_dir: Path | None = None,
               name: str | None = None) -> tuple[ExportFile, tuple[str, ...]]:
    """Recognise a file and list the billing periods it holds, without keeping it (for the sensor): only the
    first pass over the file (invoice number, item code and date of each row); the run converts it once."""
    export = open_export(path, aliases, work_dir=work_dir, name=name)
    con = duckdb.connect()
    try:
        loaded = document_periods(con, export)
        if loaded.line_rows == 0:
            raise ExportFileRefused(export.name, "the file has a header but no invoice lines; export it again with a date range that has invoices")
        return export, loaded.periods
    finally:
        con.close()


@dataclasses.dataclass(frozen=True)
class NewVersion:
    """A file that replaced an earlier version of the same name (it grew after it was first read, or a
    re-export was dropped under the same name): its documents updated the earlier ones."""

    file_name: str
    sha256: str
    received_at: dt.datetime
    earlier_sha256: str
    earlier_received_at: dt.datetime
    periods: str


def new_versions(con: duckdb.DuckDBPyConnection, periods: list[str] | None = None) -> list[NewVersion]:
    """Every file that superseded an earlier version (of `periods`, when given), oldest first."""
    recorded = con.execute("SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND column_name = 'supersedes'",
                           [FILES_TABLE]).fetchall()[0][0]
    if not recorded:
        return []
    return [NewVersion(*row) for row in con.execute(
        f"SELECT f.file_name, f.file_sha256, f.received_at, e.file_sha256, e.received_at, f.periods "
        f"FROM {FILES_TABLE} f JOIN {FILES_TABLE} e ON e.file_sha256 = f.supersedes "
        "WHERE ? IS NULL OR list_has_any(string_split(f.periods, ','), ?) ORDER BY f.seq",
        [periods, periods]).fetchall()]


def _split(periods: str | None) -> tuple[str, ...]:
    return tuple(periods.split(",")) if periods else ()


def _columns_json(export: ExportFile) -> str:
    import json

    return json.dumps({c: export.headers[i] for c, i in export.columns.items()}, ensure_ascii=False)
