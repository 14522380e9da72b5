"""What the small ledgers' tests (Wave, QuickFile, Reckon One, BILL, KashFlow) share: a one-line invoice (or
credit memo, payment) as the source would give it, its create request, and the adapter read from the
emulator's environment as `from_env` reads it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from bridge_assets.destinations.base import Action, PostRequest
from bridge_assets.model.document import AccountingDocument, DocumentLine, content_hash


def one_line_invoice(number: str = "1001", *, customer: str = "Smith, J", key: str = "C001", amount: str = "29.95",
                     tax: str = "0.00", doc_type: str = "invoice", currency: str = "USD",
                     applies_to=()) -> AccountingDocument:
    """A September 2026 document of one monitoring line of `amount`, with `tax` on it (taxable when not 0.00)."""
    lines = (DocumentLine(line_no=1, kind="rmr", item_code="RMR-MON", description="Monitoring", qty=Decimal("1"),
                          unit_price=Decimal(amount), amount=Decimal(amount), taxable=tax != "0.00",
                          tax_amount=Decimal(tax)),)
    doc = AccountingDocument(
        doc_key=f"test:{doc_type}:{number}", source="test", doc_type=doc_type, source_id=number, doc_number=number,
        txn_date=dt.date(2026, 9, 1), period="2026-09", due_date=dt.date(2026, 10, 1), customer_key=key,
        customer_name=customer, master_account="", site="", terms="NET30", po_number="", subtotal=Decimal(amount),
        tax_total=Decimal(tax), total=Decimal(amount) + Decimal(tax), currency=currency, memo="", source_ref="",
        lines=lines, applies_to=applies_to)
    return doc.__class__(**{**doc.__dict__, "content_hash": content_hash(doc)})


def create(doc: AccountingDocument) -> PostRequest:
    return PostRequest(Action.CREATE, doc, f"req-{doc.doc_number}")


def adapter_from(destination_type: Any, environment: Mapping[str, str]) -> Iterator[Any]:
    """For a fixture: `destination_type.from_env` on the emulator's variables, closed after the test."""
    adapter = destination_type.from_env(environ=environment)
    yield adapter
    adapter.close()
