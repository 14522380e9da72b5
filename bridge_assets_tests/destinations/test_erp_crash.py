"""Kill -9 while posting a period into each ERP (Odoo, Business Central, NetSuite, SAP Business One, Oracle Fusion
Receivables), then run again: every document exactly once (the shared
harness, crash_trials.py). Each emulator runs as its own process; each trial starts from empty books (the
emulator's reset: one company each), and a third of the trials kill the run while the emulator holds back
the answer of a write it has committed."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping

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

    return CrashTarget("odoo", fresh_books, held,
                       hold_next_answer=lambda env: odoo.admin.set_faults(drop_next_writes=1, drop_mode="timeout",
                                                                          drop_entities=["account.move.action_post"]),
                       answer_held=lambda env: _held_back(odoo.admin.journal()),
                       clear_faults=lambda env: odoo.admin.clear_faults())


def business_central_target(bc) -> CrashTarget:
    client_id, secret = next(iter(bc.settings.clients.items()))

    def fresh_books(folder: Path) -> dict[str, str]:
        bc.admin.reset()
        s = bc.settings
        return {"BC_API_URL": bc.base_url, "BC_TOKEN_URL": bc.token_url, "BC_TENANT": s.tenant,
                "BC_ENVIRONMENT": s.environment, "BC_COMPANY": s.company, "BC_CLIENT_ID": client_id,
                "BC_CLIENT_SECRET": secret, "BC_TIME_SCALE": "60"}

    def held(env: Mapping[str, str]):
        return [(doc_type, r["externalDocumentNumber"], r["id"])
                for doc_type, kind in (("invoice", "salesInvoices"), ("credit_memo", "salesCreditMemos"))
                for r in bc.admin.records(kind) if r["status"] in ("Open", "Paid")]

    return CrashTarget("business_central", fresh_books, held,
                       hold_next_answer=lambda env: bc.admin.set_faults(drop_next_writes=1, drop_mode="timeout",
                                                                        drop_entities=["$batch"]),
                       answer_held=lambda env: _held_back(bc.admin.journal()),
                       clear_faults=lambda env: bc.admin.clear_faults())


def netsuite_target(ns) -> CrashTarget:
    client_id, secret = next(iter(ns.settings.clients.items()))

    def fresh_books(folder: Path) -> dict[str, str]:
        ns.admin.reset()
        return {"NETSUITE_ACCOUNT": ns.settings.account, "NETSUITE_BASE_URL": ns.base_url,
                "NETSUITE_TOKEN_URL": ns.token_url, "NETSUITE_CLIENT_ID": client_id, "NETSUITE_CLIENT_SECRET": secret,
                "NETSUITE_REFRESH_TOKEN": ns.admin.mint_tokens(client_id)["refresh_token"],
                "NETSUITE_TOKEN_STORE": str(folder / "netsuite_tokens.json"), "NETSUITE_TIME_SCALE": "60"}

    def held(env: Mapping[str, str]):
        return [(doc_type, r["tranId"], r["id"])
                for doc_type, kind in (("invoice", "invoice"), ("credit_memo", "creditMemo"))
                for r in ns.admin.records(kind) if not str(r.get("externalId") or "").startswith("void-")]

    return CrashTarget("netsuite", fresh_books, held,
                       hold_next_answer=lambda env: ns.admin.set_faults(drop_next_writes=1, drop_mode="timeout",
                                                                        drop_entities=["invoice"]),
                       answer_held=lambda env: _held_back(ns.admin.journal()),
                       clear_faults=lambda env: ns.admin.clear_faults())


def sap_business_one_target(b1) -> CrashTarget:
    user, password = next(iter(b1.settings.users.items()))

    def fresh_books(folder: Path) -> dict[str, str]:
        b1.admin.reset()
        return {"SAPB1_URL": b1.service_url, "SAPB1_COMPANY_DB": b1.settings.company_db, "SAPB1_USERNAME": user,
                "SAPB1_PASSWORD": password}

    def held(env: Mapping[str, str]):
        return [(doc_type, r["NumAtCard"], str(r["DocEntry"]))
                for doc_type, kind in (("invoice", "Invoices"), ("credit_memo", "CreditNotes"))
                for r in b1.admin.records(kind) if r["Cancelled"] == "tNO" and r["CancelStatus"] == "csNo"]

    return CrashTarget("sap_business_one", fresh_books, held,
                       hold_next_answer=lambda env: b1.admin.set_faults(drop_next_writes=1, drop_mode="timeout",
                                                                        drop_entities=["Invoices"]),
                       answer_held=lambda env: _held_back(b1.admin.journal()),
                       clear_faults=lambda env: b1.admin.clear_faults())


def oracle_target(ar) -> CrashTarget:
    user, values = next(iter(ar.settings.users.items()))

    def fresh_books(folder: Path) -> dict[str, str]:
        ar.admin.reset()
        ar.admin.add_customers(CUSTOMERS)          # accounts a person made in Oracle beforehand
        return {"ORACLE_URL": ar.base_url, "ORACLE_USERNAME": user, "ORACLE_PASSWORD": values["password"],
                "ORACLE_BUSINESS_UNIT": ar.settings.business_unit}

    def held(env: Mapping[str, str]):
        return [(doc_type, r["TransactionNumber"], str(r["CustomerTransactionId"]))
                for doc_type, kind in (("invoice", "receivablesInvoices"), ("credit_memo", "receivablesCreditMemos"))
                for r in ar.admin.records(kind) if r["InvoiceStatus"] == "Complete"]

    return CrashTarget("oracle_fusion_receivables", fresh_books, held,
                       hold_next_answer=lambda env: ar.admin.set_faults(drop_next_writes=1, drop_mode="timeout",
                                                                        drop_entities=["receivablesInvoices"]),
                       answer_held=lambda env: _held_back(ar.admin.journal()),
                       clear_faults=lambda env: ar.admin.clear_faults())


@pytest.fixture
def odoo(tmp_path: Path) -> Iterator:
    with spawn_odoo(tmp_path / "odoo.sqlite3", OdooSettings(time_scale=60)) as handle:
        yield handle


@pytest.fixture
def business_central(tmp_path: Path) -> Iterator:
    with spawn_bc(tmp_path / "bc.sqlite3", BcSettings(time_scale=60)) as handle:
        yield handle


@pytest.fixture
def netsuite(tmp_path: Path) -> Iterator:
    with spawn_ns(tmp_path / "ns.sqlite3", NsSettings(time_scale=60)) as handle:
        yield handle


@pytest.fixture
def sap_business_one(tmp_path: Path) -> Iterator:
    with spawn_b1(tmp_path / "b1.sqlite3", B1Settings(time_scale=60)) as handle:
        yield handle


@pytest.fixture
def oracle(tmp_path: Path) -> Iterator:
    with spawn_ar(tmp_path / "ar.sqlite3", ArSettings(time_scale=60)) as handle:
        yield handle


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
