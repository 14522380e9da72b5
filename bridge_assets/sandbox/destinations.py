"""The emulators of accounting platforms that `bridge demo`, `bridge ui` and `bridge revert` stand up for
the destinations BRIDGE_DESTINATIONS names, when no real account of that platform is configured.

A platform's emulator joins the demo with one line in `SANDBOXES` (README, "Adding a platform"): the
variable whose presence means a real account is configured (then nothing is started), a label, and a
context manager that starts the emulator with its state in the given folder and yields the environment
that points the bridge's adapter at it (base URL, tenant, client id and secret, token store...).
QuickBooks Online is started by `cli.quickbooks_sandbox` itself, since it also chooses the default
destinations.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Callable, ContextManager, Iterator


@dataclasses.dataclass(frozen=True)
class DestinationSandbox:
    label: str                                                   # "Xero emulator"
    configured_by: str                                           # e.g. XERO_CLIENT_ID: set means a real account
    start: Callable[[Path], ContextManager[tuple[str, dict[str, str]]]]   # folder -> (base URL, environment)


@contextlib.contextmanager
def _xero(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The Xero emulator (state in `xero.sqlite3`), limits at a 10x time scale, a connection made without
    a browser: its refresh token seeds the bridge's token store, which keeps the rotated ones."""
    from bridge_assets.sandbox.xero import EmulatorSettings, spawn_emulator

    client_id, secret = "bridge-sandbox-client", "bridge-sandbox-secret"
    with spawn_emulator(folder / "xero.sqlite3", EmulatorSettings(clients={client_id: secret}, time_scale=10)) as xero:
        tokens = xero.admin.mint_tokens(xero.tenant_id, client_id)
        yield xero.base_url, {"XERO_BASE_URL": xero.api_url, "XERO_TOKEN_URL": xero.token_url,
                              "XERO_CLIENT_ID": client_id, "XERO_CLIENT_SECRET": secret,
                              "XERO_TENANT_ID": xero.tenant_id, "XERO_REFRESH_TOKEN": tokens["refresh_token"],
                              "XERO_TOKEN_STORE": str(folder / "xero_tokens.json"), "XERO_TIME_SCALE": "10"}
def _freshbooks(folder: Path) -> ContextManager[tuple[str, dict[str, str]]]:
    from bridge_assets.sandbox.freshbooks import demo_sandbox

    return demo_sandbox(folder)


def _zoho_books(folder: Path) -> ContextManager[tuple[str, dict[str, str]]]:
    from bridge_assets.sandbox.zoho_books import demo_sandbox

    return demo_sandbox(folder)


def _sage(folder: Path) -> ContextManager[tuple[str, dict[str, str]]]:
    from bridge_assets.sandbox.sage import demo_sandbox

    return demo_sandbox(folder)


def _freeagent(folder: Path) -> ContextManager[tuple[str, dict[str, str]]]:
    from bridge_assets.sandbox.freeagent import demo_sandbox

    return demo_sandbox(folder)


def _myob(folder: Path) -> ContextManager[tuple[str, dict[str, str]]]:
    from bridge_assets.sandbox.myob import demo_sandbox

    return demo_sandbox(folder)
