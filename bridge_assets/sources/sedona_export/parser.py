"""SedonaOffice "Export Invoice Detail" files (CSV or XLSX): read, recognise the columns, load as text.

Report styles are built per customer, so column names vary. Headers are matched to canonical
columns through a versioned alias table that a user can extend; a file whose required columns
cannot be found is refused, naming the file, the missing columns and the aliases tried. Nothing
here interprets an amount or a date: values are loaded as text with their lineage (file, sha256,
row number, parser version) and typed later by `mapping`, which can then say which row was bad.

The heavy lifting is DuckDB's CSV reader (parallel, vectorised); Python only decides the encoding,
finds the header row and, for XLSX, turns the sheet into CSV text first.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import re
import tempfile
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Mapping

import duckdb

from bridge_assets.sources.sedona_lines import CANONICAL_COLUMNS, SQL_NAMES

PARSER_VERSION = "sedona-export/2"        # 2: quoted line breaks inside fields
ALIAS_TABLE_VERSION = "2026.12-1"         # 2026.12: `Tax` is the tax amount, no longer the Taxable flag

# Canonical column -> spellings seen in report styles. Matching ignores case, spaces and punctuation,
# so "Invoice #", "invoice_number" and "INVOICE NUMBER" are one spelling.
BASELINE_ALIASES: dict[str, tuple[str, ...]] = {
    "InvoiceNumber": ("InvoiceNumber", "Invoice No", "Invoice #", "Inv No", "Inv #", "Invoice", "Document Number", "Doc No"),
    "InvoiceDate": ("InvoiceDate", "Inv Date", "Date", "Document Date", "Transaction Date"),
    "DocumentType": ("DocumentType", "Doc Type", "Type", "Invoice Type", "Transaction Type"),
    "AppliesToInvoice": ("AppliesToInvoice", "Applies To", "Applied To Invoice", "Apply To Invoice", "Original Invoice"),
    "CustomerNumber": ("CustomerNumber", "Customer No", "Customer #", "Cust No", "Cust #", "Account Number", "Account No", "Acct No"),
    "CustomerName": ("CustomerName", "Customer", "Cust Name", "Account Name", "Bill To Name"),
    "MasterAccountCode": ("MasterAccountCode", "Master Account", "Master Acct", "Master Account Number", "Parent Account"),
    "SiteName": ("SiteName", "Site", "Site Name", "Service Location", "Location"),
    "ItemCode": ("ItemCode", "Item", "Item Code", "Item No", "Part Code", "PartCode", "Service Code"),
    "Description": ("Description", "Item Description", "Desc", "Line Description", "Memo"),
    "BillCycle": ("BillCycle", "Bill Cycle", "Cycle", "Billing Cycle", "Frequency"),
    "ServiceStartDate": ("ServiceStartDate", "Service Start", "Start Date", "Period Start", "From Date"),
    "ServiceEndDate": ("ServiceEndDate", "Service End", "End Date", "Period End", "Thru Date", "To Date"),
    "Quantity": ("Quantity", "Qty", "Quan", "Units"),
    "Rate": ("Rate", "Unit Price", "Price", "Unit Rate", "Monthly Amount"),
    "Amount": ("Amount", "Line Amount", "Extended Amount", "Ext Amount", "Net Amount", "Line Total"),
    "Taxable": ("Taxable", "Is Taxable", "Tax Flag", "Taxable Flag"),
    "TaxAmount": ("TaxAmount", "Tax Amount", "Tax", "Sales Tax", "Sales Tax Amount", "Tax Amt", "Line Tax", "Tax Total",
                  "Total Tax"),
    "InvoiceTotal": ("InvoiceTotal", "Invoice Total", "Total", "Document Total", "Invoice Amount"),
    "TermCode": ("TermCode", "Terms", "Term", "Terms Code", "Payment Terms"),
    "PONumber": ("PONumber", "PO", "PO Number", "PO #", "Purchase Order"),
}
if tuple(BASELINE_ALIASES) != CANONICAL_COLUMNS:  # one list of columns, two tables over it
    raise RuntimeError("parser.BASELINE_ALIASES must name exactly sources/sedona_lines.CANONICAL_COLUMNS, in order")
REQUIRED_COLUMNS: tuple[str, ...] = ("InvoiceNumber", "InvoiceDate", "CustomerNumber", "CustomerName", "ItemCode", "Amount")

_HEADER_SCAN_ROWS = 30
_IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", "~")
ACCEPTED_SUFFIXES = (".csv", ".txt", ".xlsx")


class ExportFileRefused(Exception):
    """The file cannot be read as an invoice export. The message names the file and what to do."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


