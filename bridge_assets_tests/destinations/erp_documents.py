"""Canonical documents for the ERPs' contract tests (Odoo, Business Central, NetSuite, SAP Business One, Oracle
Fusion Receivables): one monitoring line, a payment with none, applications by invoice number."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bridge_assets.destinations.base import Action, PostRequest
from bridge_assets.model.document import AccountingDocument, Application, DocumentLine, line_amount, money


def document(number: str, *, doc_type: str = "invoice", rate: str = "29.95", qty: str = "1", tax: str = "0.00",
             applies: tuple[tuple[str, str], ...] = (), total: str | None = None, date: dt.date = dt.date(2026, 9, 1),
             customer: str = "Smith, J", customer_key: str = "C001", site: str = "") -> AccountingDocument:
    """Applies are (invoice number, amount); the total is the line's plus `tax` unless given."""
    lines = () if doc_type == "payment" else (
        DocumentLine(1, "rmr", "RMR-MON", "Monitoring", Decimal(qty), Decimal(rate),
                     line_amount(Decimal(qty), Decimal(rate)), False),)
    subtotal = sum((line.amount for line in lines), Decimal("0.00"))
    return AccountingDocument(
        doc_key=f"sedona:{doc_type}:{number}", source="sedona", doc_type=doc_type, source_id=number,
        doc_number=number, txn_date=date, period=date.strftime("%Y-%m"), due_date=date + dt.timedelta(days=30),
        customer_key=customer_key, customer_name=customer, master_account="", site=site, terms="NET30",
        po_number="", subtotal=subtotal, tax_total=money(tax),
        total=money(total) if total is not None else subtotal + money(tax), currency="USD", memo="", source_ref="",
        lines=lines, applies_to=tuple(Application(f"sedona:invoice:{n}", n, money(a)) for n, a in applies),
    ).with_hash()


def create(doc: AccountingDocument) -> PostRequest:
    return PostRequest(Action.CREATE, doc, f"rid-{doc.doc_key}")
