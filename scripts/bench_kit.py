"""What the posting benchmarks share (benchmark_qbo.py, benchmark_companies.py, benchmark_xero.py): one
month's sample book received and mapped into a bridge home (and planned for QuickBooks Online), the limits
the bridge is told for a sped-up QuickBooks Online emulator, and the emulator journal's counts.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bridge_assets.canonical import reads as canonical_reads
from bridge_assets.destinations.qbo.adapter import QboLimits
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import store as ledger
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.runtime.storage import Database
from bridge_assets.sandbox.book import generate_book
from bridge_assets.sandbox.export_writer import write_exports
from bridge_assets.sandbox.qbo import EmulatorSettings
from bridge_assets.sources.sedona_export import intake, mapping

PERIOD = "2026-09"
CLIENT_ID, CLIENT_SECRET = "bridge-sandbox-client", "bridge-sandbox-secret"


def receive_month(settings: BridgeSettings, exports: Path, lines: int, seed: int) -> Database:
    """Generate one month, receive it into the bridge home of `settings` and map it (with the home's
    document number prefix); returns the home's database."""
    book = generate_book(seed, lines, PERIOD, 1)
    settings.folders.create()
    inbox = []
    for path in write_exports(book, exports):
        inbox.append(settings.inbox / path.name)
        shutil.copyfile(path, inbox[-1])
    db = Database(settings.database_path)
    _, refused = intake.receive_all(db.connect, inbox, settings.folders)
    if refused:
        raise SystemExit(f"the generated export was refused: {refused}")
    with db.transaction() as con:
        planning.ensure_schema(con)
        mapping.map_periods(con, [PERIOD], mapping.MappingSettings(doc_number_prefix=settings.doc_number_prefix),
                            known_doc_keys_sql=ledger.KNOWN_DOC_KEYS_SQL)
    return db


def prepare(settings: BridgeSettings, exports: Path, lines: int, seed: int) -> tuple[Database, list]:
    """`receive_month`, planned for QuickBooks Online; returns the database and the documents to create."""
    db = receive_month(settings, exports, lines, seed)
    with db.transaction() as con:
        planning.plan_periods(con, "qbo", [PERIOD])
        keys = [k for k, in con.execute("SELECT doc_key FROM posting_plan WHERE action = 'create'").fetchall()]
        documents = list(canonical_reads.load_documents(con, keys).values())
    return db, documents


def bridge_limits(settings: EmulatorSettings) -> QboLimits:
    """What the bridge is told: the emulator's own limits, on its clock."""
    return QboLimits(requests_per_minute=settings.requests_per_minute,
                     batch_requests_per_minute=settings.batch_requests_per_minute,
                     concurrent_requests=settings.concurrent_requests, time_scale=settings.time_scale)


def emulated_minutes(seconds: float, time_scale: float) -> float:
    return seconds * time_scale / 60.0


def journal_counts(journal: list[dict]) -> dict[str, int]:
    """Requests, batch requests and 429s among journal entries."""
    return {"requests": len(journal),
            "batches": sum(1 for e in journal if e["path"].endswith("/batch")),
            "throttled": sum(1 for e in journal if e["status"] == 429)}
