"""The canonical document in Business Central's terms: sales document bodies (deep insert), the content
compared before any write, OData filter literals, and what BC's refusals mean for a bookkeeper.

Our number is `externalDocumentNumber` (BC numbers documents from its No. Series; manual numbers need
"Manual Nos."); a posted document keeps its API id. BC computes tax from tax codes; the source's tax is
carried as one line of the tax item (`BC_TAX_ITEM`) so the document's total is the source's.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from bridge_assets.model.document import AccountingDocument, money

ENTITY = {"invoice": "salesInvoices", "credit_memo": "salesCreditMemos"}
LINES = {"salesInvoices": "salesInvoiceLines", "salesCreditMemos": "salesCreditMemoLines"}
DATE_FIELD = {"salesInvoices": "invoiceDate", "salesCreditMemos": "creditMemoDate"}
DOC_TYPE = {"salesInvoices": "invoice", "salesCreditMemos": "credit_memo"}
LABEL = {"invoice": "Invoice", "credit_memo": "Credit memo", "payment": "Payment"}
LIVE = ("Open", "Paid")
NO_DATE = "0001-01-01"
OUTSIDE_RANGE = "not within your range of allowed posting dates"
ID_NAMESPACE = uuid.UUID("6b1f3f0e-2a49-4f7e-9b0c-5e2d8a1c4b77")


def literal(text: str) -> str:
    """An OData string literal ('' escapes a quote)."""
    return "'" + str(text).replace("'", "''") + "'"


def client_id_for(*parts: str) -> str:
    """The GUID the bridge gives a new record: the same request always names the same record, so a create
    sent again is refused as a duplicate key instead of making a second document."""
    return str(uuid.uuid5(ID_NAMESPACE, "|".join(parts)))


def decimal(value: Any) -> Decimal:
    return money(Decimal(str(value or 0)))


def wanted_lines(document: AccountingDocument, tax_item: str) -> list[dict[str, Any]]:
    lines = [{"lineType": "Item", "lineObjectNumber": line.item_code, "description": line.description or line.item_code,
              "quantity": float(line.qty), "unitPrice": float(line.unit_price)}
             for line in sorted(document.lines, key=lambda l: l.line_no)]
    if money(document.tax_total) != 0:
        lines.append({"lineType": "Item", "lineObjectNumber": tax_item, "description": "Sales tax (as billed at the source)",
                      "quantity": 1.0, "unitPrice": float(money(document.tax_total))})
    return lines


def document_body(document: AccountingDocument, record_id: str, tax_item: str,
                  invoice_number: str | None = None) -> dict[str, Any]:
    entity = ENTITY[document.doc_type]
    body = {"id": record_id, "customerNumber": document.customer_key, "externalDocumentNumber": document.doc_number,
            DATE_FIELD[entity]: document.txn_date.isoformat(), "postingDate": document.txn_date.isoformat(),
            "dueDate": (document.due_date or document.txn_date).isoformat(),
            LINES[entity]: wanted_lines(document, tax_item)}
    if invoice_number:
        body["invoiceNumber"] = invoice_number
    return body


def _key(line: dict[str, Any]) -> tuple:
    return (str(line.get("lineObjectNumber")), str(line.get("description") or ""), decimal(line.get("quantity")),
            Decimal(str(line.get("unitPrice") or 0)).normalize())


def differences(body: dict[str, Any], record: dict[str, Any], lines: list[dict[str, Any]]) -> list[str]:
    entity = "salesInvoices" if "invoiceDate" in body else "salesCreditMemos"
    changed = []
    if record.get("customerNumber") != body["customerNumber"]:
        changed.append("customer")
    if record.get(DATE_FIELD[entity]) != body[DATE_FIELD[entity]]:
        changed.append("date")
    if record.get("dueDate") != body["dueDate"]:
        changed.append("due date")
    if sorted(_key(l) for l in lines) != sorted(_key(l) for l in body[LINES[entity]]):
        changed.append("lines")
    return changed


def summary(record: dict[str, Any]) -> str:
    return (f"{record.get('number')}, {record.get('customerName') or record.get('customerNumber')}, total "
            f"{decimal(record.get('totalAmountIncludingTax'))}, status {record.get('status')}")


def bc_time(text: Any) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None) if moment and moment.tzinfo else moment


def refusal(code: str, message: str, call: str) -> tuple[str, str]:
    if code.startswith("Authorization"):
        return "permission", (f"Business Central refused {call} ({message}); give the bridge's Entra app the "
                              f"permission sets D365 BUS FULL ACCESS or D365 SALES DOC, POST and D365 JOURNALS, POST")
    if code == "Internal_RecordNotFound":
        return "not_found", f"Business Central does not have what it refers to ({message})"
    if "paid or credited" in message:
        return "applied", f"{message} Then run again"
    return code or "refused", f"Business Central refused {call}: {code} {message}"
