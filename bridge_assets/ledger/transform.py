"""The transform of a set of periods (every source's mapping, then the checks), skipped when nothing changed.

A re-run of periods whose received files, API pulls, settings and code are what they were at the last
transform, and whose canonical tables still hold what that transform left, costs a few look-ups: the
documents, rejections and check outcomes of that transform stand, and nothing is mapped, hashed or
validated again (issue 12 point 3). What is compared:

* inputs: every received file by its sha256 and the configuration it was read under (its rows are a
  function of those: the columnar copy is named by them), every SedonaAPI statement and pull, SedonaAPI's
  stored records, ServiceTrade's invoices, the ledger's documents the canonical tables do not hold (a
  credit may apply to one of them), the settings the mapping and the checks read, and the text of the
  code that maps and checks;
* outputs: the canonical documents and rejections of the periods and the month before each (a document's
  content hash stands for its lines), and of the other periods what the mapping and the checks read of
  them (numbers, types, customers): a hand edit, or a transform elsewhere that changed those, makes these
  periods run again.

Files and pulls are compared by their sha256; the tables by an order-independent sum of DuckDB's 64-bit
row hashes with the row count (a change detector, not a signature: see the README's figures).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Sequence

import duckdb

from bridge_assets.canonical import digest, validation
from bridge_assets.canonical.validation import CheckOutcome
from bridge_assets.ledger import map_sources
from bridge_assets.ledger import schema as ledger_schema
from bridge_assets.ledger import store as ledger
from bridge_assets.runtime.schema_once import made_once
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.runtime.storage import Database
from bridge_assets.sources.sedona_export import intake

TABLE = "transform_runs"
SCHEMA_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    periods VARCHAR PRIMARY KEY, inputs VARCHAR NOT NULL, outputs VARCHAR NOT NULL, outcomes VARCHAR NOT NULL,
    documents BIGINT NOT NULL, rejected BIGINT NOT NULL, transformed_at TIMESTAMP NOT NULL
);
"""

# What the mapping reads besides the received files (hashed whole: they are small beside the lines).
_INPUT_TABLES = ("sedona_api_statements", "sedona_api_records", "sedona_api_pulls", "servicetrade_invoices")
# The code whose text decides what a transform makes (the packages that map, hash and check).
_CODE_FOLDERS = ("sources", "canonical", "model")
_CODE_FILES = ("ledger/map_sources.py", "ledger/transform.py")
_code_digest: str | None = None


@dataclasses.dataclass(frozen=True)
class Transformed:
    result: map_sources.CanonicalResult | None     # None: skipped, nothing changed since `since`
    outcomes: dict[str, list[CheckOutcome]]        # per period: every check on that period's documents
    documents: int
    rejected: int
    since: dt.datetime | None = None

    @property
    def skipped(self) -> bool:
        return self.result is None


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    made_once(con, "transform_runs", lambda made: made.execute(SCHEMA_DDL))


def transform(db: Database, periods: Sequence[str], settings: BridgeSettings,
              timings: dict[str, float] | None = None) -> Transformed:
    """Map every source's documents of `periods` and run the checks, unless nothing they read changed since
    the last transform of exactly these periods and the canonical tables still hold what it left.
    `timings`, when given, receives the seconds each step took (the benchmark prints them)."""
    timings = {} if timings is None else timings
    start = time.perf_counter()
    key = ",".join(sorted(set(periods)))
    with db.connect() as con:
        _schemas(con)
        last = con.execute(f"SELECT inputs, outputs, outcomes, documents, rejected, transformed_at FROM {TABLE} "
                           "WHERE periods = ?", [key]).fetchone()
        if last and last[0] == inputs_digest(con, periods, settings) and last[1] == digest.outputs_digest(con, periods):
            timings["unchanged"] = time.perf_counter() - start
            outcomes = {period: [CheckOutcome(**o) for o in listed] for period, listed in json.loads(last[2]).items()}
            return Transformed(None, outcomes, last[3], last[4], last[5])
    timings["unchanged"] = time.perf_counter() - start
    with db.transaction() as con:
        result = map_sources.map_all(con, periods, settings)
    timings["canonical"] = time.perf_counter() - start - timings["unchanged"]
    with db.connect() as con:       # each period's outcomes are of its own documents (one pass for all)
        outcomes = validation.run_all(con, periods, known_doc_keys_sql=ledger.KNOWN_DOC_KEYS_SQL,
                                      max_rejected_share=settings.max_rejected_share,
                                      max_rmr_change=settings.max_rmr_change)
    timings["validated"] = time.perf_counter() - start - timings["unchanged"] - timings["canonical"]
    with db.transaction() as con:
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        con.execute(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)", [
            key, inputs_digest(con, periods, settings), digest.outputs_digest(con, periods),
            json.dumps({period: [dataclasses.asdict(o) for o in listed] for period, listed in outcomes.items()}), result.documents, result.rejected, now])
    return Transformed(result, outcomes, result.documents, result.rejected)


def _schemas(con: duckdb.DuckDBPyConnection) -> None:
    intake.ensure_schema(con)
    ledger_schema.ensure_schema(con)
    map_sources.mapping.ensure_schema(con)
    ensure_schema(con)


def inputs_digest(con: duckdb.DuckDBPyConnection, periods: Sequence[str], settings: BridgeSettings) -> str:
    """sha256 of everything the transform of `periods` reads (see the module docstring)."""
    parts = {
        "files": con.execute(f"SELECT file_sha256, seq, coalesce(config_version, ''), coalesce(columnar_path, '') "
                             f"FROM {intake.FILES_TABLE} ORDER BY seq").fetchall(),
        "tables": [digest.table_digest(con, f"SELECT * FROM {table}") for table in _INPUT_TABLES],
        "ledger_only": digest.keys_not_held(con, ledger.KNOWN_DOC_KEYS_SQL),
        "settings": [settings.doc_number_prefix, settings.servicetrade_doc_prefix, settings.full_credit_means_cancelled,
                     settings.max_rejected_share, settings.max_rmr_change],
        "periods": sorted(set(periods)),
        "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()


def code_digest() -> str:
    """sha256 of the text of the code that maps, hashes and checks (read once per process)."""
    global _code_digest
    if _code_digest is None:
        root = Path(__file__).resolve().parents[1]
        files = sorted(p for folder in _CODE_FOLDERS for p in (root / folder).rglob("*.py"))
        files += [root / name for name in _CODE_FILES]
        text = hashlib.sha256()
        for path in files:
            text.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
        _code_digest = text.hexdigest()
    return _code_digest
