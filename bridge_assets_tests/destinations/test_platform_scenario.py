"""Every registered destination walks the same scenario: create, a re-run posts nothing, update, held by a
closed period (and posted once it reopens), void (a revert), read back, reconcile. What a platform cannot
do (an IIF file cannot change or void what QuickBooks Desktop imported) shows as `by_hand`, with the
sentence saying what a person does, and the capability it lacks says so beforehand.

A new platform adds its line to `destinations.registry.REGISTRY` and its stand-up to `PLATFORMS` below
(how the test reaches it on loopback and closes its books); the scenario then runs for it unchanged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator

import pytest

from bridge_assets.destinations.qbo import mirror
from bridge_assets.books import reconcile
from bridge_assets.books import store
from bridge_assets.destinations.base import BY_HAND_CODES, BooksDocument, Destination
from bridge_assets.destinations.registry import KNOWN, book_close_dates, opened
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import posting
from bridge_assets.ledger import revert
from bridge_assets.ledger import store as ledger
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.runtime.storage import Database

from ..conftest import line, quickbooks, receive_and_map, write_export

SEPT, OCT = "2026-09", "2026-10"


@dataclasses.dataclass
class Platform:
    """How the test stands one platform up and closes its books."""

    settings: BridgeSettings
    close_books: Callable[[dt.date | None], None]
    refresh_books: Callable[[Destination], None] = lambda destination: None   # read back into the mirror


@contextlib.contextmanager
def _quickbooks_online(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    with quickbooks(tmp_path, monkeypatch) as (qbo, realm):
        def close(day: dt.date | None) -> None:
            qbo.admin.set_book_close_date(realm, day.isoformat() if day else None)

        def refresh(destination) -> None:
            mirror.refresh(settings_db(settings), destination.client, destination.realm_id)

        yield Platform(settings, close, refresh)


@contextlib.contextmanager
def _file(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    platform = Platform(settings, lambda day: None)

    def close(day: dt.date | None) -> None:            # a file's closing date is configured
        platform.settings = dataclasses.replace(platform.settings, books_closed_through=day)

    platform.close_books = close
    yield platform


@contextlib.contextmanager
def _xero(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    from ..xero_sandbox import xero

    with xero(tmp_path, monkeypatch) as emulator:
        def close(day: dt.date | None) -> None:
            emulator.admin.set_lock_dates(emulator.tenant_id, day)

        def refresh(destination) -> None:       # Xero has no mirror of its own: the neutral store, by tenant
            store.refresh(settings_db(settings), destination, destination.tenant_id)

        yield Platform(settings, close, refresh)


@contextlib.contextmanager
def _freshbooks(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    """FreshBooks has no lock date: its closing date is the bridge's own, as for a file."""
    from bridge_assets.sandbox.freshbooks import EmulatorSettings, run_emulator

    with run_emulator(tmp_path / "freshbooks.sqlite3", EmulatorSettings(time_scale=60)) as fb:
        tokens = fb.admin.mint_tokens()
        for name, value in fb.client_environment(tokens["refresh_token"], tmp_path / "fb_tokens.json").items():
            monkeypatch.setenv(name, value)
        with _file(tmp_path, monkeypatch, settings) as platform:
            platform.refresh_books = _neutral_refresh(settings)
            yield platform


def _neutral_refresh(settings: BridgeSettings) -> Callable[[Destination], None]:
    """A platform without a mirror of its own: its books read back into the neutral store, under its own book."""
    return lambda destination: store.refresh(settings_db(settings), destination, destination.book)


