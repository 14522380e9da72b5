"""SIGKILL trials for any registered destination: kill a posting run at random moments (and, where the
emulator can, right after the platform committed a write and before its answer arrived), run again, and
check that the books hold every document exactly once and that the ledger agrees.

A platform's crash test is a few lines (see test_crash_trials_harness.py for QuickBooks Online):

    TARGET = CrashTarget(
        name="xero",                                  # its REGISTRY name
        fresh_books=lambda folder: {...},             # a new, empty tenant on the running emulator: the
                                                      # environment its adapter's from_env reads
        held=lambda env: [("invoice", "1001", "id-7"), ...],   # what those books hold, read on the
                                                      # emulator's admin side (never through the adapter)
        hold_next_answer=lambda env: ...,             # optional: commit the next write, hold its answer back
        answer_held=lambda env: bool,                 # optional: has the emulator done so yet
    )

    def test_xero_survives_kill_minus_nine(xero_target, crash_forkserver, crash_template, tmp_path):
        figures = run_crash_trials(xero_target, crash_forkserver, crash_template, tmp_path, trials=10)
        assert figures.killed_mid_run >= 5

Each trial copies a template bridge database (one period mapped: invoices over six customers, with
tax, and credits applied to invoices), builds the destination from the registry exactly as a bridge
run does (`registry.opened` with the settings and the environment above), plans and posts in a child
process started from a warmed forkserver (milliseconds, not seconds, per trial), kills it, then plans
and posts again in this process. A document the destination cannot take (its Capabilities) is planned
`by_hand` and is expected in the ledger so, and never in the books.
"""

from __future__ import annotations

import collections
import dataclasses
import random
import shutil
import time
from pathlib import Path
from typing import Callable, Mapping

from bridge_assets.destinations.registry import opened
from bridge_assets.ledger import plan as planning
from bridge_assets.ledger import posting
from bridge_assets.ledger import store as ledger
from bridge_assets.runtime.environment import temporary_environment
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.runtime.storage import Database

from ..conftest import line, receive_and_map, warm_forkserver, write_export

PERIOD = "2026-09"
CUSTOMERS = [("C01", "O'Brien & Sons, J"), ("C02", "Jones, K"), ("C03", "Acme: North"), ("C04", "Lee, A"),
             ("C05", "Garcia, M"), ("C06", "D'Angelo, P")]

Held = list[tuple[str, str, "str | None"]]        # (doc_type, doc_number, the platform's id or None)


@dataclasses.dataclass(frozen=True)
class CrashTarget:
    name: str
    fresh_books: Callable[[Path], dict[str, str]]
    held: Callable[[Mapping[str, str]], Held]
    hold_next_answer: Callable[[Mapping[str, str]], None] | None = None
    answer_held: Callable[[Mapping[str, str]], bool] | None = None
    clear_faults: Callable[[Mapping[str, str]], None] = lambda env: None
    # (kind, our key) of every reference record the books hold (a customer, an item), where the target can
    # list them: a kill between creating one and recording it must not make a second one on the re-run
    references: Callable[[Mapping[str, str]], list[tuple[str, str]]] | None = None


@dataclasses.dataclass(frozen=True)
class CrashTemplate:
    database: Path
    invoices: frozenset[str]
    credits: frozenset[str]


@dataclasses.dataclass
class TrialFigures:
    trials: int = 0
    killed_mid_run: int = 0          # the child was still posting when killed
    left_unknown: int = 0            # the kill left rows `sending`, settled by the re-run before anything else
    killed_while_answer_held: int = 0
    baseline_seconds: float = 0.0


def store_live_tokens(path: Path, tokens: Mapping[str, object]) -> None:
    """Put in the token store at `path` a live access token beside its refresh token, exactly as the client
    stores them after a refresh of its own (`kit.oauth`: its clock plus the platform's `expires_in`), seeded
    from that refresh token, so the run starts posting instead of refreshing.

    A kill between a platform rotating a refresh token and the store saving its successor loses the
    connection: a platform with no grace period answers the old value `invalid_grant`, and the re-run says
    "reconnect". No client can close that window (the successor exists only in the lost answer), so the trials
    kill the posting, not a refresh. The expiry is not converted to the emulator's fast clock: the client
    refreshes `expiry_leeway_s` (two minutes) before a token's end, so a token stored with its wall-clock life
    (twelve seconds for Wave's two hours at 600x) looked spent already, and every trial run began with the very
    refresh this avoids (CI met the lost rotation in MYOB's, Wave's and Reckon One's trials). The emulator
    still ends the token on its own clock; a run that outlives it is answered 401 and refreshes then, as in
    production."""
    from bridge_assets.destinations.kit.oauth import Tokens, TokenStore, fingerprint

    store = TokenStore(path)
    with store.locked():
        store.save(Tokens(refresh_token=str(tokens["refresh_token"]), access_token=str(tokens["access_token"]),
                          access_expires_at=time.time() + float(tokens["expires_in"]),
                          seed_fingerprint=fingerprint(str(tokens["refresh_token"])), updated_at=time.time()))


