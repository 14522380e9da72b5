"""`bridge summary` and the summary `bridge demo` prints: documents per state and totals per period, the ledger,
cancellations and write-back, reconciliation, new file versions, and where things are."""

from __future__ import annotations

import sys

from bridge_assets.runtime.settings import BridgeSettings

def print_summary(settings: BridgeSettings, periods: list[str], run_id: str | None = None, out=None,
                  run_succeeded: bool = True) -> None:
    from bridge_assets.canonical.reads import documents_table
    from bridge_assets.runtime.storage import Database

    out = out or sys.stdout
    db = Database(settings.database_path)
    with db.connect(read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if documents_table() not in tables:
            print("Nothing has been received yet.", file=out)
            return
        p = list(periods)
        _print_documents(con, tables, p, out)
        if "ledger_postings" in tables:
            _print_ledger(con, p, run_id, run_succeeded, out)
        _print_cancelled_and_writeback(con, tables, p, out)
        if "reconciliation_results" in tables:
            _print_reconciliation(con, p, out)
        _print_file_versions(con, tables, p, out)
    _print_places(settings, out)


def _print_documents(con, tables: set, p: list[str], out) -> None:
    """Canonical documents per period, source and type; the SedonaAPI pulls; what was rejected."""
    print("\nDocuments per period (canonical, every source):", file=out)
    from bridge_assets.canonical import reads as canonical_reads

    for period, source, doc_type, n, total in canonical_reads.totals_by_source(con, p):
        print(f"  {period}  {source:<12} {doc_type:<12} {n:>7} documents  total {total:>14}", file=out)
    if "sedona_api_pulls" in tables:
        pulled = con.execute("SELECT count(DISTINCT period), max(pulled_at) FROM sedona_api_pulls "
                             "WHERE period IN (SELECT unnest(?))", [p]).fetchall()[0]
        if pulled[0]:
            print(f"  SedonaAPI: {pulled[0]} period(s) pulled, last at {pulled[1]:%Y-%m-%d %H:%M} UTC "
                  "(the same invoices as the export files, plus payments)", file=out)
    rejected = con.execute(
        "SELECT period, count(*) FROM rejected_documents WHERE period IN (SELECT unnest(?)) GROUP BY ALL ORDER BY ALL", [p]
    ).fetchall()
    for period, n in rejected:
        print(f"  {period}  rejected     {n:>7} documents  (not posted; fix the export and drop it again)", file=out)
    examples = con.execute(
        "SELECT source_id, file_name, rows, reasons FROM rejected_documents WHERE period IN (SELECT unnest(?)) "
        "ORDER BY period, file_name, source_id LIMIT 5", [p]).fetchall()
    if examples:
        print("\nRejected documents (first 5; all of them in the UI, asset accounting_documents):", file=out)
        for number, file_name, rows, reasons in examples:
            print(f"  {number} ({file_name}, rows {rows}): {reasons}", file=out)


def _print_ledger(con, p: list[str], run_id: str | None, run_succeeded: bool, out) -> None:
    """Documents per destination and ledger state (why failed or held), and what this run did."""
    from bridge_assets.canonical.reads import documents_table

    print("\nDocuments per state (ledger):", file=out)
    for dest, state, n, total in con.execute(
        "SELECT l.destination, l.state, count(*), CAST(sum(d.total) AS VARCHAR) FROM ledger_postings l "
        f"LEFT JOIN {documents_table()} d USING (doc_key) WHERE l.period IN (SELECT unnest(?)) "
        "GROUP BY ALL ORDER BY ALL", [p]).fetchall():
        print(f"  {dest:<12} {state:<10} {n:>7} documents  total {total or '0.00':>14}", file=out)
        if state in ("failed", "held"):
            for code, count, example in con.execute(
                    "SELECT last_error_code, count(*), any_value(last_error) FROM ledger_postings "
                    "WHERE destination = ? AND state = ? AND period IN (SELECT unnest(?)) GROUP BY 1 ORDER BY 2 DESC",
                    [dest, state, p]).fetchall():
                print(f"      {count:>7} {code}: {example}", file=out)
    if run_id:
        this_run = con.execute(
            "SELECT destination, outcome, count(*) FROM ledger_events WHERE run_id = ? AND outcome <> 'sending' "
            "GROUP BY ALL ORDER BY ALL", [run_id]).fetchall()
        if this_run:
            print("\nThis run:", file=out)
            for dest, outcome, n in this_run:
                print(f"  {dest:<12} {outcome:<10} {n:>7}", file=out)
        elif run_succeeded:
            reverted = con.execute("SELECT count(*) FROM ledger_postings WHERE state = 'reverted' "
                                   "AND period IN (SELECT unnest(?))", [p]).fetchall()[0][0]
            print("\nThis run posted nothing new: every document was already posted unchanged"
                  + (f", or reverted and waiting to be released ({reverted}; see `bridge revert --release`)."
                     if reverted else "."), file=out)
        else:
            print("\nThis run posted nothing: it stopped before posting (see above).", file=out)


def _print_cancelled_and_writeback(con, tables: set, p: list[str], out) -> None:
    if "cancelled_documents" in tables:
        for source, reason_code, n in con.execute(
                "SELECT source, reason_code, count(*) FROM cancelled_documents WHERE period IN (SELECT unnest(?)) "
                "GROUP BY ALL ORDER BY ALL", [p]).fetchall():
            print(f"  cancelled at the source ({source}, {reason_code.replace('_', ' ')}): {n} document(s)", file=out)
    if "servicetrade_writebacks" in tables:
        print("\nServiceTrade write-back (status set on each invoice handed over):", file=out)
        for outcome, n in con.execute(
                "SELECT w.outcome, count(*) FROM servicetrade_writebacks w JOIN servicetrade_invoices i USING (invoice_id) "
                "WHERE i.period IN (SELECT unnest(?)) GROUP BY ALL ORDER BY ALL", [p]).fetchall():
            print(f"  {outcome:<10} {n:>7} invoices", file=out)
        for invoice_id, reason in con.execute(
                "SELECT w.invoice_id, w.reason FROM servicetrade_writebacks w JOIN servicetrade_invoices i USING (invoice_id) "
                "WHERE i.period IN (SELECT unnest(?)) AND w.outcome = 'failed' ORDER BY 1 LIMIT 3", [p]).fetchall():
            print(f"    failed {invoice_id}: {reason}", file=out)


def _print_reconciliation(con, p: list[str], out) -> None:
    rows = con.execute(
        "SELECT period, destination, reconciled, differences, explained, CAST(source_total AS VARCHAR), "
        "CAST(destination_total AS VARCHAR) FROM reconciliation_results WHERE period IN (SELECT unnest(?)) "
        "ORDER BY period, destination", [p]).fetchall()
    if rows:
        print("\nReconciliation (source, ledger and books per period; details in the UI, asset reconciliation):",
              file=out)
        for period, dest, ok, differences, explained, source_total, books_total in rows:
            verdict = "reconciles" if ok else f"DOES NOT RECONCILE: {differences} difference(s)"
            extra = f", {explained} listed to act on (held, failed or by hand)" if explained else ""
            books = f", books {books_total}" if books_total is not None else ", books not read back"
            print(f"  {period}  {dest:<12} {verdict}{extra} (source {source_total}{books})", file=out)


def _print_places(settings: BridgeSettings, out) -> None:
    """Where the database, outputs, inbox, quarantine and set-aside duplicates are."""
    quarantined = sorted(settings.quarantine.glob("*.error.txt")) if settings.quarantine.exists() else []
    duplicates = sorted(settings.folders.duplicates.glob("*.duplicate.txt")) \
        if settings.folders.duplicates.exists() else []
    print("\nWhere things are:", file=out)
    print(f"  database     {settings.database_path}", file=out)
    print(f"  outputs      {settings.output}", file=out)
    for folder in sorted(settings.output.glob("*")) if settings.output.exists() else []:
        files = sorted(folder.glob("*"))
        print(f"    {folder.name:<10} {len(files)} file(s){', newest ' + files[-1].name if files else ''}", file=out)
    print(f"  inbox        {settings.inbox}", file=out)
    print(f"  quarantine   {settings.quarantine} ({len(quarantined)} file(s))", file=out)
    print(f"  duplicates   {settings.folders.duplicates} ({len(duplicates)} second copies of files already "
          "received, set aside)", file=out)


def _print_file_versions(con, tables: set, periods: list[str], out) -> None:
    from bridge_assets.sources.sedona_export.intake import new_versions

    versions = new_versions(con, periods) if "export_files" in tables else []
    if versions:
        print("\nNew versions of files received earlier (their documents update the earlier ones):", file=out)
    for v in versions:
        print(f"  {v.file_name} {v.sha256[:12]} received {v.received_at:%Y-%m-%d %H:%M} replaces "
              f"{v.earlier_sha256[:12]} received {v.earlier_received_at:%Y-%m-%d %H:%M}", file=out)
