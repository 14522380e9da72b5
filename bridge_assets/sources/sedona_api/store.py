"""Keeping what was read from SedonaAPI in DuckDB: the records (raw JSON kept) and each period's watermark."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable, Sequence

import duckdb

from bridge_assets.sources.schema import ensure_schema  # every source's tables, made once per process
from bridge_assets.sources.sedona_api.extract import Watermark
from bridge_assets.sources.sedona_api.records import PERIOD_MODELS, RECORD_DATES, SedonaRecord, record_from_json
from bridge_assets.runtime.frames import object_frame

RECORDS_TABLE = "sedona_api_records"
WATERMARKS_TABLE = "sedona_api_watermarks"
SCHEMA_DDL = f"""
CREATE TABLE IF NOT EXISTS {RECORDS_TABLE} (
    model VARCHAR NOT NULL, record_id VARCHAR NOT NULL, period VARCHAR, number VARCHAR, customer_id VARCHAR,
    doc_date DATE, amount DECIMAL(18,4), tax_amount DECIMAL(18,4), modified_at TIMESTAMP, modified_text VARCHAR,
    fingerprint VARCHAR NOT NULL, problems VARCHAR NOT NULL, raw_json VARCHAR NOT NULL,
    fetched_at TIMESTAMP NOT NULL, deleted_at TIMESTAMP,
    PRIMARY KEY (model, record_id)
);
CREATE TABLE IF NOT EXISTS {WATERMARKS_TABLE} (
    period VARCHAR PRIMARY KEY, watermark_json VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL
);
"""


_SAVED_COLUMNS = ("model", "record_id", "period", "number", "customer_id", "doc_date", "amount", "tax_amount",
                  "modified_at", "modified_text", "fingerprint", "problems", "raw_json", "fetched_at")


def _column_decimal(value: Any) -> str | None:
    # As text: DuckDB guesses a DECIMAL width from the first values of an object column and then
    # refuses wider ones ("103.04" into DECIMAL(4,2)); the INSERT casts the text to DECIMAL(18,4).
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return str(Decimal(value))
    return None


def save_records(con: duckdb.DuckDBPyConnection, records: Iterable[SedonaRecord], *,
                 full_pull_of: str | None = None, models: Sequence[str] = PERIOD_MODELS) -> int:
    """Upsert records by (model, id). After a full pull of a period, the period's records of `models`
    that the pull did not return are marked deleted (a source cancellation)."""
    ensure_schema(con)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = []
    for r in records:
        day = r.fields.get(RECORD_DATES.get(r.model, ""))
        customer = r.fields.get("CustomerId")
        rows.append((
            r.model, r.record_id, r.period, r.number, None if customer is None else str(customer),
            day if isinstance(day, dt.date) else None, _column_decimal(r.fields.get("Amount")),
            _column_decimal(r.fields.get("TaxAmount")), r.modified, r.modified_text, r.fingerprint,
            "; ".join(r.problems), r.raw_json, now,
        ))
    # One statement over a registered frame: executemany costs a statement per row.
    frame = object_frame(rows, _SAVED_COLUMNS)
    con.register("_sedona_api_incoming", frame)
    try:
        con.execute(f"""
            INSERT OR REPLACE INTO {RECORDS_TABLE} ({", ".join(_SAVED_COLUMNS)}, deleted_at)
            SELECT model, record_id, period, number, customer_id, CAST(doc_date AS DATE),
                   CAST(amount AS DECIMAL(18,4)), CAST(tax_amount AS DECIMAL(18,4)), CAST(modified_at AS TIMESTAMP),
                   modified_text, fingerprint, problems, raw_json, CAST(fetched_at AS TIMESTAMP), NULL
            FROM _sedona_api_incoming""")
        if full_pull_of is not None:
            con.execute(
                f"""UPDATE {RECORDS_TABLE} SET deleted_at = ?
                    WHERE period = ? AND model IN (SELECT unnest(?)) AND deleted_at IS NULL
                      AND NOT EXISTS (SELECT 1 FROM _sedona_api_incoming p
                                      WHERE p.model = {RECORDS_TABLE}.model AND p.record_id = {RECORDS_TABLE}.record_id)""",
                [now, full_pull_of, list(models)],
            )
    finally:
        con.unregister("_sedona_api_incoming")
    return len(rows)


def stored_records(con: duckdb.DuckDBPyConnection, model: str, *, period: str | None = None) -> list[SedonaRecord]:
    """What is kept of one model (not deleted), rebuilt from the raw JSON."""
    sql = f"SELECT raw_json, period FROM {RECORDS_TABLE} WHERE model = ? AND deleted_at IS NULL"
    params: list[Any] = [model]
    if period is not None:
        sql += " AND period = ?"
        params.append(period)
    return [record_from_json(model, raw, p) for raw, p in con.execute(sql + " ORDER BY record_id", params).fetchall()]


def load_watermark(con: duckdb.DuckDBPyConnection, period: str) -> Watermark | None:
    ensure_schema(con)
    row = con.execute(f"SELECT watermark_json FROM {WATERMARKS_TABLE} WHERE period = ?", [period]).fetchone()
    return None if row is None else Watermark.from_json(row[0])


def save_watermark(con: duckdb.DuckDBPyConnection, watermark: Watermark) -> None:
    ensure_schema(con)
    con.execute(f"INSERT OR REPLACE INTO {WATERMARKS_TABLE} VALUES (?, ?, ?)",
                [watermark.period, watermark.to_json(), dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)])