def normalise_header(text: str) -> str:
    return re.sub(r"[^0-9a-z#]", "", text.strip().lower().lstrip("\ufeff"))


@dataclasses.dataclass(frozen=True)
class AliasTable:
    """Canonical column -> accepted spellings; the baseline plus whatever the user configured."""

    aliases: Mapping[str, tuple[str, ...]]
    version: str = ALIAS_TABLE_VERSION

    @classmethod
    def baseline(cls) -> "AliasTable":
        return cls(dict(BASELINE_ALIASES))

    def extended(self, extra: Mapping[str, Iterable[str]], source: str = "configuration") -> "AliasTable":
        merged = {k: tuple(v) for k, v in self.aliases.items()}
        for column, spellings in extra.items():
            if column not in merged:
                raise ValueError(
                    f"header alias {source}: '{column}' is not a canonical column; "
                    f"use one of: {', '.join(CANONICAL_COLUMNS)}"
                )
            merged[column] = tuple(spellings) + merged[column]
        return AliasTable(merged, version=f"{self.version}+{hashlib.sha256(repr(sorted(extra.items())).encode()).hexdigest()[:8]}")

    @classmethod
    def from_toml(cls, path: Path | str | None) -> "AliasTable":
        """Baseline plus a TOML file of `CanonicalColumn = ["Spelling", ...]` (a missing path means none)."""
        table = cls.baseline()
        if not path:
            return table
        path = Path(path)
        try:
            extra = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"header alias file {path} does not exist; fix BRIDGE_HEADER_ALIASES or create it") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"header alias file {path} is not valid TOML: {exc}") from None
        extra = {k: [v] if isinstance(v, str) else list(v) for k, v in extra.items()}
        return table.extended(extra, source=str(path))

    @property
    def config_version(self) -> str:
        """What decides how a file is read: the parser's version and every spelling of the alias table
        (the baseline plus the user's file, as parsed: a comment edited in that file changes nothing).
        A file is "already received" only under the same configuration; under a new one it is read again."""
        table = json.dumps({c: list(s) for c, s in sorted(self.aliases.items())}, ensure_ascii=False)
        return hashlib.sha256(f"{PARSER_VERSION}\n{table}".encode()).hexdigest()[:12]

    def match(self, headers: list[str]) -> tuple[dict[str, int], list[str]]:
        """Map canonical columns to header positions; returns (mapping, headers left unknown)."""
        positions = {normalise_header(h): i for i, h in reversed(list(enumerate(headers))) if h.strip()}
        mapping: dict[str, int] = {}
        for column, spellings in self.aliases.items():
            for spelling in spellings:
                pos = positions.get(normalise_header(spelling))
                if pos is not None and pos not in mapping.values():
                    mapping[column] = pos
                    break
        used = set(mapping.values())
        unknown = [h for i, h in enumerate(headers) if i not in used and h.strip()]
        return mapping, unknown


@dataclasses.dataclass(frozen=True)
class ExportFile:
    """A recognised export: where its header is, which column is which, how it is encoded."""

    path: Path
    sha256: str
    encoding: str
    header_row: int                      # 1-based row number of the header in the file
    headers: tuple[str, ...]
    columns: Mapping[str, int]           # canonical column -> position
    unknown_columns: tuple[str, ...]
    alias_version: str
    csv_path: Path                       # UTF-8 CSV DuckDB reads (the file itself, or a transcoded copy)
    config_version: str = ""             # AliasTable.config_version this file was read under
    file_name: str = ""                  # the name it was dropped under, when read from a copy (the archive)

    @property
    def name(self) -> str:
        return self.file_name or self.path.name


