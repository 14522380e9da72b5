"""Shared fixtures: a temporary bridge home (DuckDB file, inbox, archive, quarantine, outputs)."""

from __future__ import annotations

import contextlib
import csv
import warnings
from pathlib import Path

import pytest

from bridge_assets.sources.sedona_export import intake
from bridge_assets.ledger import store as ledger
from bridge_assets.sources.sedona_export import mapping
from bridge_assets.ledger import plan as planning
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.runtime.storage import Database

warnings.filterwarnings("ignore", module="dagster")

BASELINE_HEADER = [
    "InvoiceNumber", "InvoiceDate", "DocumentType", "AppliesToInvoice", "CustomerNumber", "CustomerName",
    "MasterAccountCode", "SiteName", "ItemCode", "Description", "BillCycle", "ServiceStartDate", "ServiceEndDate",
    "Quantity", "Rate", "Amount", "Taxable", "TaxAmount", "InvoiceTotal", "TermCode", "PONumber",
]


def line(number="100001", date="09/01/2026", doc_type="Invoice", applies="", customer="C001", name="Smith, J",
         master="", site="1 Main St", item="RMR-MON", description="Monitoring", cycle="M",
         start="09/01/2026", end="09/30/2026", qty="1", rate="29.95", amount="29.95", taxable="N", tax="0.00",
         total="29.95", terms="NET30", po="") -> list[str]:
    return [number, date, doc_type, applies, customer, name, master, site, item, description, cycle, start, end,
            qty, rate, amount, taxable, tax, total, terms, po]


def write_export(path: Path, rows: list[list[str]], header: list[str] | None = None, encoding: str = "utf-8",
                 trailer: list[list[str]] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header or BASELINE_HEADER)
        writer.writerows(rows)
        for extra in trailer or []:
            writer.writerow(extra)
    return path


@pytest.fixture
def settings(tmp_path: Path, monkeypatch) -> BridgeSettings:
    for name in ("BRIDGE_DESTINATIONS", "BRIDGE_DATABASE", "BRIDGE_INBOX", "BRIDGE_OUTPUT", "BRIDGE_HEADER_ALIASES",
                 "SEDONA_API_BASE_URL", "SERVICETRADE_BASE_URL", "BRIDGE_SEDONA_FULL_CREDIT_MEANS_CANCELLED",
                 "BRIDGE_DUPLICATES"):
        monkeypatch.delenv(name, raising=False)
    # Tests write a file and look at once; the tests of the quiet period set their own.
    monkeypatch.setenv("BRIDGE_INBOX_QUIET_SECONDS", "0")
    settings = BridgeSettings.from_env(tmp_path / "home")
    settings.folders.create()
    return settings


@pytest.fixture
def db(settings: BridgeSettings) -> Database:
    return Database(settings.database_path)


def receive_and_map(db: Database, settings: BridgeSettings, paths: list[Path], periods: list[str],
                    destinations: tuple[str, ...] = ()) -> tuple[list, list]:
    """Receive files, map the periods and plan each destination, as the assets do."""
    received, refused = intake.receive_all(db.connect, paths, settings.folders)
    with db.transaction() as con:
        planning.ensure_schema(con)
        mapping.map_periods(con, periods, known_doc_keys_sql=ledger.KNOWN_DOC_KEYS_SQL)
        for name in destinations:
            planning.plan_periods(con, name, periods)
    return received, refused


@contextlib.contextmanager
def quickbooks(tmp_path: Path, monkeypatch, client_id: str = "test-app", secret: str = "test-app-key"):
    """The QuickBooks Online emulator on loopback with one company, and the bridge pointed at it
    (`BRIDGE_DESTINATIONS=qbo`, tokens minted without a browser, limits at a 60x time scale)."""
    from bridge_assets.sandbox.qbo import EmulatorSettings, run_emulator

    with run_emulator(tmp_path / "qbo.sqlite3", EmulatorSettings(clients={client_id: secret}, time_scale=60,
                                                                  refresh_token_rotation="daily")) as qbo:
        realm = qbo.admin.create_company()
        for name, value in {"QBO_BASE_URL": qbo.base_url, "QBO_TOKEN_URL": qbo.token_url, "QBO_REALM_ID": realm,
                            "QBO_CLIENT_ID": client_id, "QBO_CLIENT_SECRET": secret, "QBO_TIME_SCALE": "60",
                            "QBO_REFRESH_TOKEN": qbo.admin.mint_tokens(realm, client_id=client_id)["refresh_token"],
                            "BRIDGE_DESTINATIONS": "qbo"}.items():
            monkeypatch.setenv(name, value)
        yield qbo, realm


def warm_forkserver(*modules: str):
    """A forkserver context with `modules` imported once, so each killed-and-restarted trial starts in
    milliseconds instead of re-importing Dagster and the bridge."""
    import multiprocessing
    import time

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(modules))
    warm_up = context.Process(target=time.sleep, args=(0,))   # starts the server (and its imports) now
    warm_up.start()
    warm_up.join(timeout=60)
    return context
