"""Canonical documents for the cloud ledgers' contract tests (FreshBooks, Zoho Books, Sage, FreeAgent, MYOB), and
their stand-ups: the emulator for a test module (`running`), an adapter connected to it for one test (`connected`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

from bridge_assets.destinations.base import Action, PostRequest
from bridge_assets.ledger import store as ledger
from bridge_assets.model.document import AccountingDocument, Application, DocumentLine, line_amount, money


def document(number: str, *, doc_type: str = "invoice", customer: str = "Smith, J",
             lines: tuple[tuple[str, str, str, str], ...] = (("RMR-MON", "1", "29.95", "0.00"),),
             applies: tuple[tuple[str, str], ...] = (), total: str | None = None,
             date: dt.date = dt.date(2026, 9, 1)) -> AccountingDocument:
    """Lines are (item_code, qty, rate, tax amount); applies are (invoice number, amount); a payment has no lines."""
    built = tuple(DocumentLine(n, "rmr", code, f"{code} for September", Decimal(qty), Decimal(rate),
                               line_amount(Decimal(qty), Decimal(rate)), money(tax) > 0, money(tax))
                  for n, (code, qty, rate, tax) in enumerate(lines, start=1)) if doc_type != "payment" else ()
    subtotal = sum((l.amount for l in built), Decimal("0.00"))
    tax_total = sum((l.tax_amount for l in built), Decimal("0.00"))
    applications = tuple(Application(f"sedona:invoice:{n}", n, money(a)) for n, a in applies)
    return AccountingDocument(
        doc_key=f"sedona:{doc_type}:{number}", source="sedona", doc_type=doc_type, source_id=number,
        doc_number=number, txn_date=date, period=date.strftime("%Y-%m"), due_date=date + dt.timedelta(days=30),
        customer_key="C" + customer[:3].upper(), customer_name=customer, master_account="", site="1 Main St",
        terms="NET30", po_number="", subtotal=subtotal, tax_total=tax_total,
        total=money(total) if total is not None else subtotal + tax_total, currency="USD",
        memo=f"SedonaOffice {doc_type.replace('_', ' ')} {number}", source_ref="", lines=built, applies_to=applications,
    ).with_hash()


def create(destination: str, doc: AccountingDocument) -> PostRequest:
    return PostRequest(Action.CREATE, doc, ledger.request_id(destination, doc.doc_key, doc.content_hash, 0))


def update(destination: str, doc: AccountingDocument, dest_id: str, version: str | None) -> PostRequest:
    return PostRequest(Action.UPDATE, doc, ledger.request_id(destination, doc.doc_key, doc.content_hash, 1),
                       dest_id=dest_id, version=version)


def running(sandbox: ModuleType, folder: Path) -> Iterator[Any]:
    """The platform's emulator (`sandbox`: its package under bridge_assets.sandbox), a minute lasting a second,
    its state in `folder`; for a module-scoped fixture (`yield from`)."""
    with sandbox.run_emulator(folder / "books.sqlite3", sandbox.EmulatorSettings(time_scale=60)) as handle:
        yield handle


def connected(emulator: Any, destination_type: type, tmp_path: Path) -> Iterator[Any]:
    """The adapter, configured from its settings as a user would (`from_env`), on the emulator's books emptied and
    just connected (a fresh refresh token, tokens kept in `tmp_path`); closed afterwards."""
    emulator.admin.reset()
    environment = emulator.client_environment(emulator.admin.mint_tokens()["refresh_token"], tmp_path / "tokens.json")
    adapter = destination_type.from_env(None, environment)
    try:
        yield adapter
    finally:
        adapter.close()
