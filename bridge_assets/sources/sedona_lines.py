"""The received SedonaOffice lines: what both Sedona sources share, so neither imports the other.

The export files (`sources/sedona_export/`) and SedonaAPI (`sources/sedona_api/`, whose invoices and
credits are written as the rows an export would hold) fill the same two tables: `sedona_export_lines`
(every row as text, one column per export column, with its lineage) and `export_files` (one row per
received file; a SedonaAPI load is a "file" named `sedonaapi:<period>`). A SedonaAPI pull also states
the period's rows in `sedona_api_statements`, which the mapping reads to tell a deletion in
SedonaOffice. The export's columns, the tables and the prefix are defined here, below both sources.
"""

from __future__ import annotations

import re

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

LINES_TABLE = "sedona_export_lines"
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
    lines_table_ddl(LINES_TABLE, with_period=True)
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
"""
)

