"""ServiceTrade webhook messages turned into runs: read each named invoice again, decide from what it is now.

A message says only that an invoice changed (webhooks.py). Each invoice it names is read from the API,
and what happens depends on what ServiceTrade holds now, never on the message's action or order:

- `pending_accounting`: waiting to be posted: its period is run;
- `void`: voided (void is final): its period is run, which voids it in the books if it was posted
  (and posts nothing if it never was);
- anything else (`ok`, `processed` after the bridge's own write-back, ...): nothing to do;
- not found: nothing to do (a message forged with a leaked URL names what does not exist).

One run per period, keyed by the state of the invoices that caused it (id, status, last change): the same
message twice, a late retry, or a `created` arriving after the `void` of the same invoice all read the
same state and make the same key, so Dagster starts no second run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from typing import Iterable

from bridge_assets.sources.servicetrade.client import PENDING, ServiceTradeClient, ServiceTradeNotFound
from bridge_assets.sources.servicetrade.sync import VOID, period_of

ACTIONABLE = (PENDING, VOID)


@dataclasses.dataclass(frozen=True)
class PeriodRun:
    period: str
    marks: tuple[str, ...]           # "<id>@<updated>:<status>", sorted

    @property
    def run_key(self) -> str:
        digest = hashlib.sha256(json.dumps(list(self.marks)).encode()).hexdigest()[:20]
        return f"servicetrade-webhook:{self.period}:{digest}"

    @property
    def invoice_ids(self) -> list[str]:
        return [mark.split("@", 1)[0] for mark in self.marks]


@dataclasses.dataclass(frozen=True)
class ReadAgain:
    runs: list[PeriodRun]
    notes: list[str]                  # one sentence per invoice that causes no run, and why


def runs_for(client: ServiceTradeClient, invoice_ids: Iterable[str], known_periods: set[str]) -> ReadAgain:
    """Read every named invoice again and group those that need a run by billing period."""
    fields = client.fields
    by_period: dict[str, set[str]] = defaultdict(set)
    notes: list[str] = []
    for invoice_id in sorted(set(invoice_ids), key=lambda i: (len(i), i)):
        try:
            invoice = client.invoice(invoice_id)
        except ServiceTradeNotFound:
            notes.append(f"invoice {invoice_id}: not found in ServiceTrade; nothing to do")
            continue
        status = str(invoice.get(fields.status) or "")
        if status not in ACTIONABLE:
            notes.append(f"invoice {invoice_id}: status {status or 'unknown'}; nothing to do")
            continue
        period = period_of(invoice, "", fields)
        if period not in known_periods:
            notes.append(f"invoice {invoice_id}: dated outside the billing periods the bridge keeps "
                         f"({period or 'no date'}); left to a person")
            continue
        by_period[period].add(f"{invoice_id}@{invoice.get(fields.updated)}:{status}")
    runs = [PeriodRun(period, tuple(sorted(marks))) for period, marks in sorted(by_period.items())]
    return ReadAgain(runs, notes)
