"""Reverting in QuickBooks Online, against the emulator in its own process over loopback (real HTTP, real OAuth).

The acceptance test of issue 4: a run creates 100 documents and updates 5; its revert brings the books back
to their state before that run, compared object by object and as totals per customer; a second revert
sends nothing. A revert killed with SIGKILL halfway (at a random moment, or while QuickBooks holds back the
answer of a write it committed) and run again finishes with nothing done twice.
"""

from __future__ import annotations

import collections
import datetime as dt
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest

from bridge_assets.canonical import store as document_store
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import posting
from bridge_assets.ledger import revert
from bridge_assets.sources.sedona_api import sync as sedona_api_sync
from bridge_assets.destinations.qbo.adapter import QboDestination, QboLimits
from bridge_assets.destinations.qbo.payloads import is_voided
from bridge_assets.destinations.registry import opened
from bridge_assets.model.document import AccountingDocument, DocumentLine
from bridge_assets.sandbox.qbo import EmulatorSettings, SpawnedEmulator, spawn_emulator
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.runtime.storage import Database

from .conftest import line, receive_and_map, warm_forkserver, write_export

CLIENT_ID, CLIENT_SECRET = "bridge-revert-client", "revert-secret-81c2"
TIME_SCALE = 60
PERIOD = "2026-09"
SETTINGS = EmulatorSettings(time_scale=TIME_SCALE, clients={CLIENT_ID: CLIENT_SECRET},
                            refresh_token_rotation="daily", request_timeout_s=120)
LIMITS = QboLimits(time_scale=TIME_SCALE)
CUSTOMERS = [("C01", "Smith, J"), ("C02", "Jones, K"), ("C03", "Lee, A"), ("C04", "Garcia, M"), ("C05", "O'Brien, P")]
ENTITIES = ("Invoice", "CreditMemo", "Payment", "Customer", "Item")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[SpawnedEmulator]:
    with spawn_emulator(tmp_path_factory.mktemp("qbo") / "books.sqlite3", SETTINGS) as handle:
        yield handle


@pytest.fixture(scope="module")
def forkserver():
    return warm_forkserver("bridge_assets.ledger.revert", "bridge_assets.destinations.qbo.adapter", __name__)


# --- the book: run-1 posts 5 invoices and a credit; run-2 changes those 5 and creates the rest ------------


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _invoice(number: int, customer: tuple[str, str], rmr: Decimal, labor: bool) -> list[list[str]]:
    key, name = customer
    tax = Decimal("14.03") if labor else Decimal("0.00")
    total = rmr + (Decimal("170.00") if labor else 0) + tax
    rows = [line(number=str(number), customer=key, name=name, rate=_money(rmr), amount=_money(rmr),
                 total=_money(total))]
    if labor:
        rows.append(line(number=str(number), customer=key, name=name, item="LAB-TECH", description="Technician",
                         qty="2", rate="85", amount="170.00", taxable="Y", tax="14.03", total=_money(total),
                         start="", end="", cycle=""))
    return rows


def _credit(number: int, invoice: int, customer: tuple[str, str], amount: str) -> list[str]:
    key, name = customer
    return line(number=str(number), doc_type="Credit", applies=str(invoice), customer=key, name=name, rate=amount,
                amount=amount, total=amount)


def _book(new_invoices: int, new_credits: int, updated: int) -> tuple[list, list]:
    """Rows of the two exports: run-1 (`updated` invoices and a credit applied to the first), and run-2 (those
    invoices changed; `new_invoices` new ones; `new_credits` credits, the last `updated` of them applied to
    the changed invoices, the others to new invoices)."""
    old = {1000 + j: CUSTOMERS[(j - 1) % len(CUSTOMERS)] for j in range(1, updated + 1)}
    first = [row for number, customer in old.items() for row in _invoice(number, customer, Decimal("29.95"), True)]
    first.append(_credit(5000, 1001, old[1001], "20.00"))
    second = [row for number, customer in old.items() for row in _invoice(number, customer, Decimal("34.95"), True)]
    new = {2000 + n: CUSTOMERS[n % len(CUSTOMERS)] for n in range(1, new_invoices + 1)}
    for number, customer in new.items():
        second += _invoice(number, customer, Decimal("29.95") + number % 7, number % 4 == 0)
    for k in range(1, new_credits + 1):
        target = 2000 + k if k <= new_credits - updated else 1000 + k - (new_credits - updated)
        customer = new.get(target) or old[target]
        second.append(_credit(6000 + k, target, customer, "10.00" if target > 2000 else "15.00"))
    return first, second