def is_candidate(path: Path) -> bool:
    """Files the folder watcher should consider: not hidden, not still being copied, a known type."""
    name = path.name
    return (
        path.is_file()
        and not name.startswith((".", "~$"))
        and not name.endswith(_IGNORED_SUFFIXES)
        and not name.endswith(".error.txt")
        and path.suffix.lower() in ACCEPTED_SUFFIXES
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


BINARY_CONTENT = ("not a text export (binary content: {what}); it is not an \"Export Invoice Detail\" CSV. "
                  "Export the report again as CSV (or XLSX) and drop that file")


def open_export(path: Path | str, aliases: AliasTable | None = None, *, work_dir: Path | None = None,
                name: str | None = None, sha256: str | None = None) -> ExportFile:
    """Recognise an export file or raise ExportFileRefused saying why and what to do.

    `name`: the name the file was dropped under, when `path` is a copy of it (the intake reads the
    archived copy, never the inbox file a writer may still hold); `sha256`: its digest, when known."""
    path = Path(path)
    shown = Path(name) if name else path
    aliases = aliases or AliasTable.baseline()
    if not path.exists():
        raise ExportFileRefused(shown, "the file does not exist (was it moved while being read?)")
    if path.stat().st_size == 0:
        raise ExportFileRefused(shown, "the file is empty; export it again from SedonaOffice")
    sha = sha256 or file_sha256(path)
    suffix = shown.suffix.lower()
    if suffix == ".xlsx":
        csv_path, encoding = _xlsx_to_csv(path, sha, work_dir, shown), "xlsx"
    elif suffix in (".csv", ".txt"):
        with open(path, "rb") as handle:
            if b"\0" in handle.read(1 << 16):
                raise ExportFileRefused(shown, BINARY_CONTENT.format(what="it holds NUL bytes, which no text file has"))
        encoding = _detect_encoding(path)
        csv_path = path if encoding in ("utf-8", "utf-8-sig") else _transcode(path, sha, encoding, work_dir, shown)
    else:
        raise ExportFileRefused(shown, f"'{suffix}' files are not exports; drop CSV or XLSX files (Export Invoice Detail)")

    head = _first_rows(csv_path, _HEADER_SCAN_ROWS)
    header_index, mapping, unknown = _find_header(head, aliases)
    missing = [c for c in REQUIRED_COLUMNS if c not in mapping]
    if missing:
        first = next((row for row in head if any(cell.strip() for cell in row)), [])
        tried = "; ".join(f"{c}: {', '.join(aliases.aliases[c])}" for c in missing)
        raise ExportFileRefused(
            shown,
            f"required column(s) {', '.join(missing)} not found in the header "
            f"({', '.join(h for h in first if h.strip()) or 'no header row'}). Aliases tried: {tried}. "
            f"Rename the column in the report style, or add its spelling to the header alias file "
            f"(BRIDGE_HEADER_ALIASES), then drop the file again.",
        )
    headers = tuple(head[header_index])
    if encoding != "xlsx":
        _check_complete(csv_path, shown, len(headers))
    return ExportFile(
        path=path, sha256=sha, encoding=encoding, header_row=header_index + 1, headers=headers,
        columns=mapping, unknown_columns=tuple(unknown), alias_version=aliases.version, csv_path=csv_path,
        config_version=aliases.config_version, file_name=name or "",
    )


@dataclasses.dataclass(frozen=True)
class LoadedLines:
    line_rows: int                 # invoice lines loaded
    data_rows: int                 # every non-blank row below the header, lines or not
    periods: tuple[str, ...]       # the billing periods of the file's documents


@dataclasses.dataclass(frozen=True)
class _Reading:
    """How DuckDB reads one export file: the reader, what a line is, the canonical columns, the parameters."""

    reader: str
    is_line: str
    select: str
    inv: str
    date: str
    params: dict


def _reading(export: ExportFile) -> _Reading:
    width = len(export.headers)
    read_cols = {f"c{i}": "VARCHAR" for i in range(width)}
    select = ", ".join(
        f"c{export.columns[c]} AS {SQL_NAMES[c]}" if c in export.columns else f"NULL::VARCHAR AS {SQL_NAMES[c]}"
        for c in CANONICAL_COLUMNS
    )
    inv, item, date = (f"c{export.columns[c]}" for c in ("InvoiceNumber", "ItemCode", "InvoiceDate"))
    # parallel = false: DuckDB's parallel scanner cannot pad short rows (report totals) when a quoted field
    # holds a line break (a description written on two lines), and it costs little (measured in the README).
    reader = ("read_csv($path, header = false, skip = $skip, columns = $columns, delim = ',', quote = '\"', escape = '\"', "
              "null_padding = true, strict_mode = false, all_varchar = true, auto_detect = false, parallel = false)")
    is_line = (f"NOT (coalesce(trim({inv}), '') = '' AND coalesce(trim({item}), '') = '') "
               f"AND NOT (lower(coalesce({inv}, '')) LIKE '%total%' AND coalesce(trim({item}), '') = '')")
    params = {"path": str(export.csv_path), "skip": export.header_row, "columns": read_cols}
    return _Reading(reader, is_line, select, inv, date, params)


def _refused_as_csv(export: ExportFile, exc: duckdb.Error) -> Exception:
    """A DuckDB error about the file's text, as the refusal that names the file; anything else as it is."""
    if not isinstance(exc, duckdb.InvalidInputException) and "CSV Error" not in str(exc):
        return exc                                   # not about the file's text: the caller says what it was
    first = str(exc).strip().splitlines()[0]
    return ExportFileRefused(export.name, f"it cannot be read as a CSV export ({first}); export it again from "
                                          "SedonaOffice as CSV and drop the new file")


def document_periods(con: duckdb.DuckDBPyConnection, export: ExportFile, *, from_read_rows: bool = False) -> LoadedLines:
    """The first pass, all the folder sensor needs to decide: temp table `_export_documents` (one row per
    invoice number with its period, line rows and data rows), reading only the invoice number, item code
    and date of each row. A document's period is the earliest readable InvoiceDate among its lines;
    documents with no readable date take the file's most common period. Blank rows and report total rows
    (no invoice number and no item code, or a first cell that says "total") are not lines: they are
    counted in `data_rows` only. `from_read_rows`: read the temp table `_read_rows` (the file's rows, parsed
    once by `write_export_lines`) instead of the file."""
    r = _reading(export)
    source = "_read_rows" if from_read_rows else r.reader
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _export_documents AS
            SELECT trim({r.inv}) AS invoice_number,
                   min(strftime(try_strptime(trim({r.date}), '%m/%d/%Y'), '%Y-%m')) FILTER (WHERE {r.is_line}) AS period,
                   count(*) FILTER (WHERE {r.is_line}) AS line_rows, count(*) AS data_rows
            FROM {source} GROUP BY 1
        """, None if from_read_rows else r.params)
    except duckdb.Error as exc:
        raise _refused_as_csv(export, exc) from None
    con.execute("""
        UPDATE _export_documents SET period = coalesce(
            (SELECT period FROM _export_documents WHERE period IS NOT NULL
             GROUP BY period ORDER BY sum(line_rows) DESC, period LIMIT 1),
            strftime(current_date, '%Y-%m'))
        WHERE period IS NULL AND line_rows > 0
    """)
    line_rows, data_rows = con.execute(
        "SELECT coalesce(sum(line_rows), 0), coalesce(sum(data_rows), 0) FROM _export_documents").fetchall()[0]
    periods = tuple(r[0] for r in con.execute(
        "SELECT DISTINCT period FROM _export_documents WHERE line_rows > 0 ORDER BY 1").fetchall())
    return LoadedLines(line_rows, data_rows, periods)


def write_export_lines(con: duckdb.DuckDBPyConnection, export: ExportFile, target: Path) -> LoadedLines:
    """Write every invoice line of `export` to the Parquet file `target`, as text with its lineage (file
    sha256, name, row number, parser version) and its document's period, in the column order of
    `sedona_lines.lines_table_ddl(with_period=True)`. The CSV is parsed once, into a temp table numbered in
    file order (parsing is most of the cost: the reader cannot run in parallel, see `_reading`); from it
    `document_periods`, then every line joined to its document's period (a join on that small table,
    cheaper than a window over the file). The Parquet file is written beside `target` and renamed: a
    half-written copy is never taken for one."""
    r = _reading(export)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _read_rows AS SELECT row_number() OVER () AS rn, * FROM {r.reader}",
                    r.params)
        loaded = document_periods(con, export, from_read_rows=True)
        lines = con.sql(
            f"""
            SELECT $sha AS file_sha256, $name AS file_name, CAST(rn + $skip AS BIGINT) AS row_number,
                   $version AS parser_version, d.period, {r.select}
            FROM _read_rows r
            LEFT JOIN _export_documents d ON d.invoice_number IS NOT DISTINCT FROM trim(r.{r.inv})
            WHERE {r.is_line}
            """,
            params={"skip": export.header_row, "sha": export.sha256, "name": export.name, "version": PARSER_VERSION},
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        try:
            lines.write_parquet(str(partial), compression="snappy")
            written = con.sql("SELECT count(*) FROM read_parquet($p)", params={"p": str(partial)}).fetchall()[0][0]
        except duckdb.Error:
            partial.unlink(missing_ok=True)
            raise
    except duckdb.Error as exc:
        raise _refused_as_csv(export, exc) from None
    finally:
        con.execute("DROP TABLE IF EXISTS _export_documents; DROP TABLE IF EXISTS _read_rows")
    if written != loaded.line_rows:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"{export.name}: wrote {written} lines but counted {loaded.line_rows}; the file changed while it was read")
    partial.replace(target)
    return loaded


# --- encodings -------------------------------------------------------------------------------------

def _detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes as UTF-8, otherwise Windows-1252."""
    with open(path, "rb") as handle:
        start = handle.read(3)
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig" if start == codecs.BOM_UTF8 else "utf-8"


