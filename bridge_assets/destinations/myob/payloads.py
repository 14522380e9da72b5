"""MYOB's fields for the canonical document, and back; its error bodies as sentences.

A credit note is a service sale invoice with negative lines. Tax goes by each line's tax code, whose rate
MYOB applies itself: the code is the one whose rate gives exactly the source's tax (`tax_code_for`). A
body is written in the shape `document_body` reads it back, so a document already holding it is
recognised without sending; `send` turns amounts into JSON numbers.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

from bridge_assets.destinations.kit.cloud import Refused
from bridge_assets.model.document import AccountingDocument, DocumentLine, decimal_text, money

APPLIES = "[bridge] applies to invoice "
REVERSES = "[bridge] reverses invoice "
AMOUNTS = ("Total", "AmountReceived", "AmountApplied")


def refusal(status: int, answer: Any) -> Refused:
    errors = answer.get("Errors") if isinstance(answer, dict) else None
    first = (errors or [{}])[0]
    name, message = first.get("Name") or f"HTTP {status}", first.get("Message") or ""
    if name == "BusinessEvent_DateOccured_InLockPeriod":
        return Refused(f"MYOB's lock period holds it ({message}); it is posted once the lock date moves",
                       code=name, held=True, http_status=status)
    if name == "IncorrectRowVersionSupplied":
        return Refused(f"someone changed it in MYOB while the bridge was updating it ({message}); run again",
                       code=name, http_status=status)
    return Refused(f"MYOB refused it ({name}): {message}", code=name, http_status=status)


def tax_code_for(line: DocumentLine, total: Decimal, codes: Mapping[str, Decimal], no_tax: str) -> str:
    """The UID of the tax code whose rate turns this line's total into exactly its tax."""
    tax = money(line.tax_amount)
    if tax == 0 and no_tax in codes:
        return no_tax
    for code, rate in codes.items():
        if (abs(total) * rate / 100).quantize(Decimal("0.01"), ROUND_HALF_UP) == tax:
            return code
    raise Refused(f"line {line.line_no} carries tax {tax} on {abs(total)}, and no MYOB tax code's rate gives exactly "
                  f"that; add a tax code with the right rate in MYOB, or enter this document by hand",
                  code="tax_not_representable")


def document_body(document: AccountingDocument, customer: str, income: str, codes: Mapping[str, Decimal],
                  no_tax: str) -> dict[str, Any]:
    sign = -1 if document.doc_type == "credit_memo" else 1
    lines = []
    for line in sorted(document.lines, key=lambda l: l.line_no):
        total = money(line.amount) * sign
        description = f"{line.item_code}: {line.description} ({decimal_text(line.qty)} x {decimal_text(line.unit_price)})"
        lines.append({"Type": "Transaction", "Description": description.strip(), "Total": f"{total:.2f}",
                      "Account": {"UID": income}, "TaxCode": {"UID": tax_code_for(line, total, codes, no_tax)}})
    memo = document.memo or ""
    if document.doc_type == "credit_memo" and document.applies_to:
        memo = "\n".join([memo, *(f"{APPLIES}{a.doc_number}: {money(a.amount)}" for a in document.applies_to)]).strip()
    return {"Number": document.doc_number, "Date": f"{document.txn_date.isoformat()}T00:00:00",
            "Customer": {"UID": customer}, "CustomerPurchaseOrderNumber": document.po_number or "",
            "JournalMemo": memo, "IsTaxInclusive": False, "Lines": lines}


def held_body(wire: dict[str, Any]) -> dict[str, Any]:
    return {"Number": wire.get("Number"), "Date": wire["Date"][:19], "Customer": {"UID": wire["Customer"]["UID"]},
            "CustomerPurchaseOrderNumber": wire.get("CustomerPurchaseOrderNumber") or "",
            "JournalMemo": wire.get("JournalMemo") or "", "IsTaxInclusive": bool(wire.get("IsTaxInclusive")),
            "Lines": [{"Type": line.get("Type") or "Transaction", "Description": line.get("Description") or "",
                       "Total": f"{Decimal(str(line['Total'])):.2f}", "Account": {"UID": line["Account"]["UID"]},
                       "TaxCode": {"UID": line["TaxCode"]["UID"]}} for line in wire.get("Lines") or []]}


def payment_body(wire: dict[str, Any]) -> dict[str, Any]:
    return {"ReceiptNumber": wire.get("ReceiptNumber"), "Date": wire["Date"][:19],
            "Customer": {"UID": wire["Customer"]["UID"]}, "AmountReceived": f"{Decimal(str(wire['AmountReceived'])):.2f}",
            "Invoices": [{"UID": i["UID"], "AmountApplied": f"{Decimal(str(i['AmountApplied'])):.2f}", "Type": "Invoice"}
                         for i in wire.get("Invoices") or []]}


def applications(memo: str) -> list[tuple[str, str]]:
    """The (invoice number, amount) a credit note's memo says it applies to."""
    return [tuple(line[len(APPLIES):].split(": ", 1)) for line in (memo or "").splitlines() if line.startswith(APPLIES)]


def reverses(number: str) -> str:
    """The journal memo of the credit note that voids invoice `number` by reversing it."""
    return f"{REVERSES}{number}"


def reversed_number(memo: str) -> str | None:
    return memo[len(REVERSES):] if memo.startswith(REVERSES) else None


def send(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: float(v) if k in AMOUNTS and isinstance(v, str) else send(v) for k, v in value.items()}
    if isinstance(value, list):
        return [send(v) for v in value]
    return value


def literal(text: str) -> str:
    """A string in an OData filter: quoted, quotes doubled."""
    return "'" + text.replace("'", "''") + "'"


def changed_at(wire: dict[str, Any]) -> dt.datetime | None:
    text = wire.get("LastModified")
    return dt.datetime.fromisoformat(text) if text else None
