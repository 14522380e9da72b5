"""`bridge reread`: read one archived export file again, on purpose.

A file is received once per parser configuration (the alias table and the parser's version): after
the configuration changes, a file dropped again is read again by itself. `bridge reread` does it for
a file already archived, named by its archived path or name, or by the first characters of its sha256
(the archive names files `<sha256[:12]>_<name>`). The run that follows maps the file's periods again:
documents whose reading changed are updated in the destinations, the others are left alone, and
nothing is posted twice. The file keeps its place in time: a newer file with the same invoices still wins.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import duckdb

from bridge_assets.sources.sedona_export import intake
from bridge_assets.sources import sedona_lines
from bridge_assets.sources.sedona_export.parser import file_sha256


class RereadError(Exception):
    """Nothing was read: the message says which file could not be found and what to give instead."""


@dataclasses.dataclass(frozen=True)
class ArchivedFile:
    sha256: str
    file_name: str
    archived_as: Path
    periods: tuple[str, ...]
    config_version: str | None


def find(con: duckdb.DuckDBPyConnection, what: str) -> ArchivedFile:
    """The received export file `what` names: a path to it (in the archive or anywhere), its archived
    name, or a sha256 prefix of at least 6 hex characters."""
    given = Path(what)
    if given.is_file():
        rows = _rows(con, "file_sha256 = ?", file_sha256(given))
    elif re.fullmatch(r"[0-9a-fA-F]{6,64}", what):
        rows = _rows(con, "starts_with(file_sha256, ?)", what.lower())
    elif re.fullmatch(r"[0-9a-f]{12}_.+", given.name):
        rows = _rows(con, "starts_with(file_sha256, ?) AND file_name = ?", given.name[:12], given.name[13:])
    else:
        raise RereadError(f"{what!r} is neither a file nor the start of a sha256; give the archived file's path or "
                          "name (the archive names files <sha256 prefix>_<name>) or the first characters of its sha256")
    if not rows:
        raise RereadError(f"no received export file matches {what!r}; the archive folder lists the files received "
                          "(named <sha256 prefix>_<name>)")
    if len(rows) > 1:
        listed = "; ".join(f"{sha[:16]} {name}" for sha, name, *_ in rows[:10])
        raise RereadError(f"{what!r} matches {len(rows)} received files ({listed}); give more characters of the sha256")
    sha, name, archived, periods, config = rows[0]
    if not archived or not Path(archived).is_file():
        raise RereadError(f"{name} (sha256 {sha[:12]}) was received, but its archived copy {archived} is not there any "
                          "more; drop the file into the inbox again instead")
    return ArchivedFile(sha, name, Path(archived), tuple(p for p in (periods or "").split(",") if p), config)


def _rows(con: duckdb.DuckDBPyConnection, where: str, *params: str) -> list[tuple]:
    try:
        return con.execute(
            f"SELECT file_sha256, file_name, archived_as, periods, config_version FROM {intake.FILES_TABLE} "
            f"WHERE {where} AND NOT starts_with(file_name, ?) ORDER BY seq", [*params, sedona_lines.FILE_NAME_PREFIX],
        ).fetchall()
    except duckdb.CatalogException:
        return []