def _work_file(path: Path, sha256: str, work_dir: Path | None, suffix: str) -> Path:
    """A UTF-8 CSV copy named by content, so the same bytes are converted once."""
    work_dir = Path(work_dir or tempfile.gettempdir())
    work_dir.mkdir(parents=True, exist_ok=True)
    return work_dir / f"{path.stem}.{sha256[:16]}{suffix}"


def _transcode(path: Path, sha256: str, encoding: str, work_dir: Path | None, shown: Path) -> Path:
    target = _work_file(shown, sha256, work_dir, ".utf8.csv")
    if not target.exists():
        # Written aside and renamed: an interrupted conversion is never mistaken for a finished one.
        tmp = target.with_suffix(".tmp")
        try:
            with open(path, "r", encoding=encoding, errors="strict", newline="") as src, \
                    open(tmp, "w", encoding="utf-8", newline="") as dst:
                for chunk in iter(lambda: src.read(1 << 22), ""):
                    dst.write(chunk)
        except UnicodeDecodeError as exc:
            tmp.unlink(missing_ok=True)
            raise ExportFileRefused(shown, BINARY_CONTENT.format(
                what=f"byte 0x{exc.object[exc.start]:02X} is neither UTF-8 nor Windows-1252 text")) from None
        tmp.replace(target)
    return target


