"""Documents as qbXML requests, and what QuickBooks Desktop holds as plain snapshots to compare and keep.

A snapshot (`Outcome.after` / `before`, kept in the ledger's events) is
{"TxnID", "EditSequence", "RefNumber", "Customer", "TxnDate", "DueDate", "PONumber", "Total", "Lines": [
{"Item", "Desc", "Quantity", "Rate", "Amount"}]} (payments: "Applied": [{"TxnID", "Amount"}] instead of lines);
`wanted(document)` is the same shape built from the document, so "already there" is a comparison of two
snapshots, and `restore` rebuilds an InvoiceMod from a saved one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

from bridge_assets.destinations.qbd_webconnector.qbxml import E, amount, get, maybe, ref
from bridge_assets.model.document import AccountingDocument, money

TXN_TYPE = {"invoice": "Invoice", "credit_memo": "CreditMemo", "payment": "ReceivePayment"}
LABEL = {"invoice": "Invoice", "credit_memo": "Credit memo", "payment": "Payment"}
CREDIT_APPLICATION_PREFIX = "CREDIT "      # RefNumber of the $0 payment that applies a credit memo


def label(document: AccountingDocument) -> str:
    return f"{LABEL.get(document.doc_type, document.doc_type)} {document.doc_number} ({document.customer_name})"


def _number(value: Any) -> str:
    text = format(Decimal(value).normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


def wanted_lines(document: AccountingDocument, tax_item: str) -> list[dict[str, str | None]]:
    lines = [{"Item": line.item_code, "Desc": line.description or None, "Quantity": _number(line.qty),
              "Rate": _number(line.unit_price), "Amount": f"{money(line.amount):.2f}"}
             for line in sorted(document.lines, key=lambda l: l.line_no)]
    if money(document.tax_total) != 0:
        lines.append({"Item": tax_item, "Desc": "Sales tax (as billed)", "Quantity": None, "Rate": None,
                      "Amount": f"{money(document.tax_total):.2f}"})
    return lines


def wanted(document: AccountingDocument, tax_item: str, applied: dict[str, str] | None = None) -> dict[str, Any]:
    """The snapshot QuickBooks should hold for this document (`applied`: invoice number -> TxnID)."""
    out: dict[str, Any] = {"RefNumber": document.doc_number, "Customer": document.customer_name,
                           "TxnDate": document.txn_date.isoformat(), "Total": f"{money(document.total):.2f}"}
    if document.doc_type == "payment":
        out["Applied"] = sorted([{"TxnID": (applied or {}).get(a.doc_number), "Amount": f"{money(a.amount):.2f}"}
                                 for a in document.applies_to], key=lambda a: str(a["TxnID"]))
        return out
    out["DueDate"] = document.due_date.isoformat() if document.due_date and document.doc_type == "invoice" else None
    out["PONumber"] = document.po_number or None
    out["Lines"] = wanted_lines(document, tax_item)
    return out


def differences(want: dict[str, Any], held: dict[str, Any]) -> list[str]:
    """The fields where QuickBooks' snapshot differs from the wanted one (names, for a sentence)."""
    out = []
    for key, value in want.items():
        if key == "Lines":
            if [_line_key(l) for l in value] != [_line_key(l) for l in held.get("Lines") or []]:
                out.append("lines")
        elif key == "Applied":
            if sorted(_applied_key(a) for a in value) != sorted(_applied_key(a) for a in held.get("Applied") or []):
                out.append("applied to")
        elif key == "Total":
            if Decimal(str(value)) != Decimal(str(held.get("Total") or "0")):
                out.append("total")
        elif (value or None) != (held.get(key) or None):
            out.append(key)
    return out


def _line_key(line: dict[str, Any]) -> tuple:
    def dec(value):
        return None if value in (None, "") else Decimal(str(value)).normalize()
    return (line.get("Item"), line.get("Desc") or None, dec(line.get("Quantity")), dec(line.get("Rate")),
            dec(line.get("Amount")))


def _applied_key(application: dict[str, Any]) -> tuple:
    return (str(application.get("TxnID")), Decimal(str(application.get("Amount") or "0")))


def _line(tag: str, line: dict[str, Any], *, mod: bool = False) -> ET.Element:
    return E(tag, E("TxnLineID", "-1") if mod else None, ref("ItemRef", full_name=line["Item"]),
             maybe("Desc", line.get("Desc")), maybe("Quantity", line.get("Quantity")), maybe("Rate", line.get("Rate")),
             maybe("Amount", line.get("Amount")))


def add_request(document: AccountingDocument, want: dict[str, Any]) -> ET.Element:
    """InvoiceAddRq / CreditMemoAddRq / ReceivePaymentAddRq, elements in schema order."""
    kind = TXN_TYPE[document.doc_type]
    if kind == "ReceivePayment":
        applied = [E("AppliedToTxnAdd", E("TxnID", a["TxnID"]), E("PaymentAmount", a["Amount"]))
                   for a in want["Applied"]]
        body = E("ReceivePaymentAdd", ref("CustomerRef", full_name=want["Customer"]), E("TxnDate", want["TxnDate"]),
                 maybe("RefNumber", want["RefNumber"]), E("TotalAmount", want["Total"]),
                 maybe("Memo", document.memo[:4095] if document.memo else None), applied)
        return E("ReceivePaymentAddRq", body)
    lines = [_line(f"{kind}LineAdd", line) for line in want["Lines"]]
    body = E(f"{kind}Add", ref("CustomerRef", full_name=want["Customer"]), E("TxnDate", want["TxnDate"]),
             maybe("RefNumber", want["RefNumber"]), maybe("PONumber", want.get("PONumber")),
             maybe("DueDate", want.get("DueDate")), maybe("Memo", document.memo[:4095] if document.memo else None),
             lines)
    return E(f"{kind}AddRq", body)


