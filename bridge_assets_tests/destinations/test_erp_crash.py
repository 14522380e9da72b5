"""Kill -9 while posting a period into each ERP (Odoo, Business Central, NetSuite, SAP Business One, Oracle Fusion
Receivables), then run again: every document exactly once (the shared
harness, crash_trials.py). Each emulator runs as its own process; each trial starts from empty books (the
emulator's reset: one company each), and a third of the trials kill the run while the emulator holds back
the answer of a write it has committed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Iterator, Mapping

import pytest

from bridge_assets.sandbox.business_central import EmulatorSettings as BcSettings
from bridge_assets.sandbox.business_central import spawn_emulator as spawn_bc
from bridge_assets.sandbox.netsuite import EmulatorSettings as NsSettings
from bridge_assets.sandbox.netsuite import spawn_emulator as spawn_ns
from bridge_assets.sandbox.odoo import EmulatorSettings as OdooSettings
from bridge_assets.sandbox.odoo import spawn_emulator as spawn_odoo
from bridge_assets.sandbox.oracle_fusion_receivables import EmulatorSettings as ArSettings
from bridge_assets.sandbox.oracle_fusion_receivables import spawn_emulator as spawn_ar
from bridge_assets.sandbox.sap_business_one import EmulatorSettings as B1Settings
from bridge_assets.sandbox.sap_business_one import spawn_emulator as spawn_b1

from .crash_trials import CUSTOMERS, CrashTarget, crash_forkserver, make_template, run_crash_trials

TRIALS = 10


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="module")
def forkserver():
    return crash_forkserver("bridge_assets.destinations.odoo.adapter", "bridge_assets.destinations.business_central.adapter",
                            "bridge_assets.destinations.netsuite.adapter",
                            "bridge_assets.destinations.sap_business_one.adapter",
                            "bridge_assets.destinations.oracle_fusion_receivables.adapter")


def _held_back(journal) -> bool:
    return any(str(e["outcome"]).startswith("dropped:timeout") for e in journal)


def _target(name: str, emulator, fresh_books, held, drop_entity: str) -> CrashTarget:
    """The trials' target on an ERP emulator: the held-back answer is that of the next write to `drop_entity`."""
    admin = emulator.admin
    return CrashTarget(name, fresh_books, held,
                       hold_next_answer=lambda env: admin.set_faults(drop_next_writes=1, drop_mode="timeout",
                                                                     drop_entities=[drop_entity]),
                       answer_held=lambda env: _held_back(admin.journal()), clear_faults=lambda env: admin.clear_faults())


def _live(emulator, kinds: tuple[str, str], number: str, key: str, live: Callable[[dict], bool]):
    """What the books hold: (doc_type, our number, id) of every live invoice (kinds[0]) and credit memo (kinds[1])."""
    return lambda env: [(doc_type, r[number], str(r[key]))
                        for doc_type, kind in zip(("invoice", "credit_memo"), kinds)
                        for r in emulator.admin.records(kind) if live(r)]


def odoo_target(odoo) -> CrashTarget:
    login, user = next(iter(odoo.settings.users.items()))

    def fresh_books(folder: Path) -> dict[str, str]:
        odoo.admin.reset()
        return {"ODOO_URL": odoo.base_url, "ODOO_DATABASE": odoo.database, "ODOO_USERNAME": login,
                "ODOO_API_KEY": user["password"], "ODOO_TIMEOUT_SECONDS": "10"}

    def held(env: Mapping[str, str]):
        kinds = {"out_invoice": "invoice", "out_refund": "credit_memo"}
        return [(kinds[m["move_type"]], m["ref"], str(m["id"])) for m in odoo.admin.records("account.move")
                if m["state"] == "posted" and m["payment_state"] != "reversed" and not m["reversed_entry_id"]]

    def references(env: Mapping[str, str]) -> list[tuple[str, str]]:
        return ([("contact", p["ref"]) for p in odoo.admin.records("res.partner") if p.get("ref")]
                + [("product", p["default_code"]) for p in odoo.admin.records("product.product") if p.get("default_code")])

    return dataclasses.replace(_target("odoo", odoo, fresh_books, held, "account.move.action_post"), references=references)


def business_central_target(bc) -> CrashTarget:
    client_id, secret = next(iter(bc.settings.clients.items()))

    def fresh_books(folder: Path) -> dict[str, str]:
        bc.admin.reset()
        s = bc.settings
        return {"BC_API_URL": bc.base_url, "BC_TOKEN_URL": bc.token_url, "BC_TENANT": s.tenant,
                "BC_ENVIRONMENT": s.environment, "BC_COMPANY": s.company, "BC_CLIENT_ID": client_id,
                "BC_CLIENT_SECRET": secret, "BC_TIME_SCALE": "60"}

    held = _live(bc, ("salesInvoices", "salesCreditMemos"), "externalDocumentNumber", "id",
                 lambda r: r["status"] in ("Open", "Paid"))
    return _target("business_central", bc, fresh_books, held, "$batch")


