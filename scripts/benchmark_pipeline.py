"""Benchmark: parse -> canonical -> validated -> plan, the bridge against a naive baseline.

Generates a sample book of N export lines (default 1,000,000), then runs, each in its own process so
peak memory is its own:

* bridge: the real code path (DuckDB CSV reader, SQL mapping with row-level checks, pandera validation
  and the blocking checks, the posting plan against the ledger);
* naive: the obvious way: the csv module row by row, a dict per row, Decimal parsing, a dict of
  documents, a sha256 per document, one SQLite look-up per document to plan.

Prints lines/second for both, their ratio, per-stage times and peak memory (max RSS).
Run: .venv/bin/python scripts/benchmark_pipeline.py [--lines 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_bridge(export_dir: Path, work: Path) -> dict:
    from bridge_assets.sources.sedona_export import intake
    from bridge_assets.ledger import store as ledger
    from bridge_assets.sources.sedona_export import mapping
    from bridge_assets.ledger import plan as planning
    from bridge_assets.canonical import validation
    from bridge_assets.runtime.storage import Database

    folders = intake.Folders(work / "inbox", work / "archive", work / "quarantine", work / "work").create()
    files = []
    for path in sorted(export_dir.glob("*.csv")):
        target = folders.inbox / path.name
        shutil.copyfile(path, target)
        files.append(target)
    db = Database(work / "bench.duckdb")
    times = {}
    start = time.perf_counter()
    received, refused = intake.receive_all(db.connect, files, folders)
    times["parse"] = time.perf_counter() - start
    periods = sorted({p for r in received for p in r.periods})
    lines = sum(r.line_rows for r in received)

    t = time.perf_counter()
    with db.transaction() as con:
        planning.ensure_schema(con)
        result = mapping.map_periods(con, periods, known_doc_keys_sql=ledger.KNOWN_DOC_KEYS_SQL)
    times["canonical"] = time.perf_counter() - t

    t = time.perf_counter()
    with db.connect() as con:
        outcomes = validation.run_all(con, periods, known_doc_keys_sql=ledger.KNOWN_DOC_KEYS_SQL,
                                      max_rejected_share=0.05, max_rmr_change=0.5)
    times["validated"] = time.perf_counter() - t
    failed = [o.name for o in outcomes if o.blocking and not o.passed]

    t = time.perf_counter()
    with db.transaction() as con:
        summary = planning.plan_periods(con, "staging_csv", periods)
    times["plan"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - start
    return {"lines": lines, "documents": result.documents, "rejected": result.rejected_documents,
            "plan": summary.counts, "failed_blocking_checks": failed, "times": times, "peak_mb": _peak_mb(),
            "files_refused": len(refused)}


# --- the naive baseline -----------------------------------------------------------------------------

def _naive_money(text: str) -> Decimal:
    text = text.strip().replace("$", "").replace(",", "")
    if text.startswith("(") and text.endswith(")"):
        text = "-" + text[1:-1]
    return Decimal(text)


def _naive_date(text: str):
    text = text.strip()
    if not text or text == "12/30/1899":
        return None
    return dt.datetime.strptime(text, "%m/%d/%Y").date()


def run_naive(export_dir: Path, work: Path) -> dict:
    times = {}
    start = time.perf_counter()
    rows = []
    for path in sorted(export_dir.glob("*.csv")):
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig") if raw[:3] == b"\xef\xbb\xbf" else raw.decode("utf-8", errors="strict")
        for number, row in enumerate(csv.DictReader(text.splitlines()), start=2):
            if not row.get("InvoiceNumber") or not row.get("ItemCode"):
                continue
            row["_file"], row["_row"] = path.name, number
            rows.append(row)
    times["parse"] = time.perf_counter() - start

    t = time.perf_counter()
    documents: dict[str, dict] = {}
    rejected = 0
    for row in rows:
        try:
            qty = Decimal(row["Quantity"] or "1")
            rate = Decimal(row["Rate"].replace("$", "").replace(",", "") or "0")
            amount = _naive_money(row["Amount"])
            tax = _naive_money(row["TaxAmount"] or "0")
            date = _naive_date(row["InvoiceDate"])
        except Exception:
            rejected += 1
            continue
        kind = "credit_memo" if row["DocumentType"].strip().lower().startswith("c") else "invoice"
        key = f"sedona:{kind}:{row['InvoiceNumber'].strip()}"
        doc = documents.setdefault(key, {
            "doc_key": key, "doc_type": kind, "doc_number": row["InvoiceNumber"].strip(), "txn_date": date.isoformat(),
            "period": date.strftime("%Y-%m"), "customer_key": row["CustomerNumber"], "customer_name": row["CustomerName"],
            "site": row["SiteName"], "terms": row["TermCode"], "applies_to": row["AppliesToInvoice"], "lines": [],
        })
        if amount < 0 and kind == "credit_memo":
            amount, tax = -amount, -tax
        if (qty * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) != amount and (qty * abs(rate)).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP) != amount:
            doc["bad"] = True
        doc["lines"].append({"item_code": row["ItemCode"], "description": row["Description"], "qty": str(qty),
                             "unit_price": str(rate), "amount": str(amount), "tax_amount": str(tax),
                             "service_start": str(_naive_date(row["ServiceStartDate"])),
                             "service_end": str(_naive_date(row["ServiceEndDate"]))})
    for doc in documents.values():
        subtotal = sum(Decimal(l["amount"]) for l in doc["lines"])
        tax_total = sum(Decimal(l["tax_amount"]) for l in doc["lines"])
        doc["subtotal"], doc["tax_total"], doc["total"] = str(subtotal), str(tax_total), str(subtotal + tax_total)
        doc["content_hash"] = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
    times["canonical"] = time.perf_counter() - t

    t = time.perf_counter()
    problems = 0
    numbers = set()
    for doc in documents.values():
        if doc.get("bad") or not doc["customer_key"] or doc["doc_number"] in numbers:
            problems += 1
        numbers.add(doc["doc_number"])
        if doc["doc_type"] == "credit_memo" and f"sedona:invoice:{doc['applies_to'].strip()}" not in documents:
            problems += 1
    times["validated"] = time.perf_counter() - t

    t = time.perf_counter()
    sqlite_path = work / "naive_ledger.sqlite3"
    con = sqlite3.connect(sqlite_path)
    con.execute("CREATE TABLE IF NOT EXISTS ledger (doc_key TEXT PRIMARY KEY, content_hash TEXT, state TEXT)")
    plan = {"create": 0, "update": 0, "skip": 0}
    for doc in documents.values():
        found = con.execute("SELECT content_hash, state FROM ledger WHERE doc_key = ?", (doc["doc_key"],)).fetchone()
        if found is None:
            plan["create"] += 1
        elif found[0] == doc["content_hash"] and found[1] == "posted":
            plan["skip"] += 1
        else:
            plan["update"] += 1
    con.close()
    times["plan"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - start
    return {"lines": len(rows), "documents": len(documents), "rejected": rejected + problems, "plan": plan,
            "times": times, "peak_mb": _peak_mb()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", type=Path, help="keep the generated files and databases here")
    parser.add_argument("--stage", choices=["bridge", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--exports", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.stage:
        args.work.mkdir(parents=True, exist_ok=True)
        result = (run_bridge if args.stage == "bridge" else run_naive)(args.exports, args.work)
        print(json.dumps(result))
        return 0

    base = args.keep or Path(tempfile.mkdtemp(prefix="bridge-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    exports = base / "exports"
    if exports.exists():
        shutil.rmtree(exports)
    from bridge_assets.sandbox.book import generate_book
    from bridge_assets.sandbox.export_writer import write_exports

    t = time.perf_counter()
    written = write_exports(generate_book(seed=args.seed, lines=args.lines, first_period="2026-01", months=3), exports)
    size_mb = sum(p.stat().st_size for p in written) / 1e6
    print(f"generated {len(written)} export files ({size_mb:.0f} MB) for {args.lines:,} lines in {time.perf_counter() - t:.1f} s")

    results = {}
    for stage in ("naive", "bridge"):
        work = base / stage
        if work.exists():
            shutil.rmtree(work)
        out = subprocess.run(
            [sys.executable, __file__, "--stage", stage, "--exports", str(exports), "--work", str(work)],
            check=True, capture_output=True, text=True,
        )
        results[stage] = json.loads(out.stdout.strip().splitlines()[-1])

    print(f"\n{'':10}{'lines':>11}{'docs':>9}{'parse s':>9}{'canon s':>9}{'valid s':>9}{'plan s':>8}{'total s':>9}"
          f"{'lines/s':>11}{'peak MB':>9}")
    for stage, r in results.items():
        tm = r["times"]
        print(f"{stage:10}{r['lines']:>11,}{r['documents']:>9,}{tm['parse']:>9.2f}{tm['canonical']:>9.2f}"
              f"{tm['validated']:>9.2f}{tm['plan']:>8.2f}{tm['total']:>9.2f}{r['lines'] / tm['total']:>11,.0f}"
              f"{r['peak_mb']:>9.0f}")
    ratio = results["naive"]["times"]["total"] / results["bridge"]["times"]["total"]
    print(f"\nbridge / naive speed: {ratio:.1f}x   (target >= 5x, aim 10x; peak memory target < 1536 MB)")
    print(f"bridge: {results['bridge']['documents']:,} documents, {results['bridge']['rejected']} rejected, "
          f"plan {results['bridge']['plan']}, failed blocking checks: {results['bridge']['failed_blocking_checks'] or 'none'}")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
