"""The received SedonaOffice lines: what both Sedona sources share, so neither imports the other.

The export files (`sources/sedona_export/`) and SedonaAPI (`sources/sedona_api/`, whose invoices and
credits are written as the rows an export would hold) fill the same two relations: `sedona_export_lines`
(every row as text, one column per export column, with its lineage) and `export_files` (one row per
received file; a SedonaAPI load is a "file" named `sedonaapi:<period>`).

`sedona_export_lines` is a view (ARCHITECTURE §3): each export file is kept once as a columnar copy,
a Parquet file named by its sha256 and parser configuration (`export_files.columnar_path`), and the view
is those copies plus `sedona_received_rows`, the rows kept inside the database (SedonaAPI loads, which
are small, and export files received before the columnar copies existed). No export row is copied into
the DuckDB file. The view is made again (`refresh_lines_view`) whenever the set of copies changes. A SedonaAPI pull also states
the period's rows in `sedona_api_statements`, which the mapping reads to tell a deletion in
SedonaOffice. The export's columns, the tables and the prefix are defined here, below both sources.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

# The columns of SedonaOffice's "Export Invoice Detail", in the canonical order (the export parser's
# alias table names every spelling of each).
CANONICAL_COLUMNS: tuple[str, ...] = (
    "InvoiceNumber", "InvoiceDate", "DocumentType", "AppliesToInvoice", "CustomerNumber", "CustomerName",
    "MasterAccountCode", "SiteName", "ItemCode", "Description", "BillCycle", "ServiceStartDate", "ServiceEndDate",
    "Quantity", "Rate", "Amount", "Taxable", "TaxAmount", "InvoiceTotal", "TermCode", "PONumber",
)

# DuckDB column names for the canonical columns (snake case).
SQL_NAMES: dict[str, str] = {
    c: "po_number" if c == "PONumber" else re.sub(r"(?<!^)(?=[A-Z])", "_", c).lower() for c in CANONICAL_COLUMNS
}

LINES_TABLE = "sedona_export_lines"            # the view every reader reads
STORED_LINES_TABLE = "sedona_received_rows"    # the rows kept inside the database (SedonaAPI loads, older files)
FILES_TABLE = "export_files"
# The name a SedonaAPI load is received under in FILES_TABLE: the prefix, then the period.
FILE_NAME_PREFIX = "sedonaapi:"

# Every pull states the period's rows as SedonaAPI gave them at that moment (`seq` from the files' sequence,
# so it orders against export files). A full pull is a complete statement of its period: a document it
# does not contain, received last before it, was deleted in SedonaOffice (see mapping.standing_sql).
STATEMENTS_TABLE = "sedona_api_statements"
STATEMENTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {STATEMENTS_TABLE} (
    period VARCHAR NOT NULL, file_sha256 VARCHAR NOT NULL, seq BIGINT NOT NULL, full_pull BOOLEAN NOT NULL,
    stated_at TIMESTAMP NOT NULL
);
"""


def lines_table_ddl(table: str, temporary: bool = False, with_period: bool = False) -> str:
    """Text columns for every canonical column, after the lineage columns (and the period, when kept)."""
    cols = ",\n    ".join(f"{SQL_NAMES[c]} VARCHAR" for c in CANONICAL_COLUMNS)
    temp = "TEMP " if temporary else ""
    period = "    period VARCHAR,\n" if with_period else ""
    return (
        f"CREATE {temp}TABLE IF NOT EXISTS {table} (\n    file_sha256 VARCHAR NOT NULL,\n    file_name VARCHAR NOT NULL,\n"
        f"    row_number BIGINT NOT NULL,\n    parser_version VARCHAR NOT NULL,\n{period}    {cols}\n)"
    )


