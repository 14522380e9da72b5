"""Canonical documents -> QuickBooks Online JSON, and what QuickBooks holds -> something comparable.

Pure functions, no I/O. Money goes on the wire as JSON numbers written from the Decimal's own digits
(`dumps`), never through float: 0.1 + 0.2 never reaches QuickBooks' Amount = Qty x UnitPrice rule
(6070).

Shapes (API_FACTS.md, QuickBooks Online):
- Invoice / CreditMemo: DocNumber, TxnDate, DueDate (invoices), CustomerRef, PrivateNote (the memo),
  SalesItemLineDetail lines with ItemRef, Qty, UnitPrice, Amount and TaxCodeRef TAX/NON, and, with
  the tax override on, TxnTaxDetail {TxnTaxCodeRef, TotalTax} so automated sales tax does not
  recompute what the source already charged.
- Payment: a payment has no DocNumber; the document number goes into PaymentRefNum (the "reference
  no." a bookkeeper sees), TotalAmt, and one line per invoice it pays, linked by the invoice's Id.
- A credit memo is applied to its invoice the way QuickBooks does it: a $0 payment with one line for
  the invoice and one for the credit memo (`credit_application_body`).

Names: QuickBooks uses ':' to separate a sub-customer (and a sub-item) from its parent and refuses it
inside a DisplayName. `qbo_name` turns every ':' (with the spaces around it) into " - ", so
"ACME: North" becomes "ACME - North", both when matching and when creating.
"""

from __future__ import annotations

import dataclasses
import json
import re
from decimal import Decimal
from typing import Any, Iterable, Mapping

from bridge_assets.model.document import AccountingDocument, DocumentLine, money

ENTITY_BY_DOC_TYPE = {"invoice": "Invoice", "credit_memo": "CreditMemo", "payment": "Payment"}
DOC_TYPE_BY_ENTITY = {entity: doc_type for doc_type, entity in ENTITY_BY_DOC_TYPE.items()}
NUMBER_FIELD = {"Invoice": "DocNumber", "CreditMemo": "DocNumber", "Payment": "PaymentRefNum"}
LABEL = {"Invoice": "Invoice", "CreditMemo": "Credit memo", "Payment": "Payment"}
TAXABLE, NON_TAXABLE = "TAX", "NON"
APPLICATION_NOTE = "Applies credit memo {credit} to invoice {invoice} (invoice bridge)"

_NAME_SEPARATOR = re.compile(r"\s*:\s*")
# Fields QuickBooks computes or owns: never sent back in a full update (restore).
READ_ONLY = frozenset({
    "Id", "SyncToken", "MetaData", "domain", "sparse", "status", "Balance", "HomeBalance", "HomeTotalAmt",
    "RemainingCredit", "LinkedTxn", "DeliveryInfo", "InvoiceLink", "TxnStatus", "UnappliedAmt", "EInvoiceStatus",
    "AllowIPNPayment", "AllowOnlinePayment", "AllowOnlineCreditCardPayment", "AllowOnlineACHPayment",
})
NUMERIC_KEYS = frozenset({"Amount", "Qty", "UnitPrice", "TotalTax", "TotalAmt", "TaxPercent", "NetAmountTaxable"})


def entity_for(doc_type: str) -> str:
    try:
        return ENTITY_BY_DOC_TYPE[doc_type]
    except KeyError:
        raise ValueError(f"QuickBooks Online takes invoices, credit memos and payments, not {doc_type!r}") from None


def label(document: AccountingDocument) -> str:
    """How a bookkeeper names the document: "Invoice 100234 (Smith, J)"."""
    return f"{LABEL[entity_for(document.doc_type)]} {document.doc_number} ({document.customer_name})"


def qbo_name(text: str) -> str:
    """A customer DisplayName or item Name QuickBooks accepts (no ':'; single spaces)."""
    return " ".join(_NAME_SEPARATOR.sub(" - ", text).split())


def name_key(text: str) -> str:
    """QuickBooks compares names without regard to case or repeated spaces."""
    return qbo_name(text).casefold()


