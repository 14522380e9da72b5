"""Benchmark: parse -> canonical -> validated -> plan, the bridge against three baselines.

Generates a sample book of N export lines (default 1,000,000), then runs, each in its own process so
peak memory is its own:

* bridge: the real code path (each file converted once to a Parquet copy, SQL mapping with row-level
  checks, pandera validation and the blocking checks, the posting plan against the ledger), then the
  same periods again with nothing changed (the no-op re-run: the transform is skipped by the hashes of
  the files, pulls, settings and code);
* naive: the obvious way: the csv module row by row, a dict per row, Decimal parsing, a dict of
  documents, a sha256 per document, one SQLite look-up per document to plan;
* seed: the seed's code written plainly: csv rows -> a dict per document -> sha1 -> one SQLite look-up each;
* duckdb: DuckDB alone: each file to Parquet, then grouped and hashed per document (sha256 of every column);
* floor: the bridge's own storage with every rule taken out (its real intake, lines typed by casts and
  written once, one aggregate per document, the real canonical JSON and content hash, one keyed plan row
  per document): what no design of the mapping can remove, so how far the targets are reachable at all.

Prints lines/second for each, the ratios to the targets, per-stage times, each stage's CPU seconds (every
thread: the machine is shared, and the load inflates wall times; the load average is printed too) and peak
memory (max RSS). Figures measured so far, with their load: scripts/BENCHMARKS.md.
Run: .venv/bin/python scripts/benchmark_pipeline.py [--lines 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
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


def _cpu_s() -> float:
    """CPU seconds of this process so far, every thread (user + system): on a shared machine the wall
    time grows with the load; this grows much less."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_bridge(export_dir: Path, work: Path) -> dict:
    from bridge_assets.ledger import plan as planning
    from bridge_assets.ledger import transform
    from bridge_assets.runtime.settings import BridgeSettings
    from bridge_assets.runtime.storage import Database
    from bridge_assets.sources.sedona_export import intake

    settings = BridgeSettings.from_env(work)
    folders = settings.folders.create()
    files = []
    for path in sorted(export_dir.glob("*.csv")):
        target = folders.inbox / path.name
        shutil.copyfile(path, target)
        files.append(target)
    db = Database(settings.database_path)
    times: dict[str, float] = {}
    start, cpu = time.perf_counter(), _cpu_s()
    received, refused = intake.receive_all(db.connect, files, folders)
    times["parse"] = time.perf_counter() - start
    peaks = {"parse": _peak_mb()}
    periods = sorted({p for r in received for p in r.periods})
    lines = sum(r.line_rows for r in received)

    done = transform.transform(db, periods, settings, timings=times)
    peaks["transform"] = _peak_mb()
    failed = [f"{o.name} ({period})" for period, listed in done.outcomes.items() for o in listed
              if o.blocking and not o.passed]
    t = time.perf_counter()
    with db.transaction() as con:
        planning.ensure_schema(con)
        summary = planning.plan_periods(con, "staging_csv", periods)
    times["plan"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - start
    times["first_run_cpu"] = _cpu_s() - cpu
    peaks["plan"] = _peak_mb()

    # The same periods again, nothing changed: the inbox is empty, the transform is skipped by its hashes.
    rerun: dict[str, float] = {}
    t = time.perf_counter()
    again, _ = intake.receive_all(db.connect, intake.stable_files(folders.inbox, 0), folders)
    rerun["parse"] = time.perf_counter() - t
    skipped = transform.transform(db, periods, settings, timings=rerun)
    rerun["transform"] = time.perf_counter() - t - rerun["parse"]
    t = time.perf_counter()
    with db.transaction() as con:
        planning.plan_periods(con, "staging_csv", periods)
    rerun["plan"] = time.perf_counter() - t
    return {"lines": lines, "documents": done.documents, "rejected": done.rejected,
            "plan": summary.counts, "failed_blocking_checks": failed, "times": times, "peak_mb": _peak_mb(),
            "files_refused": len(refused), "rerun": rerun, "peaks": peaks, "rerun_skipped": skipped.skipped and not again}


# --- the floor: what any pipeline with the bridge's storage must do -----------------------------------

def run_floor(export_dir: Path, work: Path) -> dict:
    """The bridge's own work with every rule taken out: its real intake (each file taken, hashed and
    converted to its Parquet copy), then one aggregate per document and its lines written once, typed
    (casts only: no defect named, no sign convention, no current version across files, no credit checked
    against its invoice, no cancellation), the real canonical JSON and content hash (`model.hash_sql`), the
    documents stored, and one keyed plan row per document with its request id. No checks, no document
    versions. What the bridge does beyond this is what the earlier issues asked of it; this is the part no
    design of the mapping can remove, measured on the same files and the same DuckDB settings."""
    from bridge_assets.canonical import schema as canonical_schema
    from bridge_assets.ledger import store as ledger
    from bridge_assets.model import hash_sql
    from bridge_assets.runtime.settings import BridgeSettings
    from bridge_assets.runtime.storage import Database
    from bridge_assets.sources.sedona_export import intake

    settings = BridgeSettings.from_env(work)
    folders = settings.folders.create()
    files = []
    for path in sorted(export_dir.glob("*.csv")):
        shutil.copyfile(path, folders.inbox / path.name)
        files.append(folders.inbox / path.name)
    db = Database(settings.database_path)
    times: dict[str, float] = {"validated": 0.0}
    start = time.perf_counter()
    received, _ = intake.receive_all(db.connect, files, folders)
    times["parse"] = time.perf_counter() - start
    t = time.perf_counter()
    with db.connect() as con:
        copies = [r[0] for r in con.execute(f"SELECT columnar_path FROM {intake.FILES_TABLE} ORDER BY seq").fetchall()]
    date = "CAST(strptime({0}, '%m/%d/%Y') AS DATE)"
    service = "CAST(try_strptime(nullif(trim({0}), ''), '%m/%d/%Y') AS DATE)"
    with db.transaction() as con:
        canonical_schema.ensure_schema(con)
        listed = ", ".join("'" + c.replace("'", "''") + "'" for c in copies)      # our own paths (views take no parameters)
        con.execute(f"CREATE OR REPLACE TEMP VIEW _raw AS SELECT * FROM read_parquet([{listed}]) "
                    "WHERE invoice_number <> '' AND item_code <> ''")
        con.execute(f"""CREATE TEMP TABLE _docs AS SELECT
                'sedona:' || CASE WHEN any_value(document_type) ILIKE 'c%' THEN 'credit_memo' ELSE 'invoice' END
                    || ':' || invoice_number AS doc_key, 'sedona' AS source,
                CASE WHEN any_value(document_type) ILIKE 'c%' THEN 'credit_memo' ELSE 'invoice' END AS doc_type,
                invoice_number AS source_id, invoice_number AS doc_number, {date.format('any_value(invoice_date)')} AS txn_date,
                any_value(period) AS period, {date.format('any_value(invoice_date)')} + 30 AS due_date,
                coalesce(any_value(customer_number), '') AS customer_key, coalesce(any_value(customer_name), '') AS customer_name,
                coalesce(any_value(master_account_code), '') AS master_account, coalesce(any_value(site_name), '') AS site,
                coalesce(any_value(term_code), '') AS terms, coalesce(any_value(po_number), '') AS po_number,
                CAST(sum(CAST(amount AS DECIMAL(18,2))) AS DECIMAL(18,2)) AS subtotal,
                CAST(sum(CAST(tax_amount AS DECIMAL(18,2))) AS DECIMAL(18,2)) AS tax_total,
                CAST(sum(CAST(amount AS DECIMAL(18,2)) + CAST(tax_amount AS DECIMAL(18,2))) AS DECIMAL(18,2)) AS total,
                'USD' AS currency, 'SedonaOffice invoice ' || invoice_number AS memo,
                any_value(file_name) || '#rows ' || min(row_number) || '-' || max(row_number) AS source_ref,
                NULL::VARCHAR AS applies_to_key, NULL::VARCHAR AS applies_to_number, NULL::DECIMAL(18,2) AS applies_to_amount,
                count(*) AS line_count, any_value(file_sha256) AS file_sha256, min(row_number) AS first_row
            FROM _raw GROUP BY invoice_number""")
        times["aggregate"] = time.perf_counter() - t
        con.execute(f"""INSERT INTO accounting_document_lines SELECT d.doc_key, d.period,
                CAST(r.row_number - d.first_row + 1 AS INTEGER), 'rmr', r.item_code, coalesce(r.description, ''),
                CAST(r.quantity AS DECIMAL(18,4)), CAST(r.rate AS DECIMAL(18,4)), CAST(r.amount AS DECIMAL(18,2)),
                r.taxable = 'Y', CAST(r.tax_amount AS DECIMAL(18,2)), {service.format('r.service_start_date')},
                {service.format('r.service_end_date')}, r.file_name, r.row_number
            FROM _raw r JOIN _docs d ON d.source_id = r.invoice_number""")
        times["lines"] = time.perf_counter() - t - times["aggregate"]
        hash_sql.hash_documents(con, "SELECT * FROM _docs", "SELECT * FROM accounting_document_lines", into="_hashes")
        times["hash"] = time.perf_counter() - t - times["aggregate"] - times["lines"]
        con.execute(f"""INSERT INTO accounting_documents SELECT {canonical_schema.DOCUMENT_COLUMNS}, h.content_hash,
                        d.file_sha256, now()::TIMESTAMP FROM _docs d JOIN _hashes h USING (doc_key)""")
    times["canonical"] = time.perf_counter() - t
    t = time.perf_counter()
    with db.transaction() as con:
        con.execute("CREATE TABLE floor_plan (destination VARCHAR, doc_key VARCHAR, action VARCHAR, content_hash VARCHAR, "
                    "request_id VARCHAR, PRIMARY KEY (destination, doc_key))")
        con.execute(f"""INSERT INTO floor_plan SELECT 'staging_csv', doc_key, 'create', content_hash,
                        {ledger.request_id_sql("'staging_csv'", "doc_key", "content_hash", "0")}
                        FROM accounting_documents""")
        documents = con.execute("SELECT count(*) FROM floor_plan").fetchall()[0][0]
        lines = con.execute("SELECT count(*) FROM accounting_document_lines").fetchall()[0][0]
    times["plan"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - start
    return {"lines": lines, "documents": documents, "rejected": 0, "plan": {"create": documents}, "times": times,
            "peak_mb": _peak_mb(), "files": len(received)}


# --- the plain seed-style baseline -------------------------------------------------------------------

def run_seed(export_dir: Path, work: Path) -> dict:
    """csv rows -> a dict per document -> sha1 -> one SQLite look-up each, written plainly."""
    times = {}
    start = time.perf_counter()
    documents: dict[str, list[dict]] = {}
    lines = 0
    for path in sorted(export_dir.glob("*.csv")):
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for row in csv.DictReader(handle):
                if row["InvoiceNumber"] and row["ItemCode"]:
                    documents.setdefault(row["InvoiceNumber"], []).append(row)
                    lines += 1
    times["parse"] = time.perf_counter() - start
    t = time.perf_counter()
    hashes = {number: hashlib.sha1(repr(rows).encode()).hexdigest() for number, rows in documents.items()}
    times["canonical"] = time.perf_counter() - t
    times["validated"] = 0.0
    t = time.perf_counter()
    con = sqlite3.connect(work / "seed.sqlite3")
    con.execute("CREATE TABLE IF NOT EXISTS seen (doc TEXT PRIMARY KEY, hash TEXT)")
    plan = {"create": 0, "update": 0, "skip": 0}
    for number, digest in hashes.items():
        found = con.execute("SELECT hash FROM seen WHERE doc = ?", (number,)).fetchone()
        plan["create" if found is None else "skip" if found[0] == digest else "update"] += 1
    con.close()
    times["plan"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - start
    return {"lines": lines, "documents": len(documents), "rejected": 0, "plan": plan, "times": times,
            "peak_mb": _peak_mb()}


# --- DuckDB alone ------------------------------------------------------------------------------------

def run_duckdb(export_dir: Path, work: Path) -> dict:
    """Each file to Parquet, then grouped and hashed per document: what DuckDB does with nothing else.

    Every column of a row goes into the hashed text (`*COLUMNS(*)` unpacks them into one `concat_ws`; the
    `COLUMNS(*)` written here before expanded to one `concat_ws` per column and hashed the first only)."""
    import duckdb

    con = duckdb.connect(str(work / "alone.duckdb"))
    times = {"parse": 0.0, "canonical": 0.0, "validated": 0.0, "plan": 0.0}
    lines = documents = 0
    start = time.perf_counter()
    for path in sorted(export_dir.glob("*.csv")):
        t = time.perf_counter()
        copy = work / (path.stem + ".parquet")
        con.sql("SELECT * FROM read_csv($p, header = true, all_varchar = true)", params={"p": str(path)}) \
            .write_parquet(str(copy))
        times["parse"] += time.perf_counter() - t
        t = time.perf_counter()
        n, d, _ = con.execute("""
            SELECT sum(n), count(*), max(h) FROM (
                SELECT InvoiceNumber, count(*) AS n, sha256(string_agg(concat_ws('|', *COLUMNS(*)), chr(10))) AS h
                FROM read_parquet($p) WHERE InvoiceNumber <> '' AND ItemCode <> '' GROUP BY InvoiceNumber)""", {"p": str(copy)}).fetchall()[0]
        times["canonical"] += time.perf_counter() - t
        lines, documents = lines + n, documents + d
    times["total"] = time.perf_counter() - start
    return {"lines": lines, "documents": documents, "rejected": 0, "plan": {}, "times": times, "peak_mb": _peak_mb()}


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


STAGES = {"bridge": run_bridge, "naive": run_naive, "seed": run_seed, "duckdb": run_duckdb, "floor": run_floor}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", type=Path, help="keep the generated files and databases here")
    parser.add_argument("--only", nargs="+", choices=list(STAGES), help="run only these (default: all)")
    parser.add_argument("--stage", choices=list(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--exports", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.stage:
        args.work.mkdir(parents=True, exist_ok=True)
        cpu = _cpu_s()
        result = STAGES[args.stage](args.exports, args.work)
        print(json.dumps(result | {"cpu_s": _cpu_s() - cpu}))
        return 0

    base = args.keep or Path(tempfile.mkdtemp(prefix="bridge-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    exports = base / "exports"
    made = exports / f".book-{args.lines}-{args.seed}"
    if not made.exists():      # a kept folder holds the same book already: it is used as it is
        if exports.exists():
            shutil.rmtree(exports)
        from bridge_assets.sandbox.book import generate_book
        from bridge_assets.sandbox.export_writer import write_exports

        t = time.perf_counter()
        write_exports(generate_book(seed=args.seed, lines=args.lines, first_period="2026-01", months=3), exports)
        made.touch()
        print(f"generated the book in {time.perf_counter() - t:.1f} s")
    written = sorted(exports.glob("*.csv"))
    size_mb = sum(p.stat().st_size for p in written) / 1e6
    print(f"{len(written)} export files ({size_mb:.0f} MB) for {args.lines:,} lines")

    results = {}
    for stage in args.only or ("naive", "seed", "duckdb", "floor", "bridge"):
        work = base / stage
        if work.exists():
            shutil.rmtree(work)
        out = subprocess.run(
            [sys.executable, __file__, "--stage", stage, "--exports", str(exports), "--work", str(work)],
            check=True, capture_output=True, text=True,
        )
        results[stage] = json.loads(out.stdout.strip().splitlines()[-1])
    _report(results)
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def _report(results: dict) -> None:
    print(f"\n{'':10}{'lines':>11}{'docs':>9}{'parse s':>9}{'canon s':>9}{'valid s':>9}{'plan s':>8}{'total s':>9}"
          f"{'lines/s':>11}{'peak MB':>9}{'cpu s':>8}")
    for stage, r in results.items():
        tm = r["times"]
        print(f"{stage:10}{r['lines']:>11,}{r['documents']:>9,}{tm['parse']:>9.2f}{tm['canonical']:>9.2f}"
              f"{tm['validated']:>9.2f}{tm['plan']:>8.2f}{tm['total']:>9.2f}{r['lines'] / tm['total']:>11,.0f}"
              f"{r['peak_mb']:>9.0f}{r.get('cpu_s', 0):>8.1f}")
    if "bridge" not in results:
        return
    bridge = results["bridge"]
    total = bridge["times"]["total"]
    for stage, target in (("duckdb", "target: within 2x"), ("seed", "target: >= 2x faster"), ("naive", ""),
                          ("floor", "the bridge's storage with no rules")):
        if stage in results:
            ratio = results[stage]["times"]["total"] / total
            print(f"bridge / {stage} speed: {ratio:.2f}x  {target}")
    if "floor" in results:
        floor = results["floor"]["times"]
        steps = ", ".join(f"{k} {floor[k]:.2f}" for k in ("parse", "aggregate", "lines", "hash", "canonical", "plan"))
        print(f"floor: {steps} s; " + ", ".join(
            f"floor / {stage} speed {results[stage]['times']['total'] / floor['total']:.2f}x"
            for stage in ("duckdb", "seed") if stage in results))
    print(f"bridge CPU time of the first run (parse to plan, every thread): {bridge['times'].get('first_run_cpu', 0):.1f} s")
    rerun = bridge["rerun"]
    print(f"no-op re-run: {'transform skipped' if bridge['rerun_skipped'] else 'TRANSFORM RAN AGAIN'}; intake "
          f"{rerun['parse']:.2f} s, transform {rerun['transform']:.2f} s (target < 1 s), plan {rerun['plan']:.2f} s")
    print("bridge peak memory after each stage: " + ", ".join(f"{k} {v:.0f} MB" for k, v in bridge["peaks"].items()))
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores shared: the wall "
          "times grow with it; 'cpu s' is the stage's CPU time, every thread, the whole run incl. the no-op re-run)")
    print(f"bridge peak memory {bridge['peak_mb']:.0f} MB (target < 1024 MB); {bridge['documents']:,} documents, "
          f"{bridge['rejected']} rejected, plan {bridge['plan']}, failed blocking checks: "
          f"{bridge['failed_blocking_checks'] or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
