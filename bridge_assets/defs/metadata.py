"""Metadata a bookkeeper can read in the UI: counts and totals per document type, previews, rejections."""

from __future__ import annotations

from typing import Sequence

import dagster as dg
import duckdb

from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.ledger import store as ledger


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> dg.MetadataValue:
    def cell(value: object) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    if not rows:
        lines.append("| " + " | ".join(["(none)"] + [""] * (len(headers) - 1)) + " |")
    return dg.MetadataValue.md("\n".join(lines))


def documents_metadata(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> dict:
    p = list(periods)
    by_type = canonical_reads.totals_by_type(con, p)
    by_kind = canonical_reads.line_totals_by_kind(con, p)
    preview = canonical_reads.preview(con, p, limit=15)
    count = sum(r[2] for r in by_type)
    return {
        "dagster/row_count": count,
        "documents by type": md_table(["period", "type", "documents", "subtotal", "tax", "total"], by_type),
        "lines by kind": md_table(["kind", "lines", "amount"], by_kind),
        "preview": md_table(["number", "type", "date", "customer", "lines", "total"], preview),
    }


def rejected_metadata(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> dict:
    rows = con.execute(
        "SELECT period, source_id, file_name, rows, reasons FROM rejected_documents "
        "WHERE period IN (SELECT unnest(?)) ORDER BY period, file_name, rows LIMIT 50", [list(periods)],
    ).fetchall()
    total = con.execute("SELECT count(*) FROM rejected_documents WHERE period IN (SELECT unnest(?))", [list(periods)]).fetchall()[0][0]
    return {
        "rejected documents": total,
        "rejected rows and reasons": md_table(["period", "document", "file", "rows", "why"], rows),
    }


def plan_metadata(con: duckdb.DuckDBPyConnection, periods: Sequence[str]) -> dict:
    p = list(periods)
    counts = con.execute(
        "SELECT destination, action, count(*), CAST(sum(total) AS VARCHAR) FROM posting_plan "
        "WHERE period IN (SELECT unnest(?)) GROUP BY ALL ORDER BY ALL", [p],
    ).fetchall()
    preview = con.execute(
        "SELECT destination, action, doc_number, doc_type, CAST(total AS VARCHAR), reason FROM posting_plan "
        "WHERE period IN (SELECT unnest(?)) AND action <> 'skip' ORDER BY destination, txn_date, doc_number LIMIT 20", [p],
    ).fetchall()
    return {
        "actions": md_table(["destination", "action", "documents", "total"], counts),
        "preview (not skipped)": md_table(["destination", "action", "number", "type", "total", "why"], preview),
        "to send": sum(n for _, a, n, _ in counts if a in ("create", "update")),
    }


def postings_metadata(con: duckdb.DuckDBPyConnection, periods: Sequence[str], reports) -> dict:
    states = ledger.state_counts(con, periods)
    failures = [(r.destination, *f) for r in reports for f in r.failures][:30]
    return {
        "ledger states": md_table(["destination", "state", "documents"], states),
        "this run": dg.MetadataValue.json([
            {"destination": r.destination, "outcomes": r.outcomes, "resolved from earlier runs": r.resolved,
             "skipped": r.skipped, "already done by another run": r.already_done, "held": r.held,
             "files": r.files} for r in reports
        ]),
        "failed or held": md_table(["destination", "document", "code", "what to do"], failures),
        "files written": dg.MetadataValue.json([f for r in reports for f in r.files]),
    }