def book_rows(invoices: int, credits: int, customers=CUSTOMERS) -> tuple[list[list[str]], set[str], set[str]]:
    """Export rows of one period: invoices over six customers (every third a taxed labour line, the others
    two lines), and credits applied to the first invoices."""
    rows, invoice_numbers, credit_numbers = [], set(), set()
    for n in range(1, invoices + 1):
        key, name = customers[n % len(customers)]
        number = f"{1000 + n}"
        invoice_numbers.add(number)
        if n % 3 == 0:
            rows.append(line(number=number, customer=key, name=name, item="LAB-TECH", qty="1.5", rate="85",
                             amount="127.50", total="137.02", taxable="Y", tax="9.52", start="", end="", cycle=""))
        else:
            rows.append(line(number=number, customer=key, name=name, rate="29.95", amount="29.95", total="59.90"))
            rows.append(line(number=number, customer=key, name=name, item="PRT-SENSOR", description="Sensor",
                             rate="29.95", amount="29.95", total="59.90", start="", end="", cycle=""))
    for n in range(1, credits + 1):
        key, name = customers[n % len(customers)]
        number = f"{5000 + n}"
        credit_numbers.add(number)
        rows.append(line(number=number, doc_type="Credit", applies=f"{1000 + n}", customer=key, name=name,
                         rate="20.00", amount="20.00", total="20.00"))
    return rows, invoice_numbers, credit_numbers


def make_template(folder: Path, invoices: int = 9, credits: int = 3) -> CrashTemplate:
    """A bridge database with the period's documents mapped, ready to plan (copied for every trial)."""
    settings = BridgeSettings.from_env(folder)
    settings.folders.create()
    rows, invoice_numbers, credit_numbers = book_rows(invoices, credits)
    export = write_export(settings.inbox / "sept.csv", rows)
    db = Database(settings.database_path)
    received, refused = receive_and_map(db, settings, [export], [PERIOD])
    assert received and not refused
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM rejected_documents").fetchall()[0][0] == 0
        con.execute("CHECKPOINT")   # the file alone (no WAL) is copied for every trial
    return CrashTemplate(settings.database_path, frozenset(invoice_numbers), frozenset(credit_numbers))


def crash_forkserver(*modules: str):
    """A forkserver with the bridge's posting path (and a platform's own modules) imported once."""
    return warm_forkserver("bridge_assets.ledger.posting", "bridge_assets.destinations.registry", __name__, *modules)


def post_once(name: str, env: Mapping[str, str], home: str, run_id: str) -> posting.PostingReport:
    """What a bridge run does for one destination: plan the period knowing the destination, then post."""
    with temporary_environment({**env, "BRIDGE_DESTINATIONS": name}):
        settings = BridgeSettings.from_env(home)
        db = Database(settings.database_path)
        with opened(name, settings) as destination:
            with db.transaction() as con:
                planning.plan_periods(con, destination, [PERIOD], closed_through=destination.book_close_date())
            return posting.execute_plan(db, destination, [PERIOD], run_id)


def _child_run(name: str, env: dict, home: str, run_id: str) -> None:
    post_once(name, env, home, run_id)