def _check_complete(csv_path: Path, shown: Path, width: int) -> None:
    """Refuse a file cut short: a quoted field never closed (an odd number of quote characters: a
    doubled quote inside a field counts two), or a last row with fewer columns than the header and no
    line break after it. Either would otherwise be read as a shorter, wrong document without a word."""
    quotes, tail = 0, b""
    with open(csv_path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            quotes += chunk.count(b'"')
            tail = (tail + chunk)[-(1 << 16):]
    if quotes % 2:
        raise ExportFileRefused(shown, "a quoted field is opened with \" and never closed: the file is cut short or a "
                                       "value holds a stray quote character, so rows after it cannot be told apart. "
                                       "Export it again (or remove the stray quote) and drop the new file")
    if tail and not tail.endswith((b"\n", b"\r")):
        last = tail.splitlines()[-1].decode("utf-8", errors="replace")
        fields = next(csv.reader([last]), [])
        if 0 < len(fields) < width:
            raise ExportFileRefused(shown, f"the last row stops after {len(fields)} of the header's {width} columns "
                                           f"({last[:60]!r}) with no line break after it: the file looks cut short "
                                           "(still being written, or an interrupted copy). Export it again and drop "
                                           "the complete file")


def _xlsx_cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):   # datetime too
        return value.strftime("%m/%d/%Y")
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, float):
        # repr is the shortest text that round-trips: 1234.5 stays 1234.5, never 1234.4999999.
        return format(Decimal(repr(value)), "f")
    return str(value)


def _xlsx_to_csv(path: Path, sha256: str, work_dir: Path | None, shown: Path) -> Path:
    from openpyxl import load_workbook

    target = _work_file(shown, sha256, work_dir, ".xlsx.csv")
    if target.exists():
        return target
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or half-copied workbook
        raise ExportFileRefused(shown, f"not a readable Excel workbook ({type(exc).__name__}: {exc}); save it again as .xlsx or CSV") from None
    try:
        sheet = workbook.worksheets[0]
        tmp = target.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            for row in sheet.iter_rows(values_only=True):
                writer.writerow([_xlsx_cell_text(v) for v in row])
        tmp.replace(target)
    finally:
        workbook.close()
    return target


def _first_rows(csv_path: Path, count: int) -> list[list[str]]:
    with open(csv_path, "r", encoding="utf-8-sig", newline="") as handle:
        text = handle.read(1 << 16)
    rows: list[list[str]] = []
    for row in csv.reader(io.StringIO(text)):
        rows.append(row)
        if len(rows) >= count:
            break
    return rows


def _find_header(rows: list[list[str]], aliases: AliasTable) -> tuple[int, dict[str, int], list[str]]:
    """The header is the first row (among the first few) that names the most canonical columns.

    Some report styles put a title and a date range above the header; those rows name none.
    """
    best = (0, {}, [])
    best_score = -1
    for index, row in enumerate(rows):
        mapping, unknown = aliases.match(row)
        score = sum(1 for c in REQUIRED_COLUMNS if c in mapping) * 100 + len(mapping)
        if score > best_score:
            best, best_score = (index, mapping, unknown), score
        if all(c in mapping for c in REQUIRED_COLUMNS):
            return index, mapping, unknown
    return best
