"""Benchmark: posting to QuickBooks Online within Intuit's limits, the bridge against a naive poster.

Generates a sample book for one month (invoices and credit memos, deterministic), maps and plans it,
then posts it to the QuickBooks Online emulator (its own process, Intuit's limits: 500 requests and
40 batch requests a minute per company, 10 at a time) with the clock sped up (`--time-scale`):

* bridge: the real code path, `posting.execute_plan` through `QboDestination` (batches of 30,
  requests paced evenly, the DocNumber look-up before each batch, ledger writes in DuckDB);
* naive: one `POST /invoice` (or `/creditmemo`, plus the $0 payment applying it) per document, no
  pacing, and on a 429 the 60-second wait Intuit asks for.

Customers and items are created in both companies before the clock starts (a company that already
has them; a first-ever run also creates them, one batch slot per 30 new names).

Prints documents per (emulated) minute for both, the ceiling the limits allow for this set of
documents, the bridge's share of it, the 429s each received (from the emulator's journal) and the
bridge/naive ratio.
Run: .venv/bin/python scripts/benchmark_qbo.py [--lines 3000] [--time-scale 2] [--skip-naive] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from pathlib import Path

import httpx

from bench_kit import (CLIENT_ID, CLIENT_SECRET, PERIOD, bridge_limits, emulated_minutes, journal_counts,
                           prepare)

from bridge_assets.ledger import posting
from bridge_assets.destinations.qbo.adapter import QBO_BATCH_MAX, QboDestination, QboLimits
from bridge_assets.destinations.qbo.client import loads
from bridge_assets.destinations.qbo.payloads import (
    credit_application_body,
    dumps,
    entity_for,
    sales_body,
)
from bridge_assets.sandbox.qbo import EmulatorSettings, SpawnedEmulator, spawn_emulator
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.runtime.storage import Database


def connect(emulator: SpawnedEmulator, limits: QboLimits, store: Path) -> tuple[QboDestination, str]:
    realm_id = emulator.admin.create_company()
    grant = emulator.admin.mint_tokens(realm_id, client_id=CLIENT_ID)
    destination = QboDestination(base_url=emulator.base_url, realm_id=realm_id, token_url=emulator.token_url,
                                 client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_store=store,
                                 refresh_token=grant["refresh_token"], limits=limits)
    return destination, realm_id


def run_bridge(emulator: SpawnedEmulator, db: Database, documents: list, limits: QboLimits, work: Path) -> dict:
    destination, realm_id = connect(emulator, limits, work / "bridge_tokens.json")
    started = time.perf_counter()
    problems = destination.resolve_references(documents)
    references_s = time.perf_counter() - started
    if problems:
        raise SystemExit(f"references failed: {list(problems.values())[:3]}")
    before = len(emulator.admin.journal(realm_id))
    started = time.perf_counter()
    report = posting.execute_plan(db, destination, [PERIOD], "benchmark")
    elapsed = time.perf_counter() - started
    destination.close()
    journal = emulator.admin.journal(realm_id)
    return {"elapsed": elapsed, "references_s": references_s, "outcomes": report.outcomes,
            "failures": report.failures[:3], **journal_counts(journal[before:]),
            "throttled_total": journal_counts(journal)["throttled"]}


def run_naive(emulator: SpawnedEmulator, documents: list, limits: QboLimits, work: Path) -> dict:
    """One request per document, as fast as answers come, sleeping Intuit's 60 s on every 429."""
    resolver, realm_id = connect(emulator, limits, work / "naive_tokens.json")
    if resolver.resolve_references(documents):
        raise SystemExit("references failed for the naive company")
    token = emulator.admin.mint_tokens(realm_id, client_id=CLIENT_ID)["access_token"]
    http = httpx.Client(base_url=emulator.company_url(realm_id), timeout=30,
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                 "Accept": "application/json"})
    throttled = 0
    invoices: dict[str, dict] = {}

    def send(path: str, body: dict) -> dict:
        nonlocal throttled
        while True:
            response = http.post(path, content=dumps(body))
            if response.status_code == 429:
                throttled += 1
                time.sleep(limits.seconds(60))
                continue
            if response.status_code >= 500:
                time.sleep(limits.seconds(1))
                continue
            if response.status_code != 200:
                raise SystemExit(f"naive poster: {path} answered {response.status_code}: {response.text[:200]}")
            return loads(response.content)

    ordered = sorted(documents, key=lambda d: (d.doc_type != "invoice", d.txn_date, d.doc_number))
    started = time.perf_counter()
    for document in ordered:
        entity = entity_for(document.doc_type)
        body = sales_body(document, resolver.references(document), tax_override=True, tax_code="TAX")
        created = send(f"/{entity.lower()}", body)[entity]
        if entity == "Invoice":
            invoices[document.doc_number] = created
        for application in document.applies_to:
            invoice = invoices.get(application.doc_number)
            if invoice is not None:
                send("/payment", credit_application_body(created, invoice, application.amount))
    elapsed = time.perf_counter() - started
    http.close()
    resolver.close()
    return {"elapsed": elapsed, "throttled": throttled,
            "throttled_journal": sum(1 for e in emulator.admin.journal(realm_id) if e["status"] == 429)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=3000, help="invoice lines in the sample month (default 3000)")
    parser.add_argument("--seed", type=int, default=7)
    # 2x keeps the limits, not this machine, the bottleneck: each batch's round trip (two ledger
    # transactions in DuckDB, a look-up and the batch) must fit in its 1.5 emulated seconds.
    parser.add_argument("--time-scale", type=float, default=2.0,
                        help="emulated seconds per real second (default 2: a minute lasts 30 s)")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the work folder here instead of a temporary one")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_qbo_"))
    work.mkdir(parents=True, exist_ok=True)
    settings = EmulatorSettings(time_scale=args.time_scale)
    limits = bridge_limits(settings)
    db, documents = prepare(BridgeSettings.from_env(work / "home"), work / "exports", args.lines, args.seed)
    invoices = sum(1 for d in documents if d.doc_type == "invoice")
    credits = len(documents) - invoices
    print(f"sample: {len(documents)} documents ({invoices} invoices, {credits} credit memos) for "
          f"{len({d.customer_name for d in documents})} customers; emulator at {args.time_scale:g}x "
          f"(a minute lasts {60 / args.time_scale:.1f} s)")
    print(f"limits: {settings.requests_per_minute} requests/min, {settings.batch_requests_per_minute} batch "
          f"requests/min, {settings.concurrent_requests} at a time, batches of up to {QBO_BATCH_MAX}")

    # The ceiling: every document in a batch of 30, at 40 batch requests a minute; a credit memo also
    # needs its $0 application payment, written in a batch of its own kind.
    batch_requests = math.ceil(invoices / QBO_BATCH_MAX) + 2 * math.ceil(credits / QBO_BATCH_MAX)
    ceiling = len(documents) / (batch_requests / settings.batch_requests_per_minute)
    plain_ceiling = QBO_BATCH_MAX * settings.batch_requests_per_minute

    with spawn_emulator(work / "qbo.sqlite3", settings) as emulator:
        bridge = run_bridge(emulator, db, documents, limits, work)
        naive = None if args.skip_naive else run_naive(emulator, documents, limits, work)

    rate = len(documents) / emulated_minutes(bridge["elapsed"], args.time_scale)
    print(f"\nreferences: customers and items found or created in {bridge['references_s']:.1f} s (before the clock)")
    print(f"bridge: {bridge['outcomes']} in {bridge['elapsed']:.1f} s = "
          f"{emulated_minutes(bridge['elapsed'], args.time_scale):.2f} emulated min "
          f"({bridge['requests']} requests, {bridge['batches']} of them batches)")
    if bridge["failures"]:
        print(f"  failures: {bridge['failures']}")
    print(f"  achieved: {rate:,.0f} documents/min")
    print(f"  ceiling:  {ceiling:,.0f} documents/min for this set ({batch_requests} batch requests at "
          f"{settings.batch_requests_per_minute}/min; {plain_ceiling}/min for invoices alone)")
    print(f"  ratio:    {rate / ceiling:.0%} of the ceiling")
    print(f"  429s:     {bridge['throttled']} while posting ({bridge['throttled_total']} in all)")
    if naive is not None:
        naive_rate = len(documents) / emulated_minutes(naive["elapsed"], args.time_scale)
        print(f"naive (one request at a time, no batching): {naive['elapsed']:.1f} s = "
              f"{emulated_minutes(naive['elapsed'], args.time_scale):.2f} emulated min")
        print(f"  achieved: {naive_rate:,.0f} documents/min; 429s: {naive['throttled_journal']}")
        print(f"bridge / naive: {rate / naive_rate:.1f}x")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