def query_literal(value: str) -> str:
    """A quoted value for QuickBooks' query language: backslash escaped first, then the quote."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# --- exact JSON -------------------------------------------------------------------------------------


def dumps(payload: Any) -> bytes:
    return _encode(payload).encode("utf-8")


def _encode(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not an amount QuickBooks can take")
        text = format(value, "f")
        return "0" if text in ("-0", "-0.0", "-0.00") else text
    if isinstance(value, (int, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        raise TypeError("a float reached a QuickBooks payload; money must be Decimal")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} into a QuickBooks payload")


def _number(value: Decimal) -> Decimal:
    """A quantity or rate with no trailing zeros (1.5000 -> 1.5), still exact."""
    value = Decimal(value)
    normal = value.normalize()
    return normal if normal == value else value


# --- documents -> bodies ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class References:
    customer_id: str
    item_ids: Mapping[str, str]          # name_key(item_code) -> Item Id


def sales_body(document: AccountingDocument, refs: References, *, tax_override: bool, tax_code: str) -> dict[str, Any]:
    """An Invoice or CreditMemo create body (an update adds Id, SyncToken and sparse)."""
    body: dict[str, Any] = {
        "DocNumber": document.doc_number,
        "TxnDate": document.txn_date.isoformat(),
        "CustomerRef": {"value": refs.customer_id},
        "PrivateNote": document.memo,
        "Line": [_sales_line(line, refs) for line in sorted(document.lines, key=lambda l: l.line_no)],
    }
    if document.doc_type == "invoice" and document.due_date is not None:
        body["DueDate"] = document.due_date.isoformat()
    if tax_override:
        body["TxnTaxDetail"] = {"TxnTaxCodeRef": {"value": tax_code}, "TotalTax": money(document.tax_total)}
    return body


def _sales_line(line: DocumentLine, refs: References) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "ItemRef": {"value": refs.item_ids[name_key(line.item_code)]},
        "Qty": _number(line.qty),
        "UnitPrice": _number(line.unit_price),
        "TaxCodeRef": {"value": TAXABLE if line.taxable else NON_TAXABLE},
    }
    if line.service_start is not None:
        detail["ServiceDate"] = line.service_start.isoformat()
    out: dict[str, Any] = {"Amount": money(line.amount), "DetailType": "SalesItemLineDetail",
                           "SalesItemLineDetail": detail}
    if line.description:
        out["Description"] = line.description
    return out


def payment_body(document: AccountingDocument, customer_id: str, invoice_ids: Mapping[str, str]) -> dict[str, Any]:
    """A Payment for `document`, one line per invoice it applies to (by Id, never by number: 610)."""
    return {
        "PaymentRefNum": document.doc_number,
        "TxnDate": document.txn_date.isoformat(),
        "CustomerRef": {"value": customer_id},
        "TotalAmt": money(document.total),
        "PrivateNote": document.memo,
        "Line": [{"Amount": money(application.amount),
                  "LinkedTxn": [{"TxnId": invoice_ids[application.doc_number], "TxnType": "Invoice"}]}
                 for application in sorted(document.applies_to, key=lambda a: a.doc_key)],
    }


def credit_application_body(credit: Mapping[str, Any], invoice: Mapping[str, Any], amount: Decimal) -> dict[str, Any]:
    """QuickBooks applies a credit memo to an invoice with a $0 payment linking both."""
    return {
        "CustomerRef": {"value": ref_value(credit.get("CustomerRef"))},
        "TxnDate": credit.get("TxnDate"),
        "TotalAmt": Decimal("0"),
        "PrivateNote": APPLICATION_NOTE.format(credit=credit.get("DocNumber"), invoice=invoice.get("DocNumber")),
        "Line": [
            {"Amount": money(amount), "LinkedTxn": [{"TxnId": str(invoice["Id"]), "TxnType": "Invoice"}]},
            {"Amount": money(amount), "LinkedTxn": [{"TxnId": str(credit["Id"]), "TxnType": "CreditMemo"}]},
        ],
    }


def is_credit_application(payment: Mapping[str, Any], credit_id: str) -> bool:
    """A $0 payment the bridge made to apply this credit memo (and nothing else)."""
    links = [link for line in payment.get("Line") or [] for link in line.get("LinkedTxn") or []]
    return (decimal(payment.get("TotalAmt")) == 0 and any(
        link.get("TxnType") == "CreditMemo" and str(link.get("TxnId")) == str(credit_id) for link in links)
        and all(link.get("TxnType") in ("Invoice", "CreditMemo") for link in links))


# --- reading back -----------------------------------------------------------------------------------


def ref_value(ref: Any) -> str | None:
    if isinstance(ref, Mapping) and ref.get("value") not in (None, ""):
        return str(ref["value"])
    return None


def decimal(value: Any) -> Decimal:
    if value is None or value == "":
        return Decimal("0")
    return Decimal(str(value))


def is_voided(entity: Mapping[str, Any]) -> bool:
    """QuickBooks keeps a voided transaction's number, with TotalAmt 0 and "Voided" in PrivateNote."""
    return decimal(entity.get("TotalAmt")) == 0 and "Voided" in str(entity.get("PrivateNote") or "")


