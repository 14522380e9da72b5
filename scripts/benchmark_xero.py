"""Benchmark: posting a month into Xero within Xero's limits (60 calls a minute, 5,000 a day, 5 at once).

Generates a sample book for one month (invoices and credit notes, deterministic), maps and plans it, then
posts it through the real code path (`posting.execute_plan` through `XeroDestination`: 50 documents per
request, calls paced evenly, credit notes allocated) into the Xero emulator in its own process with
Xero's limits and the clock sped up (`--time-scale`). Contacts and items are made before the clock starts.

Prints documents per (emulated) minute against the ceiling the limits allow for this set of documents:
60 calls a minute, each write carrying up to 50 documents, plus what cannot be batched (one allocation
call per credit note, one look-up of the invoices the credit notes apply to per batch) — and the bridge's
share of that ceiling, the calls made, and the 429s received by limit (none may be for the daily limit).
Run: .venv/bin/python scripts/benchmark_xero.py [--lines 3000] [--time-scale 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench_kit import CLIENT_ID, CLIENT_SECRET, PERIOD, receive_month

from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.destinations.xero.adapter import XERO_BATCH_MAX, XeroDestination
from bridge_assets.destinations.xero.client import XeroLimits
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import posting
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.sandbox.xero import EmulatorSettings, spawn_emulator
CALLS_PER_MINUTE = 60


def ceiling(documents: list) -> tuple[float, int]:
    """Documents a minute the limits allow for this set, and the fewest calls it needs."""
    invoices = sum(1 for d in documents if d.doc_type == "invoice")
    credits = [d for d in documents if d.doc_type == "credit_memo"]
    calls = math.ceil(invoices / XERO_BATCH_MAX) + 2 * math.ceil(len(credits) / XERO_BATCH_MAX)
    calls += sum(1 for d in credits if d.applies_to)            # allocations are one call per credit note
    return CALLS_PER_MINUTE * len(documents) / max(calls, 1), calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-scale", type=float, default=20.0, help="emulated seconds per real second")
    parser.add_argument("--keep", type=Path, default=None, help="keep the work folder here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="xero-benchmark-"))
    work.mkdir(parents=True, exist_ok=True)
    db = receive_month(BridgeSettings.from_env(work / "home"), work / "exports", args.lines, args.seed)
    settings = EmulatorSettings(clients={CLIENT_ID: CLIENT_SECRET}, time_scale=args.time_scale)
    with spawn_emulator(work / "xero.sqlite3", settings) as xero:
        tenant = xero.admin.create_organisation(name="Benchmark")
        destination = XeroDestination(api_url=xero.api_url, token_url=xero.token_url, client_id=CLIENT_ID,
                                      client_secret=CLIENT_SECRET, token_store=work / "xero_tokens.json",
                                      refresh_token=xero.admin.mint_tokens(tenant, CLIENT_ID)["refresh_token"],
                                      tenant_id=tenant, limits=XeroLimits(time_scale=args.time_scale))
        with db.transaction() as con:
            planning.plan_periods(con, destination, [PERIOD], closed_through=destination.book_close_date())
            keys = [k for k, in con.execute("SELECT doc_key FROM posting_plan WHERE destination = 'xero' "
                                            "AND action = 'create'").fetchall()]
            documents = list(canonical_reads.load_documents(con, keys).values())
        problems = destination.resolve_references(documents)     # contacts and items, before the clock
        if problems:
            raise SystemExit(f"references failed: {list(problems.values())[:3]}")
        destination._lock_read_at = None                          # the lock dates are read inside the run
        before = len(xero.admin.journal(tenant))
        started = time.perf_counter()
        report = posting.execute_plan(db, destination, [PERIOD], "benchmark")
        elapsed = time.perf_counter() - started
        destination.close()
        journal = xero.admin.journal(tenant)[before:]
    minutes = elapsed * args.time_scale / 60.0
    posted = report.outcomes.get("created", 0)
    rate = posted / minutes if minutes else float("inf")
    limit, fewest = ceiling(documents)
    refused = Counter(e["outcome"] for e in journal if e["status"] == 429)
    print(f"documents planned: {len(documents)} ({sum(d.doc_type == 'invoice' for d in documents)} invoices, "
          f"{sum(d.doc_type == 'credit_memo' for d in documents)} credit notes); posted: {report.outcomes}")
    print(f"calls made: {len(journal)} (fewest the limits need: {fewest}); emulated minutes: {minutes:.2f}")
    print(f"bridge: {rate:,.0f} documents/minute; ceiling for this set at {CALLS_PER_MINUTE} calls/minute and "
          f"{XERO_BATCH_MAX} per call: {limit:,.0f} documents/minute; share: {rate / limit:.0%}")
    print(f"429s received: {sum(refused.values())} (for the daily limit: "
          f"{sum(1 for e in journal if e['status'] == 429 and 'day' in e.get('outcome', ''))}); "
          f"failures: {report.failures[:3] or 'none'}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
