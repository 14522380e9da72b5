"""Metadata a bookkeeper can read in the UI, in Dagster's own types: tables with a typed schema, the
DuckDB table an asset writes (its name and column schema), files as paths, and numbers the UI plots over
periods. What each period holds is read by `period_metadata.py`; this module only shapes values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Sequence

import dagster as dg
import duckdb

# The column types of a TableSchema (anything else is shown as text).
_TYPES = ((bool, "bool"), (int, "int"), (float, "float"))


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> dg.MetadataValue:
    """A Markdown table (kept for the revert and held-decision jobs, whose readers quote its text)."""
    def cell(value: object) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    if not rows:
        lines.append("| " + " | ".join(["(none)"] + [""] * (len(headers) - 1)) + " |")
    return dg.MetadataValue.md("\n".join(lines))


def _cell(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)           # Decimal money stays exact text


def _column_type(rows: Sequence[Sequence[object]], index: int) -> str:
    for row in rows:
        value = row[index]
        if value is None:
            continue
        for python_type, name in _TYPES:
            if isinstance(value, python_type):
                return name
        return "string"
    return "string"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> dg.TableMetadataValue:
    """A table the UI renders inline (not Markdown behind a button): one record per row, a schema naming and
    typing each column (Dagster 1.13 shows it but does not sort it by a header click: rows come sorted).
    Counts are numbers; money is exact text (a Decimal never becomes a float here)."""
    rows = [tuple(row) for row in rows]
    schema = dg.TableSchema(columns=[dg.TableColumn(name, _column_type(rows, i)) for i, name in enumerate(headers)])
    records = [dg.TableRecord({name: _cell(v) for name, v in zip(headers, row)}) for row in rows]
    return dg.MetadataValue.table(records=records, schema=schema)


def plotted_money(value: Decimal | None) -> dg.MetadataValue:
    """Money as a number the UI plots over periods (whole cents as a float: the plot's axis, not the books;
    the exact amount is in the tables beside it)."""
    return dg.MetadataValue.float(float(value if value is not None else Decimal("0")))


def duckdb_table(con: duckdb.DuckDBPyConnection, database: Path, table_name: str) -> dict:
    """`dagster/table_name` and `dagster/column_schema` of a table the asset writes, read from DuckDB
    itself, so the catalog says where the data is and what its columns are."""
    columns = con.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = ? ORDER BY ordinal_position", [table_name]).fetchall()
    schema = dg.TableSchema(columns=[
        dg.TableColumn(name, data_type.lower(), constraints=dg.TableColumnConstraints(nullable=nullable == "YES"))
        for name, data_type, nullable in columns])
    return {"dagster/table_name": f"{Path(database).stem}.main.{table_name}", "dagster/column_schema": schema}


def paths(files: Sequence[str | Path]) -> dict:
    """Each file as a path the UI shows and copies (one entry per file; the key is its name)."""
    return {f"file {Path(f).name}": dg.MetadataValue.path(str(f)) for f in files}