@contextlib.contextmanager
def _zoho_books(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    """Zoho locks what is dated BEFORE its lock date: closing the books through a day locks from the next."""
    from bridge_assets.sandbox.zoho_books import EmulatorSettings, run_emulator

    with run_emulator(tmp_path / "zoho.sqlite3", EmulatorSettings(time_scale=60)) as zoho:
        tokens = zoho.admin.mint_tokens()
        for name, value in zoho.client_environment(tokens["refresh_token"], tmp_path / "zoho_tokens.json").items():
            monkeypatch.setenv(name, value)

        def close(day: dt.date | None) -> None:
            zoho.admin.set_lock_date((day + dt.timedelta(days=1)).isoformat() if day else None)

        yield Platform(settings, close, _neutral_refresh(settings))


@contextlib.contextmanager
def _sage(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    """Sage's year-end lockdown date closes the books through it."""
    from bridge_assets.sandbox.sage import EmulatorSettings, run_emulator

    with run_emulator(tmp_path / "sage.sqlite3", EmulatorSettings(time_scale=60)) as sage:
        tokens = sage.admin.mint_tokens()
        for name, value in sage.client_environment(tokens["refresh_token"], tmp_path / "sage_tokens.json").items():
            monkeypatch.setenv(name, value)
        yield Platform(settings, lambda day: sage.admin.set_lock_date(day.isoformat() if day else None),
                       _neutral_refresh(settings))


@contextlib.contextmanager
def _freeagent(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    """FreeAgent has no lock-date endpoint: the closing date is the bridge's own, and FreeAgent's locked
    period (filed accounts) is closed alike, so what slips past the plan is refused "is locked." and held."""
    from bridge_assets.sandbox.freeagent import EmulatorSettings, run_emulator

    with run_emulator(tmp_path / "freeagent.sqlite3", EmulatorSettings(time_scale=60)) as fa:
        with _configured_and_locked(fa, tmp_path, monkeypatch, settings) as platform:
            yield platform


@contextlib.contextmanager
def _myob(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    """MYOB does not expose its lock date: the closing date is the bridge's own, MYOB's lock period alike."""
    from bridge_assets.sandbox.myob import EmulatorSettings, run_emulator

    with run_emulator(tmp_path / "myob.sqlite3", EmulatorSettings(time_scale=60)) as myob:
        with _configured_and_locked(myob, tmp_path, monkeypatch, settings) as platform:
            yield platform


@contextlib.contextmanager
def _configured_and_locked(emulator, tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    """The bridge pointed at `emulator`; closing the books sets the bridge's date and the platform's lock."""
    tokens = emulator.admin.mint_tokens()
    for name, value in emulator.client_environment(tokens["refresh_token"], tmp_path / "tokens.json").items():
        monkeypatch.setenv(name, value)
    with _file(tmp_path, monkeypatch, settings) as platform:
        close_configured = platform.close_books

        def close(day: dt.date | None) -> None:
            close_configured(day)
            emulator.admin.set_lock_date(day.isoformat() if day else None)

        platform.close_books = close
        platform.refresh_books = _neutral_refresh(settings)
        yield platform


@contextlib.contextmanager
def _odoo(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    from bridge_assets.sandbox.odoo import EmulatorSettings, run_emulator

    emulator_settings = EmulatorSettings(time_scale=60)
    login, user = next(iter(emulator_settings.users.items()))
    with run_emulator(tmp_path / "odoo.sqlite3", emulator_settings) as odoo:
        for name, value in {"ODOO_URL": odoo.base_url, "ODOO_DATABASE": odoo.database, "ODOO_USERNAME": login,
                            "ODOO_API_KEY": user["password"], "ODOO_TIME_SCALE": "60"}.items():
            monkeypatch.setenv(name, value)

        def close(day: dt.date | None) -> None:       # Settings > Accounting > lock date, as a person sets it
            odoo.admin.set_lock_dates(period_lock_date=day.isoformat() if day else None)

        def refresh(destination) -> None:             # read back into the neutral store, under Odoo's own book
            store.refresh(settings_db(settings), destination, destination.book)

        yield Platform(settings, close, refresh)


@contextlib.contextmanager
def _business_central(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    from bridge_assets.sandbox.business_central import EmulatorSettings, run_emulator

    emulator_settings = EmulatorSettings(time_scale=60)
    client_id, secret = next(iter(emulator_settings.clients.items()))
    with run_emulator(tmp_path / "bc.sqlite3", emulator_settings) as bc:
        for name, value in {"BC_API_URL": bc.base_url, "BC_TOKEN_URL": bc.token_url, "BC_TENANT": emulator_settings.tenant,
                            "BC_ENVIRONMENT": emulator_settings.environment, "BC_COMPANY": emulator_settings.company,
                            "BC_CLIENT_ID": client_id, "BC_CLIENT_SECRET": secret, "BC_TIME_SCALE": "60"}.items():
            monkeypatch.setenv(name, value)

        def close(day: dt.date | None) -> None:       # General Ledger Setup: Allow Posting From the day after
            bc.admin.set_posting_range((day + dt.timedelta(days=1)).isoformat() if day else None)

        def refresh(destination) -> None:
            store.refresh(settings_db(settings), destination, destination.book)

        yield Platform(settings, close, refresh)


@contextlib.contextmanager
def _netsuite(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    from bridge_assets.sandbox.netsuite import EmulatorSettings, run_emulator

    emulator_settings = EmulatorSettings(time_scale=60)
    client_id, secret = next(iter(emulator_settings.clients.items()))
    with run_emulator(tmp_path / "ns.sqlite3", emulator_settings) as ns:
        for name, value in {"NETSUITE_ACCOUNT": emulator_settings.account, "NETSUITE_BASE_URL": ns.base_url,
                            "NETSUITE_TOKEN_URL": ns.token_url, "NETSUITE_CLIENT_ID": client_id,
                            "NETSUITE_CLIENT_SECRET": secret, "NETSUITE_TIME_SCALE": "60",
                            "NETSUITE_REFRESH_TOKEN": ns.admin.mint_tokens(client_id)["refresh_token"],
                            "NETSUITE_TOKEN_STORE": str(tmp_path / "netsuite_tokens.json")}.items():
            monkeypatch.setenv(name, value)

        def close(day: dt.date | None) -> None:       # Period Close: every period ending on or before the day
            ns.admin.close_periods(day.isoformat() if day else None)

        def refresh(destination) -> None:
            store.refresh(settings_db(settings), destination, destination.book)

        yield Platform(settings, close, refresh)


@contextlib.contextmanager
def _sap_business_one(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    from bridge_assets.sandbox.sap_business_one import EmulatorSettings, run_emulator

    emulator_settings = EmulatorSettings(time_scale=60)
    user, password = next(iter(emulator_settings.users.items()))
    with run_emulator(tmp_path / "b1.sqlite3", emulator_settings) as b1:
        for name, value in {"SAPB1_URL": b1.service_url, "SAPB1_COMPANY_DB": emulator_settings.company_db,
                            "SAPB1_USERNAME": user, "SAPB1_PASSWORD": password}.items():
            monkeypatch.setenv(name, value)

        def close(day: dt.date | None) -> None:       # Posting Periods: every period ending on or before the day locked
            b1.admin.lock_periods(day.isoformat() if day else None)

        def refresh(destination) -> None:
            store.refresh(settings_db(settings), destination, destination.book)

        yield Platform(settings, close, refresh)


@contextlib.contextmanager
def _oracle_fusion_receivables(tmp_path: Path, monkeypatch, settings: BridgeSettings) -> Iterator[Platform]:
    from bridge_assets.sandbox.oracle_fusion_receivables import EmulatorSettings, run_emulator

    emulator_settings = EmulatorSettings(time_scale=60)
    user, values = next(iter(emulator_settings.users.items()))
    with run_emulator(tmp_path / "ar.sqlite3", emulator_settings) as ar:
        # customer accounts are made in Oracle by a person, not by the bridge
        ar.admin.add_customers([("C001", "Smith, J"), ("C002", "Jones, K"), ("C003", "Lee, A")])
        for name, value in {"ORACLE_URL": ar.base_url, "ORACLE_USERNAME": user, "ORACLE_PASSWORD": values["password"],
                            "ORACLE_BUSINESS_UNIT": emulator_settings.business_unit}.items():
            monkeypatch.setenv(name, value)
        platform = Platform(settings, lambda day: None)

        def close(day: dt.date | None) -> None:       # the AR period closed in Oracle, and the closing date configured
            ar.admin.close_periods(day.isoformat() if day else None)
            platform.settings = dataclasses.replace(platform.settings, books_closed_through=day)

        def refresh(destination) -> None:
            store.refresh(settings_db(settings), destination, destination.book)

        platform.close_books, platform.refresh_books = close, refresh
        yield platform


PLATFORMS = {"qbo": _quickbooks_online, "staging_csv": _file, "qbd_iif": _file, "xero": _xero, "freshbooks": _freshbooks,
             "zoho_books": _zoho_books, "sage": _sage, "freeagent": _freeagent, "myob": _myob, "odoo": _odoo,
             "business_central": _business_central, "netsuite": _netsuite, "sap_business_one": _sap_business_one,
             "oracle_fusion_receivables": _oracle_fusion_receivables}


def settings_db(settings: BridgeSettings) -> Database:
    return Database(settings.database_path)


def test_every_registered_destination_has_a_scenario_stand_up():
    assert sorted(PLATFORMS) == sorted(KNOWN)


def _run(db, platform: Platform, name: str, run_id: str, periods=(SEPT, OCT)) -> posting.PostingReport:
    closed = book_close_dates([name], platform.settings)[name]
    with opened(name, platform.settings) as destination:     # planned as the posting_plan asset does
        with db.transaction() as con:
            planning.plan_periods(con, destination, list(periods), closed_through=closed)
        return posting.execute_plan(db, destination, list(periods), run_id)


def _posting(db, name: str, number: str) -> tuple:
    with db.connect() as con:
        return con.execute("SELECT state, last_error_code, last_error FROM ledger_postings "
                           "WHERE destination = ? AND doc_number = ?", [name, number]).fetchone()


def _read_back_into_the_neutral_store(db, name: str, destination: Destination, count: int) -> None:
    first = store.refresh(db, destination, "scenario")
    assert first.since is None and first.documents == count
    again = store.refresh(db, destination, "scenario")
    assert again.since is not None and again.since < dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    # (the overlap re-reads what changed in the last minutes: harmless, one row per document still)
    with db.connect() as con:
        # (this book only: a platform without a mirror of its own keeps its real book in the same store)
        assert con.execute("SELECT count(*) FROM books_mirror WHERE destination = ? AND book = 'scenario'",
                           [name]).fetchone()[0] == count


@pytest.mark.parametrize("name", KNOWN)
def test_platform_scenario(name, tmp_path, monkeypatch, settings, db):
    with PLATFORMS[name](tmp_path, monkeypatch, settings) as platform:
        _scenario(name, platform, db)


def _scenario(name: str, platform: Platform, db) -> None:
    settings = platform.settings
    with opened(name, settings) as destination:
        capabilities = destination.capabilities

    # create
    receive_and_map(db, settings, [write_export(settings.inbox / "a.csv", [
        line(number="1"), line(number="2", customer="C002", name="Jones, K")])], [SEPT])
    assert _run(db, platform, name, "run-1").outcomes == {"created": 2}

    # a re-run posts nothing
    again = _run(db, platform, name, "run-2")
    assert again.outcomes == {} and again.files == []

    # update: done in place, or by hand with a sentence where the platform cannot
    receive_and_map(db, settings, [write_export(settings.inbox / "b.csv", [
        line(number="1", rate="39.95", amount="39.95", total="39.95")])], [SEPT])
    updated = _run(db, platform, name, "run-3")
    state, code, sentence = _posting(db, name, "1")
    if capabilities.supports_update:
        assert updated.outcomes == {"updated": 1} and state == "posted"
    else:
        assert capabilities.lacks("update", "invoice") == "supports_update"
        assert code == BY_HAND_CODES["supports_update"] and code in ledger.NEEDS_A_PERSON
        assert "1" in sentence and len(sentence) > 40            # names the document and what a person does
        assert _run(db, platform, name, "run-3b").outcomes == {}         # recorded once, not retried

    # held by a closed period, posted once when it reopens
    receive_and_map(db, settings, [write_export(settings.inbox / "c.csv", [
        line(number="3", date="10/05/2026", start="10/01/2026", end="10/31/2026", customer="C003", name="Lee, A",
             rate="100.00", amount="100.00", total="100.00")])], [OCT])
    platform.close_books(dt.date(2026, 10, 31))
    held = _run(db, platform, name, "run-4", periods=(OCT,))
    assert held.held == 1 and held.outcomes == {}
    assert _posting(db, name, "3")[0] == "held"
    platform.close_books(None)
    assert _run(db, platform, name, "run-5").outcomes == {"created": 1}
    assert _run(db, platform, name, "run-6").outcomes == {}

    # void: reverting run-5 voids invoice 3, or leaves it to a person with the sentence
    with db.transaction() as con:
        plan = revert.preview_revert(con, name, run_id="run-5")
    assert [(s.action, s.doc_number) for s in plan.steps] == [("void", "3")]
    with opened(name, platform.settings) as destination:
        report = revert.execute_revert(db, destination, plan.plan_id, "revert-1")
    if capabilities.supports_void:
        assert report.outcomes == {"reverted": 1} and not report.by_hand
    else:
        assert capabilities.lacks("void", "invoice") == "supports_void"
        assert report.outcomes == {"by_hand": 1}
        [(number, what_to_do)] = report.by_hand
        assert number == "3" and "3" in what_to_do and len(what_to_do) > 40

    # read back: the books as they hold the documents now
    with opened(name, platform.settings) as destination:
        if capabilities.reads_back:
            # One document per number, the live one where a platform corrects by credit memo and re-issue (the
            # original stays in its books, voided with its reversal); the store counts every document.
            read = sorted(destination.read_back(), key=lambda d: d.status == "active")
            books = {(d.doc_type, d.doc_number): d for d in read}
            assert all(isinstance(d, BooksDocument) for d in books.values())
            assert books[("invoice", "1")].total == Decimal("39.95") and books[("invoice", "1")].status == "active"
            assert books[("invoice", "2")].total == Decimal("29.95")
            assert books[("invoice", "3")].status == ("voided" if capabilities.supports_void else "active")
            later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(hours=1)
            assert destination.read_back(since=later) == []
            platform.refresh_books(destination)
            _read_back_into_the_neutral_store(db, name, destination, len(read))

    # reconcile: source, ledger and (where it reads back) the books agree, what is left to a person listed
    with db.transaction() as con:
        results = reconcile.reconcile(con, [SEPT, OCT], reconcile.destinations_to_reconcile([name], platform.settings))
    for result in results:
        assert result.books_read_back is capabilities.reads_back
        assert result.reconciled, result.summary()
    if capabilities.reads_back:      # the neutral store, filled by read_back alone, reconciles the same
        view = store.store_view(name, "scenario", "the books",
                                what_changed=destination.books_view().what_changed)
        with db.transaction() as con:
            neutral = reconcile.reconcile(con, [SEPT, OCT], {name: view})
        assert [(r.period, r.reconciled, r.books_read_back, r.destination_total) for r in neutral] == [
            (r.period, r.reconciled, r.books_read_back, r.destination_total) for r in results]
    kinds = {d.kind for r in results for d in r.differences}
    if not capabilities.supports_update or not capabilities.supports_void:
        assert "by_hand" in kinds