class Company:
    """One emulated company, the bridge's database and token store for it, and ways to look at both."""

    def __init__(self, emulator: SpawnedEmulator, folder: Path) -> None:
        self.emulator = emulator
        self.realm_id = emulator.admin.create_company()
        grant = emulator.admin.mint_tokens(self.realm_id, client_id=CLIENT_ID)
        self.settings = BridgeSettings.from_env(folder)
        self.settings.folders.create()
        self.db = Database(self.settings.database_path)
        self.options = dict(base_url=emulator.base_url, realm_id=self.realm_id, token_url=emulator.token_url,
                            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_store=folder / "qbo_tokens.json",
                            refresh_token=grant["refresh_token"], limits=LIMITS, timeout=10.0)

    def destination(self) -> QboDestination:
        return QboDestination(**self.options)

    def receive(self, name: str, rows: list[list[str]]) -> None:
        received, refused = receive_and_map(self.db, self.settings, [write_export(self.settings.inbox / name, rows)],
                                            [PERIOD])
        assert received and not refused
        with self.db.connect() as con:
            assert con.execute("SELECT count(*) FROM rejected_documents").fetchall()[0][0] == 0

    def post(self, run_id: str) -> posting.PostingReport:
        with self.db.transaction() as con:
            planning.plan_periods(con, "qbo", [PERIOD])
        destination = self.destination()
        try:
            return posting.execute_plan(self.db, destination, [PERIOD], run_id)
        finally:
            destination.close()

    def preview(self, **scope: Any) -> revert.RevertPlan:
        with self.db.transaction() as con:
            return revert.preview_revert(con, "qbo", **scope)

    def revert(self, plan_id: str, run_id: str) -> revert.RevertReport:
        destination = self.destination()
        try:
            return revert.execute_revert(self.db, destination, plan_id, run_id)
        finally:
            destination.close()

    def books(self) -> dict[str, dict[str, dict]]:
        """Every object of the company by entity and Id, without what changes on any write (SyncToken, times)."""
        return {entity: {o["Id"]: {k: v for k, v in o.items() if k not in ("SyncToken", "MetaData")}
                         for o in self.emulator.admin.dump(self.realm_id, entity)} for entity in ENTITIES}

    def journal(self) -> list[dict]:
        return self.emulator.admin.journal(self.realm_id)

    def ledger(self) -> tuple[list, list]:
        with self.db.connect() as con:
            return (con.execute("SELECT * FROM ledger_postings ORDER BY ALL").fetchall(),
                    con.execute("SELECT * FROM ledger_events ORDER BY event_id").fetchall())