def invoice_mod(txn_id: str, edit_sequence: str, want: dict[str, Any]) -> ET.Element:
    """InvoiceModRq: header fields and every line anew (lines not sent are removed by QuickBooks)."""
    lines = [_line("InvoiceLineMod", line, mod=True) for line in want["Lines"]]
    body = E("InvoiceMod", E("TxnID", txn_id), E("EditSequence", edit_sequence),
             ref("CustomerRef", full_name=want["Customer"]), E("TxnDate", want["TxnDate"]),
             maybe("RefNumber", want["RefNumber"]), maybe("PONumber", want.get("PONumber") or None),
             maybe("DueDate", want.get("DueDate")), lines)
    return E("InvoiceModRq", body)


def credit_application(credit_number: str, customer: str, txn_date: str, invoice_id: str, credit_id: str,
                       applied: str, invoice_number: str) -> ET.Element:
    """A $0 ReceivePaymentAdd whose SetCredit applies a credit memo to its invoice (QuickBooks' own way)."""
    body = E("ReceivePaymentAdd", ref("CustomerRef", full_name=customer), E("TxnDate", txn_date),
             E("RefNumber", (CREDIT_APPLICATION_PREFIX + credit_number)[:20]), E("TotalAmount", "0.00"),
             E("Memo", f"invoice bridge: applies credit memo {credit_number} to invoice {invoice_number}"),
             E("AppliedToTxnAdd", E("TxnID", invoice_id), E("PaymentAmount", "0.00"),
               E("SetCredit", E("CreditTxnID", credit_id), E("AppliedAmount", applied))))
    return E("ReceivePaymentAddRq", body)


def query(kind: str, *, ref_numbers=(), txn_ids=(), since: str | None = None, lines: bool = True,
          page: int | None = None, iterator_id: str | None = None) -> ET.Element:
    """`page`: the first page of an iterator (MaxReturned); `iterator_id`: the next page of that iterator."""
    filters = [E("TxnID", t) for t in txn_ids] + [E("RefNumber", r) for r in ref_numbers]
    modified = E("ModifiedDateRangeFilter", E("FromModifiedDate", since)) if since else None
    include = E("IncludeLineItems", "true" if lines else "false") if kind != "ReceivePayment" else None
    paging = {"iterator": "Continue", "iteratorID": iterator_id} if iterator_id else (
        {"iterator": "Start"} if page else {})
    return E(f"{kind}QueryRq", filters, maybe("MaxReturned", page), modified, include, **paging)


def snapshot(ret: ET.Element) -> dict[str, Any]:
    """What QuickBooks holds, from an InvoiceRet / CreditMemoRet / ReceivePaymentRet."""
    kind = ret.tag[:-3]
    out: dict[str, Any] = {"TxnID": get(ret, "TxnID"), "EditSequence": get(ret, "EditSequence"),
                           "RefNumber": get(ret, "RefNumber"), "Customer": get(ret, "CustomerRef/FullName"),
                           "TxnDate": get(ret, "TxnDate"), "Memo": get(ret, "Memo"),
                           "TimeModified": get(ret, "TimeModified")}
    if kind == "ReceivePayment":
        out["Total"] = get(ret, "TotalAmount")
        out["Balance"] = get(ret, "UnusedPayment")
        out["Applied"] = [{"TxnID": get(a, "TxnID"), "Amount": get(a, "Amount")} for a in ret.findall("AppliedToTxnRet")]
        return out
    subtotal, tax = amount(ret, "Subtotal") or Decimal("0"), amount(ret, "SalesTaxTotal") or Decimal("0")
    out["Total"] = f"{subtotal + tax:.2f}" if kind == "Invoice" else get(ret, "TotalAmount")
    out["Balance"] = get(ret, "BalanceRemaining") if kind == "Invoice" else get(ret, "CreditRemaining")
    out["DueDate"], out["PONumber"] = get(ret, "DueDate"), get(ret, "PONumber")
    out["Lines"] = [{"Item": get(l, "ItemRef/FullName"), "Desc": get(l, "Desc"), "Quantity": get(l, "Quantity"),
                     "Rate": get(l, "Rate"), "Amount": get(l, "Amount")} for l in ret.findall(f"{kind}LineRet")]
    return out


def is_voided(held: dict[str, Any]) -> bool:
    """QuickBooks Desktop keeps a voided transaction with its number, zero amounts and "VOID:" in the memo."""
    return (held.get("Memo") or "").startswith("VOID:") and Decimal(str(held.get("Total") or "0")) == 0
