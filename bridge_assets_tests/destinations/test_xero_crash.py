"""Kill -9 while posting a period into the Xero emulator, then run again (the shared harness,
crash_trials.py): every document in Xero exactly once and the ledger agreeing. And a run through
one request in ten failing (429, 500, 503) or losing its answer after the write: the same."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping

import pytest

from bridge_assets.sandbox.xero import EmulatorSettings, SpawnedEmulator, spawn_emulator

from .crash_trials import CrashTarget, Trial, crash_forkserver, make_template, post_once, run_crash_trials

CLIENT_ID, CLIENT_SECRET = "bridge-crash-client", "crash-secret-2f9a"
TIME_SCALE = 300         # an answer held back (120 s in Xero's time) is lost after 0.4 s


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[SpawnedEmulator]:
    settings = EmulatorSettings(time_scale=TIME_SCALE, clients={CLIENT_ID: CLIENT_SECRET}, request_timeout_s=120)
    with spawn_emulator(tmp_path_factory.mktemp("xero") / "xero.sqlite3", settings) as handle:
        yield handle


def xero_target(emulator: SpawnedEmulator) -> CrashTarget:
    admin = emulator.admin

    def fresh_books(folder: Path) -> dict[str, str]:
        tenant = admin.create_organisation(name=f"Crash trial {folder.name}")
        return {"XERO_BASE_URL": emulator.api_url, "XERO_TOKEN_URL": emulator.token_url, "XERO_TENANT_ID": tenant,
                "XERO_CLIENT_ID": CLIENT_ID, "XERO_CLIENT_SECRET": CLIENT_SECRET, "XERO_TIME_SCALE": str(TIME_SCALE),
                "XERO_TIMEOUT_SECONDS": "10", "XERO_TOKEN_STORE": str(folder / "xero_tokens.json"),
                "XERO_REFRESH_TOKEN": admin.mint_tokens(tenant, CLIENT_ID)["refresh_token"]}

    def held(env: Mapping[str, str]):
        tenant = env["XERO_TENANT_ID"]
        return ([("invoice", i["InvoiceNumber"], i["InvoiceID"]) for i in admin.dump(tenant, "Invoices")]
                + [("credit_memo", c["CreditNoteNumber"], c["CreditNoteID"]) for c in admin.dump(tenant, "CreditNotes")])

    return CrashTarget(
        name="xero", fresh_books=fresh_books, held=held,
        hold_next_answer=lambda env: admin.set_faults(env["XERO_TENANT_ID"], drop_next_writes=1, drop_mode="timeout",
                                                      drop_entities=["Invoice"]),
        answer_held=lambda env: any(e["outcome"] == "dropped:timeout" for e in admin.journal(env["XERO_TENANT_ID"])),
        clear_faults=lambda env: admin.clear_faults(env["XERO_TENANT_ID"]),
    )


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("xero-template"))


def test_twenty_kills_while_posting_into_xero_leave_every_document_there_exactly_once(emulator, template, tmp_path):
    figures = run_crash_trials(xero_target(emulator), crash_forkserver("bridge_assets.destinations.xero.adapter"),
                               template, tmp_path, trials=20)
    assert figures.trials == 20
    assert figures.killed_while_answer_held >= 3           # trials 1, 4, 7... hold an invoice's answer back
    assert figures.killed_mid_run >= 10 and figures.left_unknown >= 1, figures


def test_one_request_in_ten_failing_or_losing_its_answer_still_posts_every_document_once(emulator, template,
                                                                                          tmp_path):
    target = xero_target(emulator)
    trial = Trial(target, tmp_path / "faulty", template)
    tenant = trial.env["XERO_TENANT_ID"]
    emulator.admin.set_faults(tenant, error_rate=0.1, error_statuses=[429, 500, 503], drop_rate=0.1,
                              drop_mode="reset", seed=7)
    runs = 0
    while True:
        report = post_once("xero", trial.env, str(trial.home), f"faulty-{runs}")
        runs += 1
        if not report.outcomes.get("retry") and not report.failures or runs == 5:
            break
    injected = [j for j in emulator.admin.journal(tenant) if j["outcome"] in ("injected",) or
                j["outcome"].startswith("dropped")]
    emulator.admin.clear_faults(tenant)
    assert injected, "the fault plan injected nothing"
    trial.check_exactly_once()
    assert post_once("xero", trial.env, str(trial.home), "after").outcomes == {}
