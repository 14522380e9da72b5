"""SIGKILL trials (crash_trials.py) for FreshBooks, Zoho Books, Sage, FreeAgent and MYOB: ten kills each while
posting a period (invoices, taxed lines, credits applied), every document exactly once in the books and the
ledger agreeing.

Each emulator runs in this process (a thread); the posting runs are children of a warmed forkserver, so a
kill never touches the emulator. Every trial gets a fresh tenant on it (a new account, organization,
business, company or company file) and a token store that already holds a live access token: the trials kill
the posting, not the first refresh (crash_trials.store_live_tokens says why; QuickBooks' crash test avoids
the window with daily rotation). A third of the kills land at the worst moment: the emulator committed an
invoice (or, for MYOB, a sale) and holds its answer back until the killed child has gone; the others at
random moments of the run.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Callable, Iterator, Mapping

import pytest

from bridge_assets.sandbox import freeagent, freshbooks, myob, sage, zoho_books

from .crash_trials import CrashTarget, crash_forkserver, make_template, run_crash_trials, store_live_tokens

TRIALS = 10


@pytest.fixture(scope="module")
def forkserver():
    return crash_forkserver()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("template"))


def _fresh_books(handle, prefix: str) -> Callable[[Path], dict[str, str]]:
    """A new tenant on the running emulator and a token store holding its live access token."""
    def fresh(folder: Path) -> dict[str, str]:
        tenant = f"{prefix}{uuid.uuid4().hex[:12]}"
        tokens = handle.admin.mint_tokens(tenant=tenant)
        store_live_tokens(folder / "tokens.json", tokens)
        return {**handle.client_environment(tokens["refresh_token"], folder / "tokens.json", tenant=tenant),
                "_TENANT": tenant}
    return fresh


def _freshbooks_held(handle) -> Callable[[Mapping[str, str]], list]:
    def held(env):
        tenant = env["_TENANT"]
        return ([("invoice", d["invoice_number"], str(d["id"])) for d in handle.admin.documents("invoice", tenant)
                 if d["vis_state"] == 0]
                + [("credit_memo", d["credit_number"], str(d["id"])) for d in handle.admin.documents("credit_note", tenant)
                   if d["vis_state"] == 0 and d["credit_type"] != "overpayment"])
    return held


def _zoho_held(handle):
    def held(env):
        tenant = env["_TENANT"]
        return ([("invoice", d["invoice_number"], d["invoice_id"]) for d in handle.admin.documents("invoice", tenant)
                 if d["status"] != "void"]
                + [("credit_memo", d["creditnote_number"], d["creditnote_id"])
                   for d in handle.admin.documents("creditnote", tenant) if d["status"] != "void"])
    return held


def _sage_held(handle):
    def held(env):
        tenant = env["_TENANT"]
        return ([("invoice", d["reference"], d["id"]) for d in handle.admin.documents("sales_invoices", tenant)]
                + [("credit_memo", d["reference"], d["id"]) for d in handle.admin.documents("sales_credit_notes", tenant)])
    return held


def _freeagent_held(handle):
    def held(env):
        tenant = env["_TENANT"]
        return ([("invoice", d["reference"], d["url"].rsplit("/", 1)[1]) for d in handle.admin.documents("invoices", tenant)]
                + [("credit_memo", d["reference"], d["url"].rsplit("/", 1)[1])
                   for d in handle.admin.documents("credit_notes", tenant)])
    return held


def _myob_held(handle):
    def held(env):
        sales = handle.admin.documents("invoices", env["_TENANT"])
        return [("credit_memo" if float(d["TotalAmount"]) < 0 else "invoice", d["Number"], d["UID"]) for d in sales
                if not (d.get("JournalMemo") or "").startswith("[bridge] reverses")]
    return held


# name -> (emulator kind, settings, tenant prefix, held, the path segment of an invoice write)
PLATFORMS = {
    "freshbooks": (freshbooks, freshbooks.EmulatorSettings(time_scale=60), "fb", _freshbooks_held, "invoices"),
    "zoho_books": (zoho_books, zoho_books.EmulatorSettings(time_scale=60), "6001", _zoho_held, "invoices"),
    # Sage's access tokens live five minutes: a tenth of the usual fast clock keeps one alive for a run
    "sage": (sage, sage.EmulatorSettings(time_scale=10), "5a", _sage_held, "sales_invoices"),
    "freeagent": (freeagent, freeagent.EmulatorSettings(time_scale=60), "co", _freeagent_held, "invoices"),
    # the template's taxed labour line (9.52 on 127.50) needs a tax code of that rate in the MYOB file
    "myob": (myob, myob.EmulatorSettings(time_scale=60, tax_codes={"GST": "10", "FRE": "0", "ST": "7.467"}), "cf",
             _myob_held, "Invoice"),
}


@contextlib.contextmanager
def _target(name: str, folder: Path) -> Iterator[CrashTarget]:
    package, settings, prefix, held, invoices = PLATFORMS[name]
    with package.run_emulator(folder / f"{name}.sqlite3", settings) as handle:
        admin = handle.admin
        yield CrashTarget(
            name=name, fresh_books=_fresh_books(handle, prefix), held=held(handle),
            hold_next_answer=lambda env: admin.set_faults(drop_next_writes=1, drop_entities=[invoices]),
            answer_held=lambda env: any(row["outcome"] == "dropped:timeout" and row["book"] == env["_TENANT"]
                                        for row in admin.journal()),
            clear_faults=lambda env: admin.clear_faults())


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_ten_kills_while_posting_leave_every_document_exactly_once(name, forkserver, template, tmp_path: Path):
    with _target(name, tmp_path) as target:
        figures = run_crash_trials(target, forkserver, template, tmp_path, trials=TRIALS)
    assert figures.trials == TRIALS
    assert figures.killed_while_answer_held >= 2                  # trials 1, 4 and 7 hold an invoice's answer
    assert figures.killed_mid_run >= TRIALS // 2, figures
