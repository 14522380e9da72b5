"""Each period's own truth on its own materialization and check evaluation, in a run over any range.

A single-run backfill materializes every period of its range in one step. Dagster copies the step's
metadata onto each period's materialization, so the metadata of a range is recorded per period with
`context.add_asset_metadata(..., partition_key=period)` (the run-level metadata holds only what belongs to
the run: files received, DuckDB table and column schema). A check is evaluated once per period: the step
yields the check's output once and one `AssetCheckEvaluation` per period, naming it (the check specs are
partitioned by billing period, so the UI shows each period's verdict).
"""

from __future__ import annotations

import dataclasses
from typing import Iterator, Mapping, Sequence

import dagster as dg

from bridge_assets.ledger import figures

from .metadata import paths, plotted_money, table


def record(context: dg.AssetExecutionContext, per_period: Mapping[str, dict]) -> None:
    """Each period's metadata onto that period's materialization."""
    for period, metadata in per_period.items():
        context.add_asset_metadata(metadata, partition_key=period)


@dataclasses.dataclass(frozen=True)
class Verdict:
    passed: bool
    description: str
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
    metadata: Mapping[str, object] = dataclasses.field(default_factory=dict)


def evaluations(context: dg.AssetExecutionContext, check_name: str,
                verdicts: Mapping[str, Verdict]) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    """The check's output (so the run knows it ran), then its verdict for each period, named by the period.
    A failed blocking ERROR verdict stops the run after this step, as an AssetCheckResult would."""
    key = dg.AssetCheckKey(context.asset_key, check_name)
    spec = context.assets_def.get_spec_for_check_key(key)
    if key not in context.assets_def.check_keys:      # not selected in this run (as Dagster does: no output)
        return
    yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(key))
    for period, verdict in verdicts.items():
        yield dg.AssetCheckEvaluation(
            asset_key=context.asset_key, check_name=check_name, passed=verdict.passed,
            severity=verdict.severity,
            description=verdict.description if verdict.description.startswith(period) else f"{period}: {verdict.description}",
            metadata=dict(verdict.metadata), blocking=spec.blocking, partition=period)


# --- per asset ---------------------------------------------------------------------------------------


def lines_metadata(held: figures.PeriodLines) -> dict:
    return {
        "dagster/row_count": held.lines,
        "export files": len(held.files),
        "of them new versions of an earlier file": held.re_exports,
        "rows from SedonaAPI (not a file)": held.sedona_api_rows,
        "files of the period": table(
            ["file", "sha256", "lines of the period", "received", "new version of (sha256)"],
            [(f.name, f.sha256[:12], f.lines, f.received_at, (f.replaces or "")[:12]) for f in held.files]),
    }


def documents_metadata(held: figures.PeriodDocuments) -> dict:
    metadata: dict = {
        "dagster/row_count": held.count,
        "documents": held.count,
        "money in (source, invoices less credits and payments)": plotted_money(held.signed_total),
        "rejected documents": held.rejected,
        "documents by source and type": table(["source", "type", "documents", "total"], held.by_source),
        "documents by type": table(["type", "documents", "subtotal", "tax", "total"], held.by_type),
        "lines by kind": table(["kind", "lines", "amount"], held.lines_by_kind),
        "preview": table(["number", "type", "date", "customer", "lines", "total"], held.preview),
        "rejected rows and reasons": table(["document", "file", "rows", "why"], held.rejected_rows),
    }
    for doc_type, n, *_ in held.by_type:
        metadata[f"documents: {doc_type}"] = n
    return metadata


def plan_metadata(actions: Sequence[tuple], preview: Sequence[tuple]) -> dict:
    metadata: dict = {
        "dagster/row_count": sum(r[2] for r in actions),
        "to send": sum(n for _, a, n, _ in actions if a in ("create", "update")),
        "actions": table(["destination", "action", "documents", "total"], actions),
        "preview (not skipped)": table(["destination", "action", "number", "type", "total", "why"], preview),
    }
    for destination, action, n, _ in actions:
        metadata[f"{destination}: {action}"] = n
    return metadata


