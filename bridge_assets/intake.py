"""Receiving export files: recognise, load every row as text with lineage, archive or quarantine.

A file is immutable once received: its sha256 identifies it, and receiving the same bytes again is a
no-op. Each row is tagged with the billing period of its document (the document's invoice date), so
one file spanning several months feeds each month's partition. A refused file is moved to the
quarantine folder with a `.error.txt` beside it saying what is wrong and what to do; nothing from it
is loaded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Iterable

import duckdb

from bridge_assets.sources.sedona_export import (
    AliasTable,
    ExportFile,
    ExportFileRefused,
    is_candidate,
    lines_table_ddl,
    load_export_lines,
    open_export,
)

LINES_TABLE = "sedona_export_lines"
FILES_TABLE = "export_files"

SCHEMA_DDL = (
    lines_table_ddl(LINES_TABLE, with_period=True)
    + f""";
CREATE SEQUENCE IF NOT EXISTS export_file_seq START 1;
CREATE TABLE IF NOT EXISTS {FILES_TABLE} (
    file_sha256 VARCHAR PRIMARY KEY, file_name VARCHAR NOT NULL, seq BIGINT NOT NULL,
    received_at TIMESTAMP NOT NULL, encoding VARCHAR NOT NULL, header_row INTEGER NOT NULL,
    columns_json VARCHAR NOT NULL, unknown_columns VARCHAR NOT NULL, alias_version VARCHAR NOT NULL,
    line_rows BIGINT NOT NULL, ignored_rows BIGINT NOT NULL, periods VARCHAR NOT NULL, archived_as VARCHAR
);
"""
)


@dataclasses.dataclass(frozen=True)
class Folders:
    inbox: Path
    archive: Path
    quarantine: Path
    work: Path

    def create(self) -> "Folders":
        for folder in (self.inbox, self.archive, self.quarantine, self.work):
            folder.mkdir(parents=True, exist_ok=True)
        return self


@dataclasses.dataclass(frozen=True)
class Received:
    file_name: str
    sha256: str
    periods: tuple[str, ...]
    line_rows: int
    ignored_rows: int
    already_received: bool
    archived_as: str | None


@dataclasses.dataclass(frozen=True)
class Quarantined:
    file_name: str
    reason: str
    moved_to: str


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_DDL)


def stable_files(inbox: Path, min_age_seconds: float = 2.0, now: float | None = None) -> list[Path]:
    """Candidate files in the inbox not modified for `min_age_seconds` (a file still being copied is left)."""
    now = now if now is not None else dt.datetime.now().timestamp()
    if not inbox.exists():
        return []
    return sorted(p for p in inbox.iterdir() if is_candidate(p) and now - p.stat().st_mtime >= min_age_seconds)


def quarantine(path: Path, folders: Folders, reason: str) -> Quarantined:
    """Move a refused file out of the inbox with a note beside it. The file itself is kept, never deleted."""
    folders.quarantine.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    target = folders.quarantine / f"{stamp}_{path.name}"
    note = target.with_name(target.name + ".error.txt")
    note.write_text(
        f"File: {path.name}\nRefused at: {dt.datetime.now().isoformat(timespec='seconds')}\n\n{reason}\n\n"
        "Nothing from this file was posted. Fix the file and drop it into the inbox again.\n",
        encoding="utf-8",
    )
    if path.exists():
        shutil.move(str(path), str(target))
    return Quarantined(path.name, reason, str(target))


def receive(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    folders: Folders,
    aliases: AliasTable | None = None,
) -> Received:
    """Load one export file inside the caller's transaction. Raises ExportFileRefused.

    The file is not moved here: the caller archives it (`archive`) only after the commit, so a crash
    can leave a received file in the inbox (received again as a no-op) but never lose one.
    """
    export = open_export(path, aliases, work_dir=folders.work)
    seen = con.execute(
        f"SELECT periods, line_rows, ignored_rows, archived_as FROM {FILES_TABLE} WHERE file_sha256 = ?", [export.sha256]
    ).fetchall()
    if seen:
        periods, line_rows, ignored, archived = seen[0]
        return Received(export.name, export.sha256, tuple(periods.split(",")) if periods else (), line_rows, ignored, True, archived)

    loaded = load_export_lines(con, export, LINES_TABLE)
    if loaded.line_rows == 0:
        raise ExportFileRefused(path, "the file has a header but no invoice lines; export it again with a date range that has invoices")
    line_rows, ignored, periods = loaded.line_rows, loaded.data_rows - loaded.line_rows, loaded.periods
    seq = con.execute("SELECT nextval('export_file_seq')").fetchall()[0][0]
    archived = str(archive_path(path, folders, export.sha256))
    con.execute(
        f"INSERT INTO {FILES_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            export.sha256, export.name, seq, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), export.encoding,
            export.header_row, _columns_json(export), ", ".join(export.unknown_columns), export.alias_version,
            line_rows, ignored, ",".join(periods), archived,
        ],
    )
    return Received(export.name, export.sha256, periods, line_rows, ignored, False, archived)


def receive_all(
    con_factory,
    paths: Iterable[Path],
    folders: Folders,
    aliases: AliasTable | None = None,
) -> tuple[list[Received], list[Quarantined]]:
    """Receive each file in its own transaction: a bad file is quarantined, the others still flow."""
    received: list[Received] = []
    refused: list[Quarantined] = []
    for path in paths:
        if not path.exists():
            continue  # taken by a concurrent run, already archived
        try:
            with con_factory() as con:
                ensure_schema(con)
                con.execute("BEGIN TRANSACTION")
                try:
                    outcome = receive(con, path, folders, aliases)
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            archive(path, folders, outcome.sha256)
            received.append(outcome)
        except ExportFileRefused as exc:
            refused.append(quarantine(path, folders, exc.reason))
    return received, refused


def periods_in(path: Path, aliases: AliasTable | None = None, work_dir: Path | None = None) -> tuple[ExportFile, tuple[str, ...]]:
    """Recognise a file and list the billing periods it holds, without keeping it (for the sensor)."""
    export = open_export(path, aliases, work_dir=work_dir)
    con = duckdb.connect()
    try:
        con.execute(lines_table_ddl("_probe", temporary=True, with_period=True))
        loaded = load_export_lines(con, export, "_probe")
        if loaded.line_rows == 0:
            raise ExportFileRefused(path, "the file has a header but no invoice lines; export it again with a date range that has invoices")
        return export, loaded.periods
    finally:
        con.close()


def archive_path(path: Path, folders: Folders, sha256: str) -> Path:
    return folders.archive / f"{sha256[:12]}_{path.name}"


def archive(path: Path, folders: Folders, sha256: str) -> Path | None:
    """Move a received file out of the inbox, named so two uploads of one name never collide."""
    if not path.exists() or folders.archive in path.parents:
        return None
    folders.archive.mkdir(parents=True, exist_ok=True)
    target = archive_path(path, folders, sha256)
    if target.exists():
        os.remove(path)
    else:
        shutil.move(str(path), str(target))
    return target


def _columns_json(export: ExportFile) -> str:
    import json

    return json.dumps({c: export.headers[i] for c, i in export.columns.items()}, ensure_ascii=False)
