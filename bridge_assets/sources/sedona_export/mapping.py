"""Sedona export lines (text) -> canonical accounting documents, in DuckDB.

Every value is typed here, row by row, and every defect is named with its file and row. A document
with any defective row is not half-kept: the whole document goes to `rejected_documents` with the
reasons, and everything else flows. When several files carry the same invoice number, the most
recently received file is the document's current version (a re-export after an edit is an update).

The canonical serialization is built in SQL (`model.hash_sql`) with the same keys, order and number
formats as `documents.canonical_json`, so `content_hash` is identical whichever side computes it. It is
built to be hashed and not stored: loading a document builds it again from the stored columns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Sequence

import duckdb

from bridge_assets.model import hash_sql as canonical_sql
from bridge_assets.canonical import cancellations
from bridge_assets.canonical import schema as canonical_schema
from bridge_assets.sources import schema as sources_schema
from bridge_assets.sources import sedona_lines as sedona_api_rows  # shared Sedona line tables (no sideways import)
from bridge_assets.sources.sedona_export import map_steps as steps

MAPPING_VERSION = "sedona-map/1"
# Rows loaded from SedonaAPI are named like files with this prefix.
API_FILE_PREFIX = sedona_api_rows.FILE_NAME_PREFIX
STATEMENTS_TABLE = sedona_api_rows.STATEMENTS_TABLE


MAPPED_TYPES = ("invoice", "credit_memo")

DEFAULT_TERM_DAYS = {"DUE": 0, "COD": 0, "NET10": 10, "NET15": 15, "NET20": 20, "NET30": 30, "NET45": 45, "NET60": 60}
# First matching item-code prefix decides a line's kind; a bill cycle always means RMR.
DEFAULT_KIND_PREFIXES: tuple[tuple[str, str], ...] = (
    ("RMR", "rmr"), ("MON", "rmr"),
    ("LAB", "ticket_labor"), ("LBR", "ticket_labor"),
    ("PRT", "ticket_part"), ("PART", "ticket_part"), ("EQP", "ticket_part"),
    ("TRIP", "fee"), ("FEE", "fee"), ("SVC", "fee"),
)


@dataclasses.dataclass(frozen=True)
class MappingSettings:
    source: str = "sedona"
    doc_number_prefix: str = ""
    currency: str = "USD"
    term_days: tuple[tuple[str, int], ...] = tuple(DEFAULT_TERM_DAYS.items())
    kind_prefixes: tuple[tuple[str, str], ...] = DEFAULT_KIND_PREFIXES


@dataclasses.dataclass(frozen=True)
class MappingResult:
    periods: tuple[str, ...]
    documents: int
    lines: int
    rejected_documents: int
    rejected_rows: int
    hashed: int = 0          # documents whose canonical JSON was built and hashed (the others were unchanged)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The tables the mapping reads and writes: the canonical ones (canonical/schema.py) and SedonaAPI's
    statements of what a pull contained."""
    canonical_schema.ensure_schema(con)
    sources_schema.ensure_schema(con)


