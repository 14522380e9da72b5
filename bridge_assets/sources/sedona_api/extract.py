"""Extraction of one billing period from SedonaAPI, with a watermark.

A watermark keeps, per model, the latest ModifiedDate seen *and* the records stamped exactly then
(id -> fingerprint of the record). The next run asks for `modifiedSince >= that stamp` (the server's
own text, sent back verbatim, so its format never has to be guessed) and drops only the records it
already holds at that stamp unchanged. So records sharing a stamp are never skipped, however the
stamp falls across pages or runs, and a record changed again within the same second is still taken
because its fingerprint differs. Records older than the stamp are dropped client-side too, in case a
server ignores `modifiedSince`. Each run is resumable: the watermark only moves forward when the
caller stores it, and `checkpoint` hands over each model's records with the watermark so far.

Limits, stated rather than hidden: a `modifiedSince` pull cannot see deletions (a cancelled invoice
just stops appearing), and offset paging over a collection that changes during the pull can shift a
record past a page boundary. Run a full pull (`watermark=None`) regularly, e.g. nightly for the open
periods; `save_records(..., full_pull_of=period)` then marks what disappeared as deleted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Callable, Mapping, Sequence

from bridge_assets.sources.sedona_api.client import SedonaApiClient
from bridge_assets.sources.sedona_api.records import (
    DEFAULT_MODELS,
    PERIOD_MODELS,
    SedonaRecord,
    parse_record,
    period_bounds,
)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ModelMark:
    """Where one model's reading stopped: the latest stamp, and what was read at exactly that stamp."""

    modified: dt.datetime
    modified_text: str                   # sent back verbatim as modifiedSince
    seen: Mapping[str, str]              # record id -> fingerprint, for records stamped `modified`


@dataclasses.dataclass(frozen=True)
class Watermark:
    period: str
    marks: Mapping[str, ModelMark] = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"period": self.period, "marks": {
            model: {"modified": m.modified.isoformat(), "modified_text": m.modified_text, "seen": dict(sorted(m.seen.items()))}
            for model, m in sorted(self.marks.items())
        }}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Watermark":
        data = json.loads(text)
        return cls(data["period"], {
            model: ModelMark(dt.datetime.fromisoformat(m["modified"]), m["modified_text"], dict(m["seen"]))
            for model, m in data["marks"].items()
        })


def _take_new(mark: ModelMark | None, records: Sequence[SedonaRecord]) -> tuple[list[SedonaRecord], ModelMark | None]:
    """Drop what the mark says was read already; move the mark to the latest stamp read."""
    taken: dict[str, SedonaRecord] = {}
    for record in records:
        if mark is not None and record.modified is not None:
            if record.modified < mark.modified:
                continue          # the server ignored modifiedSince
            if record.modified == mark.modified and mark.seen.get(record.record_id) == record.fingerprint:
                continue          # read last time, unchanged
        earlier = taken.get(record.record_id)
        # Met twice in one pull (it changed while we paged): the later version wins.
        if earlier is None or (record.modified or dt.datetime.min) >= (earlier.modified or dt.datetime.min):
            taken[record.record_id] = record
    stamped = [r for r in records if r.modified is not None]
    if not stamped:
        return list(taken.values()), mark
    top = max(r.modified for r in stamped)
    if mark is not None and mark.modified > top:
        return list(taken.values()), mark
    seen = dict(mark.seen) if mark is not None and mark.modified == top else {}
    for record in stamped:
        if record.modified == top:
            seen[record.record_id] = record.fingerprint
    text = next(r.modified_text for r in stamped if r.modified == top)
    return list(taken.values()), ModelMark(top, text, seen)


def extract_period(
    client: SedonaApiClient,
    period: str,
    watermark: Watermark | None = None,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    checkpoint: Callable[[list[SedonaRecord], Watermark], None] | None = None,
) -> tuple[list[SedonaRecord], Watermark]:
    """Records of `period` (YYYY-MM) new or changed since `watermark` (None: all of them).

    Invoices, credits, tickets and payments are those dated in the period; customers, sites and RMR
    lines are the company's, whatever their date, because the period's documents refer to them.
    Payments are searched customer by customer (the only search SedonaAPI documents for them).
    Store the records and the returned watermark in one transaction; a run that fails stores nothing
    and the next run starts again from the stored watermark. `checkpoint(records, watermark)` is
    called after each model, for callers that want to keep the work of a long run that fails late.
    """
    start, end = period_bounds(period)
    if watermark is not None and watermark.period != period:
        raise ValueError(f"the watermark belongs to period {watermark.period}, not {period}")
    unknown = [m for m in models if m not in DEFAULT_MODELS]
    if unknown:
        raise ValueError(f"cannot extract {unknown}; known: {list(DEFAULT_MODELS)}")
    marks: dict[str, ModelMark] = dict(watermark.marks) if watermark else {}
    everything: list[SedonaRecord] = []
    for model in models:
        mark = marks.get(model)
        since = mark.modified_text if mark else None
        if model == "CustomerPayment":
            raw = []
            for number in sorted({str(c["CustomerNumber"]) for c in client.list("Customer") if c.get("CustomerNumber")}):
                raw += client.customer_payments(number, start, end, since)
        elif model in PERIOD_MODELS:
            raw = client.list(model, start=start, end=end, modified_since=since)
        else:
            raw = client.list(model, modified_since=since)
        records = [parse_record(model, item, period if model in PERIOD_MODELS else None) for item in raw]
        taken, new_mark = _take_new(mark, records)
        if new_mark is not None:
            marks[model] = new_mark
        everything += taken
        logger.info("SedonaAPI %s %s: %d read, %d new or changed", period, model, len(records), len(taken))
        if checkpoint is not None:
            checkpoint(taken, Watermark(period, dict(marks)))
    return everything, Watermark(period, marks)