def netsuite_target(ns) -> CrashTarget:
    client_id, secret = next(iter(ns.settings.clients.items()))

    def fresh_books(folder: Path) -> dict[str, str]:
        ns.admin.reset()
        return {"NETSUITE_ACCOUNT": ns.settings.account, "NETSUITE_BASE_URL": ns.base_url,
                "NETSUITE_TOKEN_URL": ns.token_url, "NETSUITE_CLIENT_ID": client_id, "NETSUITE_CLIENT_SECRET": secret,
                "NETSUITE_REFRESH_TOKEN": ns.admin.mint_tokens(client_id)["refresh_token"],
                "NETSUITE_TOKEN_STORE": str(folder / "netsuite_tokens.json"), "NETSUITE_TIME_SCALE": "60"}

    held = _live(ns, ("invoice", "creditMemo"), "tranId", "id",
                 lambda r: not str(r.get("externalId") or "").startswith("void-"))
    return _target("netsuite", ns, fresh_books, held, "invoice")


def sap_business_one_target(b1) -> CrashTarget:
    user, password = next(iter(b1.settings.users.items()))

    def fresh_books(folder: Path) -> dict[str, str]:
        b1.admin.reset()
        return {"SAPB1_URL": b1.service_url, "SAPB1_COMPANY_DB": b1.settings.company_db, "SAPB1_USERNAME": user,
                "SAPB1_PASSWORD": password}

    held = _live(b1, ("Invoices", "CreditNotes"), "NumAtCard", "DocEntry",
                 lambda r: r["Cancelled"] == "tNO" and r["CancelStatus"] == "csNo")
    return _target("sap_business_one", b1, fresh_books, held, "Invoices")


def oracle_target(ar) -> CrashTarget:
    user, values = next(iter(ar.settings.users.items()))

    def fresh_books(folder: Path) -> dict[str, str]:
        ar.admin.reset()
        ar.admin.add_customers(CUSTOMERS)          # accounts a person made in Oracle beforehand
        return {"ORACLE_URL": ar.base_url, "ORACLE_USERNAME": user, "ORACLE_PASSWORD": values["password"],
                "ORACLE_BUSINESS_UNIT": ar.settings.business_unit}

    held = _live(ar, ("receivablesInvoices", "receivablesCreditMemos"), "TransactionNumber", "CustomerTransactionId",
                 lambda r: r["InvoiceStatus"] == "Complete")
    return _target("oracle_fusion_receivables", ar, fresh_books, held, "receivablesInvoices")


def _spawned(spawn, state_path: Path, settings) -> Iterator:
    with spawn(state_path, settings) as handle:
        yield handle


@pytest.fixture
def odoo(tmp_path: Path) -> Iterator:
    yield from _spawned(spawn_odoo, tmp_path / "odoo.sqlite3", OdooSettings(time_scale=60))


@pytest.fixture
def business_central(tmp_path: Path) -> Iterator:
    yield from _spawned(spawn_bc, tmp_path / "bc.sqlite3", BcSettings(time_scale=60))


@pytest.fixture
def netsuite(tmp_path: Path) -> Iterator:
    yield from _spawned(spawn_ns, tmp_path / "ns.sqlite3", NsSettings(time_scale=60))


@pytest.fixture
def sap_business_one(tmp_path: Path) -> Iterator:
    yield from _spawned(spawn_b1, tmp_path / "b1.sqlite3", B1Settings(time_scale=60))


@pytest.fixture
def oracle(tmp_path: Path) -> Iterator:
    yield from _spawned(spawn_ar, tmp_path / "ar.sqlite3", ArSettings(time_scale=60))


def _check(figures) -> None:
    print(figures)      # the figures of the report (pytest -s)
    assert figures.trials == TRIALS
    assert figures.killed_while_answer_held >= 1, figures     # trials 1, 4 and 7 hold a write's answer back
    assert figures.killed_mid_run >= 3 and figures.left_unknown >= 1, figures


def test_odoo_posts_every_document_exactly_once_through_ten_kills(odoo, forkserver, template, tmp_path: Path):
    _check(run_crash_trials(odoo_target(odoo), forkserver, template, tmp_path / "trials", trials=TRIALS))


def test_business_central_posts_every_document_exactly_once_through_ten_kills(business_central, forkserver, template,
                                                                              tmp_path: Path):
    _check(run_crash_trials(business_central_target(business_central), forkserver, template, tmp_path / "trials",
                            trials=TRIALS))


def test_netsuite_posts_every_document_exactly_once_through_ten_kills(netsuite, forkserver, template, tmp_path: Path):
    _check(run_crash_trials(netsuite_target(netsuite), forkserver, template, tmp_path / "trials", trials=TRIALS))


def test_sap_business_one_posts_every_document_exactly_once_through_ten_kills(sap_business_one, forkserver, template,
                                                                              tmp_path: Path):
    _check(run_crash_trials(sap_business_one_target(sap_business_one), forkserver, template, tmp_path / "trials",
                            trials=TRIALS))


def test_oracle_fusion_receivables_posts_every_document_exactly_once_through_ten_kills(oracle, forkserver, template,
                                                                                       tmp_path: Path):
    _check(run_crash_trials(oracle_target(oracle), forkserver, template, tmp_path / "trials", trials=TRIALS))