def map_periods(
    con: duckdb.DuckDBPyConnection,
    periods: Sequence[str],
    settings: MappingSettings = MappingSettings(),
    *,
    lines_table: str = "sedona_export_lines",
    files_table: str = "export_files",
    known_doc_keys_sql: str | None = None,
) -> MappingResult:
    """Rebuild canonical documents (and rejections) for `periods` from every received export line.

    Runs inside the caller's transaction; replaces exactly the rows of those periods.
    `known_doc_keys_sql` is a query returning `doc_key`s already known elsewhere (the ledger), so a
    credit may apply to an invoice that was posted from an earlier export.

    Shaped for a million lines: each row is read and typed once; one aggregate gives every
    per-document fact (both sign conventions are counted, so no second pass is needed to decide);
    the sentences for defects are written only for the few documents that have them; the canonical
    JSON is built only to be hashed. Each step is a function of `map_steps` with one job.
    """
    periods = tuple(sorted(set(periods)))
    ensure_schema(con)
    sedona_api_rows.require_copies(con)
    source, prefix = settings.source, settings.doc_number_prefix
    steps.install_macros(con)
    steps.periods_relation(con, periods)
    steps.code_relations(con, settings.kind_prefixes, settings.term_days)
    steps.live_files(con, files_table=files_table, statements_table=STATEMENTS_TABLE, api_file_prefix=API_FILE_PREFIX)
    steps.standing(con, lines_table=lines_table, statements_table=STATEMENTS_TABLE)
    steps.item_kinds(con, lines_table=lines_table)
    steps.type_rows(con, lines_table=lines_table)
    steps.document_heads(con)
    steps.document_facts(con, source=source, doc_number_prefix=prefix)
    steps.row_error_sentences(con)
    steps.line_error_sentences(con)
    steps.document_reasons(con)
    steps.known_invoices(con, known_doc_keys_sql)
    steps.verdicts(con, source=source)
    # Documents of these periods that are no longer current anywhere were deleted at the source.
    cancellations.note_vanished(con, source, MAPPED_TYPES, "SELECT source_id FROM _docs",
                                standing_ids_sql="SELECT source_id FROM _standing", files_table=files_table,
                                statements_table=STATEMENTS_TABLE, api_file_prefix=API_FILE_PREFIX)
    _remember_hashes(con)
    steps.clear_periods(con, source=source)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    steps.record_rejections(con, source=source, now=now)
    steps.kept_documents(con, source=source, doc_number_prefix=prefix, currency=settings.currency)
    steps.leave_earlier_periods(con)
    steps.kept_lines(con)
    rejected_rows = con.execute("SELECT CAST(coalesce(sum(bad_rows), 0) AS BIGINT) FROM _docs").fetchall()[0][0]
    steps.drop(con, [t for t in steps.TEMP_TABLES if t != "_good"])   # memory for the JSON below
    hashed = _store_kept(con, now)
    counts = con.execute("""
        SELECT (SELECT count(*) FROM accounting_documents WHERE period IN (SELECT period FROM _periods)),
               (SELECT count(*) FROM accounting_document_lines WHERE period IN (SELECT period FROM _periods)),
               (SELECT count(*) FROM rejected_documents WHERE period IN (SELECT period FROM _periods)),
               ?
    """, [rejected_rows]).fetchall()[0]
    steps.drop(con, (*steps.TEMP_TABLES, "_earlier_hashes"))
    return MappingResult(periods, *counts, hashed=hashed)


def _remember_hashes(con: duckdb.DuckDBPyConnection) -> None:
    """`_earlier_hashes(doc_key, fingerprint, content_hash)`: the documents of `_periods` as stored before this
    mapping replaces them, so an unchanged one keeps its content hash without building its JSON again."""
    stored = "SELECT * FROM accounting_documents WHERE period IN (SELECT period FROM _periods)"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _earlier_hashes AS
                    SELECT f.doc_key, f.fingerprint, d.content_hash
                    FROM ({canonical_sql.fingerprint_sql(stored, "SELECT * FROM accounting_document_lines "
                                                                 "WHERE period IN (SELECT period FROM _periods)")}) f
                    JOIN ({stored}) d USING (doc_key)""", {"json_code": canonical_sql.JSON_CODE})


def _store_kept(con: duckdb.DuckDBPyConnection, now: dt.datetime) -> int:
    """Insert `_good`, each document with the content hash of its canonical JSON (built from the lines
    `kept_lines` inserted; kept from `_earlier_hashes` when the document did not change). Returns how many
    documents were hashed."""
    hashed = canonical_sql.hash_documents_reusing(con, "SELECT * FROM _good", steps.KEPT_LINES,
                                                  "SELECT * FROM _earlier_hashes", into="_hashes")
    con.execute(f"""
        INSERT INTO accounting_documents
        SELECT {", ".join("g." + c.strip() for c in canonical_schema.DOCUMENT_COLUMNS.split(","))}, h.content_hash, g.file_sha256, ?
        FROM _good g JOIN _hashes h USING (doc_key)
    """, [now])
    return hashed