SCHEMA_DDL = (
    lines_table_ddl(STORED_LINES_TABLE, with_period=True)
    + f""";
CREATE SEQUENCE IF NOT EXISTS export_file_seq START 1;
CREATE TABLE IF NOT EXISTS {FILES_TABLE} (
    file_sha256 VARCHAR PRIMARY KEY, file_name VARCHAR NOT NULL, seq BIGINT NOT NULL,
    received_at TIMESTAMP NOT NULL, encoding VARCHAR NOT NULL, header_row INTEGER NOT NULL,
    columns_json VARCHAR NOT NULL, unknown_columns VARCHAR NOT NULL, alias_version VARCHAR NOT NULL,
    line_rows BIGINT NOT NULL, ignored_rows BIGINT NOT NULL, periods VARCHAR NOT NULL, archived_as VARCHAR
);
-- the parser configuration the rows were read under; the earlier version of the same name this file follows;
-- when the bytes were last read again (bridge reread, or a new configuration)
ALTER TABLE {FILES_TABLE} ADD COLUMN IF NOT EXISTS config_version VARCHAR;
ALTER TABLE {FILES_TABLE} ADD COLUMN IF NOT EXISTS supersedes VARCHAR;
ALTER TABLE {FILES_TABLE} ADD COLUMN IF NOT EXISTS reread_at TIMESTAMP;
-- the Parquet copy of an export file's rows (NULL: its rows are in the stored table)
ALTER TABLE {FILES_TABLE} ADD COLUMN IF NOT EXISTS columnar_path VARCHAR;
"""
)
LINE_COLUMNS: tuple[str, ...] = ("file_sha256", "file_name", "row_number", "parser_version", "period",
                                 *(SQL_NAMES[c] for c in CANONICAL_COLUMNS))


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The stored rows, the files and the view over both. A database from before the columnar copies kept
    every row in a table named `sedona_export_lines`: that table becomes the stored rows, as it is."""
    found = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = 'main' "
                        "AND table_name = ?", [LINES_TABLE]).fetchone()
    if found and found[0] == "BASE TABLE":
        con.execute(f"ALTER TABLE {LINES_TABLE} RENAME TO {STORED_LINES_TABLE}")
    con.execute(SCHEMA_DDL)
    if not found or found[0] == "BASE TABLE":
        refresh_lines_view(con)


def columnar_copies(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The Parquet copies of every received export file, in the order they were received."""
    return [row[0] for row in con.execute(
        f"SELECT columnar_path FROM {FILES_TABLE} WHERE columnar_path IS NOT NULL ORDER BY seq").fetchall()]


class ColumnarCopyMissing(Exception):
    """A received file's columnar copy is gone: the message names the file and how to make it again."""


def require_copies(con: duckdb.DuckDBPyConnection) -> None:
    """Raise ColumnarCopyMissing when a received file's Parquet copy is not where it was written."""
    missing = con.execute(f"SELECT file_name, file_sha256, columnar_path FROM {FILES_TABLE} "
                          "WHERE columnar_path IS NOT NULL ORDER BY seq").fetchall()
    missing = [(name, sha, path) for name, sha, path in missing if not Path(path).is_file()]
    if missing:
        listed = "; ".join(f"{name} (sha256 {sha[:12]}, copy {path})" for name, sha, path in missing[:5])
        raise ColumnarCopyMissing(
            f"the columnar copy of {len(missing)} received export file(s) is missing: {listed}. Nothing was mapped. "
            f"Make each again from its archived file with `bridge reread <sha256 prefix>` (e.g. bridge reread "
            f"{missing[0][1][:12]}), or put the copies back where they were")


def refresh_lines_view(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)make the view `sedona_export_lines`: the stored rows and every columnar copy.

    A view's definition cannot take parameters, so the copies' paths are written into it as quoted
    literals, here and nowhere else; they are the bridge's own files (its archive folder, named by
    sha256 and configuration), never text from a received file."""
    columns = ", ".join(LINE_COLUMNS)
    body = f"SELECT {columns} FROM {STORED_LINES_TABLE}"
    copies = columnar_copies(con)
    if copies:
        listed = ", ".join("'" + path.replace("'", "''") + "'" for path in copies)
        body += f" UNION ALL SELECT {columns} FROM read_parquet([{listed}])"
    con.execute(f"CREATE OR REPLACE VIEW {LINES_TABLE} AS {body}")