def postings_metadata(destinations: Sequence[figures.DestinationPeriod], written: Sequence[str]) -> dict:
    """The ledger for one period per destination: documents per state, money in and posted (plotted per
    period), what is by hand, the failed and held documents, and the period's files as paths."""
    metadata: dict = {"dagster/row_count": sum(sum(d.states.values()) for d in destinations)}
    for d in destinations:
        name = d.destination
        metadata[f"{name}: documents posted"] = d.count("posted")
        metadata[f"{name}: failed"] = d.count("failed")
        metadata[f"{name}: held"] = d.count("held")
        metadata[f"{name}: by hand"] = d.count("by_hand")
        metadata[f"{name}: money in (source)"] = plotted_money(d.money_in)
        metadata[f"{name}: money posted (ledger)"] = plotted_money(d.money_posted)
        metadata[f"{name}: not posted (source less ledger)"] = plotted_money(d.money_in - d.money_posted)
    metadata["ledger states"] = table(["destination", "state", "documents"],
                                      [(d.destination, s, n) for d in destinations for s, n in sorted(d.states.items())])
    metadata["money per destination"] = table(
        ["destination", "money in (source)", "money posted (ledger)", "not posted"],
        [(d.destination, d.money_in, d.money_posted, d.money_in - d.money_posted) for d in destinations])
    metadata["by hand (the destination cannot take them)"] = table(
        ["destination", "type", "documents", "total"], [(d.destination, *row) for d in destinations for row in d.by_hand])
    metadata["failed or held"] = table(
        ["destination", "document", "type", "state", "code", "what to do"],
        [(d.destination, p.doc_number, p.doc_type, p.state, p.code, p.message) for d in destinations
         for p in d.problems[:30]])
    names = {n for d in destinations for n in d.file_names}
    metadata.update(paths([f for f in written if f.rsplit("/", 1)[-1] in names]))
    return metadata


SHOWN = 20


def postings_verdict(destinations: Sequence[figures.DestinationPeriod]) -> Verdict:
    """ERROR when a destination refused a document, WARN when one is held; each named, with what to do."""
    failed = [(d.destination, p) for d in destinations for p in d.problems if p.state == "failed"]
    held = [(d.destination, p) for d in destinations for p in d.problems if p.state == "held"]
    rows = [{"destination": dest, "doc_number": p.doc_number, "doc_type": p.doc_type, "state": p.state,
             "code": p.code, "detail": p.message} for dest, p in failed + held]
    metadata = {"failing": dg.MetadataValue.json(rows[:SHOWN]), "failing_count": len(rows)}
    if not rows:
        by_hand = sum(d.count("by_hand") for d in destinations)
        note = f" ({by_hand} document(s) listed to enter by hand: the destination cannot take them)" if by_hand else ""
        return Verdict(True, f"every document is posted or skipped unchanged{note}.", metadata=metadata)
    parts = []
    for d in destinations:
        for state, word in (("failed", "refused"), ("held", "held")):
            mine = [p for p in d.problems if p.state == state]
            if mine:
                named = "; ".join(f"{p.doc_number} ({p.code}: {p.message})" for p in mine[:5])
                more = f" and {len(mine) - 5} more" if len(mine) > 5 else ""
                parts.append(f"{d.destination} {word} {len(mine)}: {named}{more}")
    advice = (" Fix what each reason names (the document at the source, or the customer, item or setting in the "
              "destination); the next run posts it once." if failed else
              " Held documents post by themselves once the books reopen for their dates, or wait for a person "
              "(`bridge held`) when their number was reused.")
    return Verdict(False, "; ".join(parts) + "." + advice,
                   dg.AssetCheckSeverity.ERROR if failed else dg.AssetCheckSeverity.WARN, metadata)