def _odoo(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    from bridge_assets.sandbox.odoo import EmulatorSettings, run_emulator

    settings = EmulatorSettings()
    login, user = next(iter(settings.users.items()))
    with run_emulator(folder / "odoo.sqlite3", settings) as odoo:
        yield odoo.base_url, {"ODOO_URL": odoo.base_url, "ODOO_DATABASE": settings.database,
                              "ODOO_USERNAME": login, "ODOO_API_KEY": user["password"]}


@contextlib.contextmanager
def _business_central(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    from bridge_assets.sandbox.business_central import EmulatorSettings, run_emulator

    settings = EmulatorSettings()
    client_id, secret = next(iter(settings.clients.items()))
    with run_emulator(folder / "business_central.sqlite3", settings) as bc:
        yield bc.base_url, {"BC_API_URL": bc.base_url, "BC_TOKEN_URL": bc.token_url, "BC_TENANT": settings.tenant,
                            "BC_ENVIRONMENT": settings.environment, "BC_COMPANY": settings.company,
                            "BC_CLIENT_ID": client_id, "BC_CLIENT_SECRET": secret}


@contextlib.contextmanager
def _netsuite(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    from bridge_assets.sandbox.netsuite import EmulatorSettings, run_emulator

    settings = EmulatorSettings()
    client_id, secret = next(iter(settings.clients.items()))
    with run_emulator(folder / "netsuite.sqlite3", settings) as ns:
        yield ns.base_url, {"NETSUITE_ACCOUNT": settings.account, "NETSUITE_BASE_URL": ns.base_url,
                            "NETSUITE_TOKEN_URL": ns.token_url, "NETSUITE_CLIENT_ID": client_id,
                            "NETSUITE_CLIENT_SECRET": secret,
                            "NETSUITE_REFRESH_TOKEN": ns.admin.mint_tokens(client_id)["refresh_token"],
                            "NETSUITE_TOKEN_STORE": str(folder / "netsuite_tokens.json")}


@contextlib.contextmanager
def _sap_business_one(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    from bridge_assets.sandbox.sap_business_one import EmulatorSettings, run_emulator

    settings = EmulatorSettings()
    user, password = next(iter(settings.users.items()))
    with run_emulator(folder / "sap_business_one.sqlite3", settings) as b1:
        yield b1.service_url, {"SAPB1_URL": b1.service_url, "SAPB1_COMPANY_DB": settings.company_db,
                               "SAPB1_USERNAME": user, "SAPB1_PASSWORD": password}


@contextlib.contextmanager
def _oracle_fusion_receivables(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    from bridge_assets.sandbox.oracle_fusion_receivables import EmulatorSettings, run_emulator

    settings = EmulatorSettings(auto_customers=True)     # the accounts a person would have made in Oracle first
    user, values = next(iter(settings.users.items()))
    with run_emulator(folder / "oracle_fusion_receivables.sqlite3", settings) as ar:
        yield ar.base_url, {"ORACLE_URL": ar.base_url, "ORACLE_USERNAME": user, "ORACLE_PASSWORD": values["password"],
                            "ORACLE_BUSINESS_UNIT": settings.business_unit}


# BRIDGE_DESTINATIONS name -> how the sandbox stands that platform up. One line per platform.
SANDBOXES: dict[str, DestinationSandbox] = {
    "xero": DestinationSandbox("Xero emulator", "XERO_CLIENT_ID", _xero),
    "freshbooks": DestinationSandbox("FreshBooks emulator", "FRESHBOOKS_CLIENT_ID", _freshbooks),
    "zoho_books": DestinationSandbox("Zoho Books emulator", "ZOHO_BOOKS_CLIENT_ID", _zoho_books),
    "sage": DestinationSandbox("Sage Accounting emulator", "SAGE_CLIENT_ID", _sage),
    "freeagent": DestinationSandbox("FreeAgent emulator", "FREEAGENT_CLIENT_ID", _freeagent),
    "myob": DestinationSandbox("MYOB emulator", "MYOB_API_KEY", _myob),
    "odoo": DestinationSandbox("Odoo emulator", "ODOO_URL", _odoo),
    "business_central": DestinationSandbox("Business Central emulator", "BC_CLIENT_ID", _business_central),
    "netsuite": DestinationSandbox("NetSuite emulator", "NETSUITE_CLIENT_ID", _netsuite),
    "sap_business_one": DestinationSandbox("SAP Business One emulator", "SAPB1_URL", _sap_business_one),
    "oracle_fusion_receivables": DestinationSandbox("Oracle Fusion Receivables emulator", "ORACLE_URL",
                                                    _oracle_fusion_receivables),
}


def named_destinations(environ=None) -> list[str]:
    env = os.environ if environ is None else environ
    return [name.strip() for name in (env.get("BRIDGE_DESTINATIONS") or "").split(",") if name.strip()]


@contextlib.contextmanager
def platform_sandboxes(folder: Path, environ=None) -> Iterator[list[tuple[str, str, dict[str, str]]]]:
    """Start the emulator of every named destination that has one and no real account configured.

    Yields (label, base URL, environment) per emulator started; the caller puts the environment in
    place for the length of its command. Emulators stop when the block ends.
    """
    env = os.environ if environ is None else environ
    folder.mkdir(parents=True, exist_ok=True)
    started = []
    with contextlib.ExitStack() as stack:
        for name in named_destinations(env):
            sandbox = SANDBOXES.get(name)
            if sandbox is None or (env.get(sandbox.configured_by) or "").strip():
                continue
            base_url, values = stack.enter_context(sandbox.start(folder))
            started.append((sandbox.label, base_url, values))
        yield started
