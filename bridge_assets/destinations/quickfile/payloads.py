"""The canonical document as QuickFile's `InvoiceData`, and the look-ups' bodies.

Lines are free-text items (`ItemID` 0, the item code as `ItemName`) on the configured nominal code; a line's
tax is sent as `Tax1.TaxAmount` (a header-only tax rides on the first line), so QuickFile keeps the source's
figure instead of recomputing it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from bridge_assets.destinations.kit import small_ledger
from bridge_assets.model.document import AccountingDocument, money


def _date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def item_lines(document: AccountingDocument, nominal_code: str) -> list[dict[str, Any]]:
    built = []
    for line, tax in small_ledger.lines_with_tax(document):
        percentage = (tax / money(line.amount) * 100).quantize(Decimal("0.01")) if tax and line.amount else Decimal(0)
        built.append({"ItemID": 0, "ItemName": (line.item_code or line.kind)[:50],
                      "ItemDescription": line.description, "ItemNominalCode": nominal_code,
                      "UnitCost": Decimal(line.unit_price), "Qty": Decimal(line.qty),
                      "Tax1": {"TaxName": "VAT", "TaxPercentage": percentage, "TaxAmount": tax}})
    return built


def invoice_data(document: AccountingDocument, client_id: int, nominal_code: str,
                 invoice_id: int | None = None) -> dict[str, Any]:
    txn = _date(document.txn_date)
    term_days = max(0, (_date(document.due_date) - txn).days) if document.due_date else 30
    data: dict[str, Any] = {
        "InvoiceType": "INVOICE", "ClientID": client_id, "Currency": document.currency or "GBP",
        "TermDays": term_days, "Notes": document.memo or "",
        "InvoiceLines": {"ItemLines": {"ItemLine": item_lines(document, nominal_code)}},
        "Scheduling": {"SingleInvoiceData": {"IssueDate": txn.isoformat(), "InvoiceNumber": document.doc_number}},
    }
    if invoice_id is not None:
        data["InvoiceID"] = invoice_id
    return {"InvoiceData": data}


def search(**criteria: Any) -> dict[str, Any]:
    return {"SearchParameters": {"ReturnCount": 200, "Offset": 0, "OrderResultsBy": "InvoiceNumber",
                                 "OrderDirection": "ASC", **criteria}}


def same(record: dict[str, Any], document: AccountingDocument, client_id: int) -> bool:
    """Whether an invoice QuickFile holds is this document as the bridge would have sent it."""
    return (str(record.get("InvoiceNumber")) == document.doc_number and int(record.get("ClientID") or 0) == client_id
            and money(Decimal(str(record.get("GrossAmount")))) == money(document.total))


def summary(record: dict[str, Any]) -> dict[str, Any]:
    return {key: (str(value) if isinstance(value, Decimal) else value) for key, value in record.items()
            if key in ("InvoiceID", "InvoiceNumber", "ClientID", "ClientName", "IssueDate", "Status", "GrossAmount")}