def _d(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


def per_customer(books: dict[str, dict[str, dict]]) -> dict[str, tuple[Decimal, Decimal]]:
    """(billed, open) per customer: live invoices less credit memos, and what is still owed."""
    totals: dict[str, list[Decimal]] = collections.defaultdict(lambda: [Decimal(0), Decimal(0)])
    for invoice in books["Invoice"].values():
        if not is_voided(invoice):
            totals[invoice["CustomerRef"]["value"]][0] += _d(invoice["TotalAmt"])
            totals[invoice["CustomerRef"]["value"]][1] += _d(invoice["Balance"])
    for credit in books["CreditMemo"].values():
        totals[credit["CustomerRef"]["value"]][0] -= _d(credit["TotalAmt"])
        totals[credit["CustomerRef"]["value"]][1] -= _d(credit["RemainingCredit"])
    return {customer: (billed, owed) for customer, (billed, owed) in totals.items()}


def assert_books_as_before(before: dict[str, dict[str, dict]], after: dict[str, dict[str, dict]]) -> None:
    """Object by object: everything that existed is as it was; invoices the run created are voided (QuickBooks
    keeps them, numbered, at zero); credit memos and payments it created are gone."""
    for entity in ENTITIES:
        for entity_id, was in before[entity].items():
            assert after[entity].get(entity_id) == was, f"{entity} {entity_id} is not as it was"
    new_invoices = [o for i, o in after["Invoice"].items() if i not in before["Invoice"]]
    assert all(is_voided(o) and _d(o["Balance"]) == 0 for o in new_invoices)
    for entity in ("CreditMemo", "Payment", "Customer", "Item"):
        assert set(after[entity]) == set(before[entity]), f"{entity}: {set(after[entity]) ^ set(before[entity])}"
    assert per_customer(after) == per_customer(before)


def committed_undo_writes(journal: list[dict]) -> collections.Counter:
    """Writes QuickBooks committed, by kind: voids, deletes (per entity) and full updates (restores)."""
    counts: collections.Counter = collections.Counter()
    for entry in journal:
        if entry["method"] != "POST" or entry["path"].endswith(("/query", "/batch")) or entry["status"] != 200:
            continue
        if not (entry["outcome"] == "processed" or entry["outcome"].startswith("dropped")):
            continue
        entity = entry["path"].rsplit("/", 1)[-1]
        operation = "void" if "operation=void" in entry["query"] else "delete" if "operation=delete" in entry["query"] \
            else "update"
        counts[f"{operation} {entity}"] += 1
    return counts


def _two_runs(company: Company, new_invoices: int, new_credits: int, updated: int) -> dict:
    first, second = _book(new_invoices, new_credits, updated)
    company.receive("a.csv", first)
    report = company.post("run-1")
    assert report.outcomes == {"created": updated + 1}, report.failures
    before = company.books()
    company.receive("b.csv", second)
    report = company.post("run-2")
    assert report.outcomes == {"created": new_invoices + new_credits, "updated": updated}, report.failures
    return before


# --- the acceptance test ------------------------------------------------------------------------------------


def test_reverting_a_run_of_100_creates_and_5_updates_returns_the_books_to_before_it(emulator, tmp_path):
    company = Company(emulator, tmp_path / "bridge")
    before = _two_runs(company, new_invoices=80, new_credits=20, updated=5)
    assert per_customer(company.books()) != per_customer(before)

    requests, state = len(company.journal()), company.ledger()
    plan = company.preview(run_id="run-2")
    assert len(company.journal()) == requests and company.ledger() == state        # a preview changes nothing
    assert [(action, doc_type, n) for action, doc_type, n, _ in plan.totals()] == [
        ("delete", "credit_memo", 20), ("restore", "invoice", 5), ("void", "invoice", 80)]
    assert [s.doc_type for s in plan.steps] == ["credit_memo"] * 20 + ["invoice"] * 85   # credits first

    mark = len(company.journal())
    report = company.revert(plan.plan_id, "revert-1")
    assert report.outcomes == {"reverted": 105} and not report.failures
    assert_books_as_before(before, company.books())
    assert committed_undo_writes(company.journal()[mark:]) == {
        "delete creditmemo": 20, "delete payment": 20, "void invoice": 80, "update invoice": 5}

    with company.db.connect() as con:
        rows = con.execute("SELECT state, dest_id IS NULL, count(*) FROM ledger_postings "
                           "WHERE last_run_id = 'revert-1' GROUP BY ALL ORDER BY ALL").fetchall()
        restored = con.execute("SELECT l.content_hash = e.content_hash FROM ledger_postings l JOIN ledger_events e "
                               "USING (doc_key) WHERE l.state = 'reverted' AND l.dest_id IS NOT NULL "
                               "AND e.run_id = 'run-1' AND e.outcome = 'created'").fetchall()
        events = con.execute("SELECT count(*) FROM ledger_events WHERE run_id = 'revert-1' AND action = 'revert' "
                             "AND outcome = 'reverted' AND before IS NOT NULL AND after IS NOT NULL").fetchall()
    assert rows == [("reverted", False, 5), ("reverted", True, 100)]
    assert restored == [(True,)] * 5              # the ledger knows they hold run-1's content again
    assert events == [(105,)]

    # A second revert finds nothing to do and sends nothing at all.
    requests, state = len(company.journal()), company.ledger()
    again = company.preview(run_id="run-2")
    assert again.steps == () and len(again.left_out) == 105
    assert company.revert(again.plan_id, "revert-2").outcomes == {}
    assert len(company.journal()) == requests and company.ledger()[0] == state[0]


@pytest.mark.parametrize("mode, credits", [("in_flight", 8), ("in_flight", 0), ("midway", 8)])
def test_a_revert_killed_halfway_and_run_again_finishes_with_nothing_done_twice(emulator, forkserver, tmp_path,
                                                                                mode, credits):
    """in_flight: killed while QuickBooks holds back the answer of an undo it committed (with credits, the
    first write touching an invoice deletes a credit's $0 application; without, it restores an invoice), and
    the same plan is run again. midway: killed at a moment in the middle; previewed again and run, as
    `bridge revert` run twice does."""
    company = Company(emulator, tmp_path / "bridge")
    before = _two_runs(company, new_invoices=24, new_credits=credits, updated=5)
    expected = collections.Counter({"delete creditmemo": credits, "delete payment": credits, "void invoice": 24,
                                    "update invoice": 5})
    plan = company.preview(run_id="run-2")
    mark = len(company.journal())
    if mode == "in_flight":
        emulator.admin.set_faults(company.realm_id, drop_next_writes=1, drop_mode="timeout", drop_entities=["Invoice"])
    child = forkserver.Process(target=_revert_in_child, args=(company.options, str(company.db.path), plan.plan_id),
                               daemon=True)
    child.start()
    _wait(company, child, mark, mode, total=sum(expected.values()))
    assert child.is_alive(), "the revert finished before it could be killed"
    child.kill()
    child.join(timeout=10)
    emulator.admin.clear_faults(company.realm_id)
    if mode == "in_flight":
        [held] = [e for e in company.journal()[mark:] if e["outcome"] == "dropped:timeout"]
        assert held["path"].endswith("/payment" if credits else "/invoice") and "operation=void" not in held["query"]
    with company.db.connect() as con:
        assert con.execute("SELECT count(*) FROM ledger_postings WHERE state = 'reverting'").fetchall()[0][0] >= 1

    if mode == "in_flight":
        report = company.revert(plan.plan_id, "revert-again")
    else:
        again = company.preview(run_id="run-2")
        assert len(again.steps) < len(plan.steps)
        report = company.revert(again.plan_id, "revert-again")
    assert sum(report.settled.values()) >= 1 and not report.failures, report
    assert_books_as_before(before, company.books())
    assert committed_undo_writes(company.journal()[mark:]) == +expected
    with company.db.connect() as con:
        assert con.execute("SELECT state, count(*) FROM ledger_postings GROUP BY ALL ORDER BY ALL").fetchall() == [
            ("posted", 1), ("reverted", 24 + credits + 5)]


def _revert_in_child(options: dict, database: str, plan_id: str) -> None:
    destination = QboDestination(**options)
    revert.execute_revert(Database(database), destination, plan_id, "revert-killed")


def _wait(company: Company, child, mark: int, mode: str, total: int, timeout: float = 60.0) -> None:
    """Until QuickBooks holds back a committed answer, or about half the undo writes are committed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.is_alive():
        journal = company.journal()[mark:]
        if mode == "in_flight" and any(e["outcome"] == "dropped:timeout" for e in journal):
            return
        if mode == "midway" and sum(committed_undo_writes(journal).values()) >= total // 2:
            return
        time.sleep(0.02)


# --- period revert, source filter, and posting again ----------------------------------------------------


def _store_servicetrade_invoice(company: Company, number: str, customer: tuple[str, str]) -> None:
    """A ServiceTrade invoice in the canonical tables, where that source's asset puts it."""
    key, name = customer
    document = AccountingDocument(
        doc_key=f"servicetrade:invoice:{number}", source="servicetrade", doc_type="invoice", source_id=number,
        doc_number=f"ST-{number}", txn_date=dt.date(2026, 9, 12), period=PERIOD, due_date=None,
        customer_key=key, customer_name=name, master_account="", site="", terms="", po_number="",
        subtotal=Decimal("95.00"), tax_total=Decimal("0.00"), total=Decimal("95.00"), currency="USD",
        memo=f"ServiceTrade invoice {number}", source_ref=f"servicetrade invoice {number}",
        lines=(DocumentLine(1, "ticket_labor", "LAB-TECH", "Service call", Decimal("1"), Decimal("95.00"),
                            Decimal("95.00"), False),),
    )
    with company.db.transaction() as con:
        document_store.replace_documents(con, source="servicetrade", doc_types=["invoice"], periods=[PERIOD],
                                         documents=[document])


def _store_sedona_payment(company: Company, number: str, *, invoice: str, customer: tuple[str, str],
                          amount: str) -> None:
    """A SedonaOffice payment as the SedonaAPI asset stores it."""
    key, name = customer
    document = sedona_api_sync.payment_document(
        {"PaymentId": 1, "PaymentNumber": number, "PaymentDate": dt.date(2026, 9, 20), "Amount": amount,
         "CustomerId": 7, "Applications": [{"InvoiceNumber": invoice, "Amount": amount}]},
        {"7": {"CustomerNumber": key, "CustomerName": name}}, PERIOD, "")
    with company.db.transaction() as con:
        document_store.replace_documents(con, source="sedona", doc_types=["payment"], periods=[PERIOD],
                                         documents=[document])


def test_period_revert_of_one_source_leaves_the_other_alone_and_released_documents_post_once(emulator, tmp_path):
    company = Company(emulator, tmp_path / "bridge")
    first, _ = _book(new_invoices=0, new_credits=0, updated=2)      # invoices 1001, 1002; credit 5000 on 1001
    company.receive("a.csv", first)
    _store_servicetrade_invoice(company, "77", CUSTOMERS[0])
    _store_sedona_payment(company, "900", invoice="1002", customer=CUSTOMERS[1], amount="100.00")
    assert company.post("run-1").outcomes == {"created": 5}
    books = company.books()
    assert len(books["Payment"]) == 2                 # the payment and the $0 one applying the credit

    plan = company.preview(period=PERIOD, source="sedona")
    assert [(s.action, s.doc_key) for s in plan.steps] == [
        ("delete", "sedona:payment:900"), ("delete", "sedona:credit_memo:5000"), ("void", "sedona:invoice:1001"),
        ("void", "sedona:invoice:1002")]
    assert company.revert(plan.plan_id, "revert-1").outcomes == {"reverted": 4}
    after = company.books()
    live = [o for o in after["Invoice"].values() if not is_voided(o)]
    assert [o["DocNumber"] for o in live] == ["ST-77"]                  # the ServiceTrade invoice is untouched
    assert live[0] == books["Invoice"][live[0]["Id"]]
    assert after["CreditMemo"] == {} and after["Payment"] == {}

    # A normal run sends nothing: the revert stands.
    requests = len(company.journal())
    assert company.post("night-1").outcomes == {}
    assert len(company.journal()) == requests

    # Released, the voided invoice and its credit are posted again exactly once (the voided invoice keeps its
    # number in QuickBooks; the new one is allowed beside it), and a rerun sends nothing.
    with company.db.transaction() as con:
        assert revert.release(con, "qbo", "release-1", docs=["1001", "5000"]) == [
            "sedona:credit_memo:5000", "sedona:invoice:1001"]
    report = company.post("night-2")
    assert report.outcomes == {"created": 2}, report.failures
    after = company.books()
    numbered = [o for o in after["Invoice"].values() if o["DocNumber"] == "1001"]
    assert sorted(is_voided(o) for o in numbered) == [False, True]
    [live_invoice] = [o for o in numbered if not is_voided(o)]
    [live_credit] = after["CreditMemo"].values()
    assert live_credit["DocNumber"] == "5000" and _d(live_credit["RemainingCredit"]) == 0   # applied to the new one
    assert _d(live_invoice["Balance"]) == _d(live_invoice["TotalAmt"]) - _d(live_credit["TotalAmt"])
    requests = len(company.journal())
    assert company.post("night-3").outcomes == {}
    assert len(company.journal()) == requests
    with company.db.connect() as con:
        states = dict(con.execute("SELECT doc_key, state FROM ledger_postings").fetchall())
    assert states == {"sedona:invoice:1001": "posted", "sedona:credit_memo:5000": "posted",
                      "sedona:invoice:1002": "reverted", "sedona:payment:900": "reverted",
                      "servicetrade:invoice:77": "posted"}


def test_an_undo_refused_because_the_books_are_closed_waits_and_runs_once_they_reopen(emulator, tmp_path):
    company = Company(emulator, tmp_path / "bridge")
    first, _ = _book(new_invoices=0, new_credits=0, updated=2)
    company.receive("a.csv", first)
    assert company.post("run-1").outcomes == {"created": 3}
    emulator.admin.set_book_close_date(company.realm_id, "2026-09-30")
    books = company.books()

    plan = company.preview(run_id="run-1")
    report = company.revert(plan.plan_id, "revert-1")
    assert report.outcomes == {"held": 3}
    assert all("closing date" in message and "reopened" in message for _, _, message in report.failures)
    assert company.books() == books
    with company.db.connect() as con:
        assert con.execute("SELECT DISTINCT state FROM ledger_postings").fetchall() == [("posted",)]

    emulator.admin.set_book_close_date(company.realm_id, None)
    again = company.preview(run_id="run-1")
    assert len(again.steps) == 3
    assert company.revert(again.plan_id, "revert-2").outcomes == {"reverted": 3}


def test_revert_job_confirmed_in_one_run_reverts_in_quickbooks_online(db, settings, tmp_path, monkeypatch):
    """The job with `confirm: true` and no plan ids previews and carries out the preview in the same run,
    through the destination built from the environment (QBO_* variables), as in production."""
    from bridge_assets.defs.resources import bridge_resources
    from bridge_assets.defs.revert import revert_job

    from .conftest import quickbooks

    with quickbooks(tmp_path, monkeypatch) as (qbo, realm):
        first, _ = _book(new_invoices=0, new_credits=0, updated=2)
        receive_and_map(db, settings, [write_export(settings.inbox / "a.csv", first)], [PERIOD], ("qbo",))
        with opened("qbo", settings) as destination:
            assert posting.execute_plan(db, destination, [PERIOD], "run-1").outcomes == {"created": 3}
        result = revert_job.execute_in_process(
            run_config={"ops": {"revert_preview": {"config": {"run_id": "run-1", "confirm": True}}}},
            resources=bridge_resources(settings.home))
        assert result.success
        invoices = qbo.admin.dump(realm, "Invoice")
        assert len(invoices) == 2 and all(is_voided(i) for i in invoices)
        assert qbo.admin.dump(realm, "CreditMemo") == [] and qbo.admin.dump(realm, "Payment") == []
        metadata = next(e.event_specific_data.metadata for e in result.all_events
                        if e.event_type_value == "STEP_OUTPUT" and e.step_key == "revert_execute")
        assert "'reverted': 3" in metadata["outcomes"].value


def test_an_undo_whose_answer_never_came_stays_reverting_until_the_command_runs_again(db, settings, tmp_path,
                                                                                   monkeypatch, capsys):
    """QuickBooks unavailable: the outcome is unknown, the rows stay `reverting` (a normal run leaves them
    alone), and `bridge revert` run again settles them even though its new preview has nothing to add."""
    from bridge_assets import cli

    from .conftest import quickbooks

    with quickbooks(tmp_path, monkeypatch) as (qbo, realm):
        monkeypatch.setenv("BRIDGE_HOME", str(settings.home))
        monkeypatch.setenv("QBO_MAX_TRIES", "1")
        first, _ = _book(new_invoices=0, new_credits=0, updated=2)
        receive_and_map(db, settings, [write_export(settings.inbox / "a.csv", first)], [PERIOD])
        with db.transaction() as con:
            planning.plan_periods(con, "qbo", [PERIOD])
        assert cli.main(["revert", "--run", "nope", "--yes"]) == 2          # the ledger knows no such run
        with opened("qbo", settings) as destination:
            assert posting.execute_plan(db, destination, [PERIOD], "run-1").outcomes == {"created": 3}

        qbo.admin.set_faults(realm, error_rate=1.0, error_statuses=[503])
        assert cli.main(["revert", "--run", "run-1", "--yes"]) == 1
        assert "unavailable" in capsys.readouterr().out
        with db.connect() as con:
            assert con.execute("SELECT DISTINCT state FROM ledger_postings").fetchall() == [("reverting",)]
        with db.transaction() as con:
            planning.plan_periods(con, "qbo", [PERIOD])
            assert {r[0] for r in con.execute("SELECT action FROM posting_plan").fetchall()} == {"skip"}

        qbo.admin.clear_faults(realm)
        assert cli.main(["revert", "--run", "run-1", "--yes"]) == 0
        out = capsys.readouterr().out
        assert "3 document(s) an interrupted revert left unfinished are settled" in out
        assert "qbo: 3 settled (left by an interrupted revert): 3 reverted" in out
        with db.connect() as con:
            assert con.execute("SELECT DISTINCT state FROM ledger_postings").fetchall() == [("reverted",)]
        assert all(is_voided(i) for i in qbo.admin.dump(realm, "Invoice"))
        assert qbo.admin.dump(realm, "CreditMemo") == []
