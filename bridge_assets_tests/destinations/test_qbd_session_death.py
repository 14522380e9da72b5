"""QuickBooks Desktop through the Web Connector when the Web Connector's session dies mid-way: 20 trials in
which the session stops at a random message set, either right after the set was handed out (QuickBooks
never saw it) or after QuickBooks applied it and before its answer came back; then a second run. Every
document is in the company exactly once, each credit applied to its invoice once, and the ledger agrees
(the shared crash harness's check). Plus the harness's SIGKILL trials of the bridge's own run.

Each trial has books of its own: a fresh company file, Web Connector and service (threads, milliseconds)."""

from __future__ import annotations

import collections
import contextlib
import random
import time
from pathlib import Path
from typing import Iterator, Mapping

import pytest

from bridge_assets.destinations.base import DestinationError

from .crash_trials import CrashTarget, Trial, crash_forkserver, make_template, run_crash_trials
from .qbd_loopback import quickbooks_desktop

TRIALS = 20
# A dead session is noticed when the Web Connector's next scheduled run starts a new one (every 20 ms here);
# the answer time-out only covers a Web Connector that never comes back.
FAST = {"QBD_WC_WAIT_SECONDS": "15", "QBD_WC_ANSWER_SECONDS": "10", "QBD_WC_LINGER_SECONDS": "0.1"}


class Companies:
    """Every company stood up in this module, by its queue (the environment names it)."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.stack, self.by_queue = stack, {}

    def fresh(self, folder: Path) -> dict[str, str]:
        qbd = self.stack.enter_context(quickbooks_desktop(folder / "qbd", **FAST))
        self.by_queue[qbd.environment["QBD_WC_QUEUE"]] = qbd
        return dict(qbd.environment)

    def admin(self, env: Mapping[str, str]):
        return self.by_queue[env["QBD_WC_QUEUE"]].admin


@pytest.fixture(scope="module")
def companies() -> Iterator[Companies]:
    with contextlib.ExitStack() as stack:
        yield Companies(stack)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("template"), invoices=6, credits=2)


def desktop_target(companies: Companies) -> CrashTarget:
    def held(env: Mapping[str, str]):
        admin = companies.admin(env)
        return ([("invoice", t["ref_number"], t["txn_id"]) for t in admin.transactions("Invoice") if not t["voided"]]
                + [("credit_memo", t["ref_number"], t["txn_id"]) for t in admin.transactions("CreditMemo")])

    return CrashTarget(
        name="qbd_webconnector", fresh_books=companies.fresh, held=held,
        hold_next_answer=lambda env: companies.admin(env).drop_session("applied", [1]),
        answer_held=lambda env: companies.admin(env).health()["sessions_dropped"] > 0,
        clear_faults=lambda env: companies.admin(env).clear_drop(),
    )


def _credits_applied_once(admin, credits) -> None:
    applications = collections.Counter(a["credit"] for p in admin.transactions("ReceivePayment")
                                       for a in p["applied"] if a["credit"])
    memos = {t["txn_id"] for t in admin.transactions("CreditMemo")}
    assert set(applications) == memos and len(memos) == len(credits)
    assert all(n == 1 for n in applications.values()), applications


def test_twenty_dying_web_connector_sessions_leave_every_document_exactly_once(companies, template, tmp_path):
    target, rng = desktop_target(companies), random.Random(20261205)
    died = {"handed_out": 0, "applied": 0}
    unknown_settled = 0
    started = time.monotonic()
    for index in range(TRIALS):
        trial = Trial(target, tmp_path / f"trial-{index:02d}", template)
        admin = companies.admin(trial.env)
        when = ("handed_out", "applied")[index % 2]
        admin.drop_session(when, [rng.randint(1, 8)])
        try:
            trial.rerun(f"dies-{index}")
        except DestinationError as lost:          # the session died while the closing date was read
            assert "Web Connector" in str(lost)
        dropped = admin.health()["sessions_dropped"]
        died[when] += dropped
        admin.clear_drop()
        second = trial.rerun(f"after-{index}")
        assert not [f for f in second.failures if f[1] not in ("superseded",)], second.failures
        unknown_settled += bool(second.resolved)
        trial.check_exactly_once()
        _credits_applied_once(admin, template.credits)
        if index % 4 == 0:
            assert trial.rerun(f"again-{index}").outcomes == {}        # and a third run sends nothing
    print(f"\n{TRIALS} trials in {time.monotonic() - started:.1f} s; sessions died {died}; "
          f"second runs that settled documents left in doubt: {unknown_settled}")
    assert died["handed_out"] >= 7 and died["applied"] >= 7
    assert unknown_settled >= 5


def test_the_harness_kills_bridge_runs_posting_to_quickbooks_desktop(companies, tmp_path):
    template = make_template(tmp_path / "template", invoices=6, credits=2)
    figures = run_crash_trials(desktop_target(companies), crash_forkserver(), template, tmp_path, trials=4)
    assert figures.trials == 4 and figures.killed_while_answer_held >= 1, figures