class Trial:
    """One bridge home (a copy of the template database) posting into one fresh set of books."""

    def __init__(self, target: CrashTarget, folder: Path, template: CrashTemplate) -> None:
        self.target = target
        self.home = folder
        folder.mkdir(parents=True)
        shutil.copyfile(template.database, folder / "bridge.duckdb")
        self.db = Database(folder / "bridge.duckdb")
        self.env = dict(target.fresh_books(folder))
        self.template = template

    def start(self, forkserver, run_id: str):
        child = forkserver.Process(target=_child_run, args=(self.target.name, self.env, str(self.home), run_id),
                                   daemon=True)
        child.start()
        return child

    def rerun(self, run_id: str) -> posting.PostingReport:
        return post_once(self.target.name, self.env, str(self.home), run_id)

    def ledger_rows(self) -> list[tuple]:
        with self.db.connect() as con:
            return con.execute("SELECT doc_type, doc_number, state, dest_id, last_error_code FROM ledger_postings "
                               "WHERE destination = ?", [self.target.name]).fetchall()

    def check_exactly_once(self) -> None:
        """The books hold each document the destination can take exactly once; the ledger says so too,
        with the books' own ids; what it cannot take is left to a person in the ledger and absent from the books."""
        held = self.target.held(self.env)
        counts = collections.Counter((doc_type, number) for doc_type, number, _ in held)
        twice = sorted(key for key, n in counts.items() if n > 1)
        assert not twice, f"{self.target.name}: documents held more than once: {twice}"
        rows = self.ledger_rows()
        by_hand = {(t, n) for t, n, state, _, code in rows if state == "failed" and code in ledger.NEEDS_A_PERSON}
        expected = {("invoice", n) for n in self.template.invoices} | {("credit_memo", n) for n in self.template.credits}
        expected -= by_hand
        assert set(counts) == expected, (f"{self.target.name}: missing {sorted(expected - set(counts))}, "
                                         f"unexpected {sorted(set(counts) - expected)}")
        ids = {(t, n): dest_id for t, n, dest_id in held}
        for doc_type, number, state, dest_id, code in rows:
            if (doc_type, number) in by_hand:
                continue
            assert state == "posted", (self.target.name, doc_type, number, state, code)
            if ids.get((doc_type, number)) is not None:
                assert dest_id == ids[(doc_type, number)], (doc_type, number, dest_id, ids[(doc_type, number)])
        assert {(t, n) for t, n, *_ in rows} >= expected
        if self.target.references is not None:
            made = collections.Counter(self.target.references(self.env))
            assert not [key for key, n in made.items() if n > 1], \
                f"{self.target.name}: reference records made more than once: {sorted(k for k, n in made.items() if n > 1)}"


def _wait_for_held_answer(target: CrashTarget, env: Mapping[str, str], child, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.is_alive():
        if target.answer_held(env):
            return True
        time.sleep(0.02)
    return False


def run_crash_trials(target: CrashTarget, forkserver, template: CrashTemplate, folder: Path, *, trials: int = 10,
                     seed: int = 20260901) -> TrialFigures:
    """`trials` kills and re-runs (a third with an answer held back, where the target can), each checked
    exactly once; every third re-run is followed by one more that must send nothing."""
    rng = random.Random(seed)
    figures = TrialFigures()
    baseline = Trial(target, folder / "baseline", template)       # how long a run left alone takes
    started = time.monotonic()
    child = baseline.start(forkserver, "baseline")
    child.join(timeout=120)
    figures.baseline_seconds = time.monotonic() - started
    assert child.exitcode == 0, f"{target.name}: a posting run left alone exited with {child.exitcode}"
    baseline.check_exactly_once()

    can_hold = target.hold_next_answer is not None and target.answer_held is not None
    for index in range(trials):
        trial = Trial(target, folder / f"trial-{index:02d}", template)
        in_flight = can_hold and index % 3 == 1
        if in_flight:
            target.hold_next_answer(trial.env)
        child = trial.start(forkserver, f"crash-{index}")
        if in_flight:
            figures.killed_while_answer_held += _wait_for_held_answer(target, trial.env, child)
        else:
            time.sleep(rng.uniform(0.0, figures.baseline_seconds))
        figures.killed_mid_run += child.is_alive()
        child.kill()
        child.join(timeout=10)
        target.clear_faults(trial.env)

        report = trial.rerun(f"rerun-{index}")
        unexpected = [f for f in report.failures if f[1] not in ledger.NEEDS_A_PERSON]
        assert not unexpected, f"{target.name}: the re-run after a kill failed: {unexpected}"
        figures.left_unknown += bool(report.resolved)
        trial.check_exactly_once()
        if index % 3 == 0:
            assert trial.rerun(f"again-{index}").outcomes == {}, f"{target.name}: a third run sent something"
            trial.check_exactly_once()
        figures.trials += 1
    return figures