def _sales_lines(lines: Iterable[Mapping[str, Any]]) -> list[tuple]:
    out = []
    for line in lines or []:
        if line.get("DetailType") != "SalesItemLineDetail":
            continue
        detail = line.get("SalesItemLineDetail") or {}
        out.append((decimal(line.get("Amount")), ref_value(detail.get("ItemRef")), decimal(detail.get("Qty")),
                    decimal(detail.get("UnitPrice")), ref_value(detail.get("TaxCodeRef")),
                    str(line.get("Description") or "")))
    return out


def _payment_lines(lines: Iterable[Mapping[str, Any]]) -> list[tuple]:
    out = []
    for line in lines or []:
        for link in line.get("LinkedTxn") or []:
            out.append((decimal(line.get("Amount")), str(link.get("TxnId")), link.get("TxnType")))
    return sorted(out)


def differences(desired: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Which of the fields the bridge sends differ in what QuickBooks holds ([] = already as desired)."""
    found = []
    for key in ("DocNumber", "PaymentRefNum", "TxnDate", "DueDate", "PrivateNote"):
        if key in desired and str(desired[key] or "").strip() != str(current.get(key) or "").strip():
            found.append(key)
    if "CustomerRef" in desired and ref_value(desired["CustomerRef"]) != ref_value(current.get("CustomerRef")):
        found.append("CustomerRef")
    if "TotalAmt" in desired and decimal(desired["TotalAmt"]) != decimal(current.get("TotalAmt")):
        found.append("TotalAmt")
    if "TxnTaxDetail" in desired and decimal(desired["TxnTaxDetail"].get("TotalTax")) != decimal(
            (current.get("TxnTaxDetail") or {}).get("TotalTax")):
        found.append("TotalTax")
    if "Line" in desired:
        payment = "PaymentRefNum" in desired
        mine = _payment_lines(desired["Line"]) if payment else _sales_lines(desired["Line"])
        theirs = _payment_lines(current.get("Line") or []) if payment else _sales_lines(current.get("Line") or [])
        if mine != theirs:
            found.append("Line")
    return found


def summary(entity: Mapping[str, Any]) -> str:
    """A few words a bookkeeper recognises: "Id 57, customer Smith, J, total 29.95"."""
    customer = (entity.get("CustomerRef") or {}).get("name") or ref_value(entity.get("CustomerRef"))
    return f"Id {entity.get('Id')}, customer {customer}, dated {entity.get('TxnDate')}, total {entity.get('TotalAmt')}"


def restore_body(before: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """A full (not sparse) update that puts back `before` on top of the object's current version."""
    body = {key: _numbers(key, value) for key, value in before.items() if key not in READ_ONLY}
    if "Line" in body:
        body["Line"] = [line for line in body["Line"] if line.get("DetailType") != "SubTotalLineDetail"]
    if "TotalAmt" in before and "PaymentRefNum" not in before and "UnappliedAmt" not in before:
        body.pop("TotalAmt", None)   # QuickBooks computes a sales form's total from its lines and tax
    body["Id"] = str(current["Id"])
    body["SyncToken"] = str(current["SyncToken"])
    return body


def _numbers(key: str, value: Any) -> Any:
    """Money read back from the ledger's JSON is text ("29.95"): make it a number again, exactly."""
    if isinstance(value, Mapping):
        return {k: _numbers(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(key, v) for v in value]
    if key in NUMERIC_KEYS and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    return value
