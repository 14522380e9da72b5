"""Receivables transactions and receipts as the emulator keeps them, and the rules a write must pass.

- an invoice (`receivablesInvoices`) or on-account credit memo (`receivablesCreditMemos`) is created with its
  lines; `InvoiceStatus` Complete puts it in the books (open balance, a payment schedule), Incomplete keeps it
  out; the customer must exist (`BillToCustomerNumber`), the business unit and transaction source too;
- `TransactionNumber` is unique within the transaction source, incomplete transactions included;
- a PATCH may change only `InvoiceStatus`, `PaymentTerms` and `TransactionDate` (lines never); a transaction
  with receipts applied cannot be made Incomplete; DELETE removes an Incomplete transaction only;
- nothing is completed, receipted or applied with an accounting date in a closed AR period;
- a standard receipt (`standardReceipts`) is applied to an invoice's installment with `action/applyReceipt`
  (`appliedPaymentScheduleId`, `amountApplied`; without an amount the open balance); what is not applied stays
  `UnappliedAmount`; `action/reverseReceipt` reverses it and its applications.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

CENT = Decimal("0.01")
TRANSACTIONS = ("receivablesInvoices", "receivablesCreditMemos")
HEADER = {"TransactionNumber", "TransactionDate", "AccountingDate", "BillToCustomerNumber", "BusinessUnit",
          "TransactionSource", "TransactionType", "DueDate", "InvoiceCurrencyCode", "PaymentTerms", "Comments",
          "InternalNotes", "InvoiceStatus", "receivablesInvoiceLines", "receivablesCreditMemoLines", "BillingDate",
          "CrossReference"}
LINE = {"LineNumber", "Description", "Quantity", "UnitSellingPrice", "MemoLine", "ItemNumber"}
PATCHABLE = {"InvoiceStatus", "PaymentTerms", "TransactionDate"}


class ArError(Exception):
    def __init__(self, status: int, code: str, text: str) -> None:
        super().__init__(text)
        self.status, self.code, self.text = status, code, text

    def body(self) -> dict[str, Any]:
        return {"title": "Bad Request" if self.status == 400 else "Error", "status": str(self.status),
                "o:errorDetails": [{"detail": self.text, "o:errorCode": self.code}]}


def cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


class Receivables:
    def __init__(self, store, settings, stamp: Callable[[], str]) -> None:
        self.store, self.settings, self.stamp = store, settings, stamp

    def save(self, kind: str, record: dict[str, Any]) -> dict[str, Any]:
        record["LastUpdateDate"] = self.stamp()
        self.store.put(kind, record)
        return record

    def check_period(self, day: str) -> None:
        closed = [p for p in self.store.all("periods") if p["closed"] and p["start"] <= day <= p["end"]]
        if closed:
            raise ArError(400, "AR_GL_DATE_CLOSED", f"The accounting date {day} is in a closed period "
                                                    f"({closed[0]['name']}). Enter a date in an open period.")

    def create(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - HEADER
        if unknown:
            raise ArError(400, "INVALID_ATTRIBUTE", f"The attribute {sorted(unknown)[0]} is not valid.")
        if body.get("BusinessUnit") != self.settings.business_unit:
            raise ArError(400, "AR_BU_NOT_FOUND", "The business unit you entered doesn't exist.")
        if body.get("TransactionSource") != self.settings.transaction_source:
            raise ArError(400, "AR_BATCH_SOURCE_NOT_FOUND", "The transaction source you entered doesn't exist.")
        customer = self.store.get("customers", body.get("BillToCustomerNumber") or "")
        if customer is None and self.settings.auto_customers and body.get("BillToCustomerNumber"):
            customer = {"id": str(body["BillToCustomerNumber"]), "name": str(body["BillToCustomerNumber"])}
            self.store.put("customers", customer)
        if customer is None:
            raise ArError(400, "AR_BILL_TO_CUST_NOT_FOUND", "The bill-to customer you entered doesn't exist.")
        number = body.get("TransactionNumber")
        if not number:
            raise ArError(400, "AR_TRX_NUMBER_REQ", "Enter a transaction number: the source numbers manually.")
        if any(r["TransactionNumber"] == number for k in TRANSACTIONS for r in self.store.all(k)):
            raise ArError(400, "AR_TRX_NUMBER_NOT_UNIQUE", f"The transaction number {number} already exists for the "
                                                           f"transaction source {self.settings.transaction_source}.")
        lines_key = "receivablesInvoiceLines" if kind == "receivablesInvoices" else "receivablesCreditMemoLines"
        lines = []
        for index, line in enumerate(body.get(lines_key) or []):
            if set(line) - LINE:
                raise ArError(400, "INVALID_ATTRIBUTE", f"The attribute {sorted(set(line) - LINE)[0]} is not valid.")
            if not (line.get("Description") or line.get("MemoLine") or line.get("ItemNumber")):
                raise ArError(400, "AR_LINE_ATTR_OPT_REQ", f"Enter a value for item, memo line, or description for "
                                                           f"line {index + 1}.")
            quantity, price = Decimal(str(line.get("Quantity", 1))), Decimal(str(line.get("UnitSellingPrice", 0)))
            lines.append({"LineNumber": index + 1, "Description": line.get("Description") or "", "Quantity": float(quantity),
                          "UnitSellingPrice": float(price), "LineAmount": float(cents(quantity * price))})
        if not lines:
            raise ArError(400, "AR_LINES_REQ", "Enter at least one transaction line.")
        sign = 1 if kind == "receivablesInvoices" else -1
        total = sign * sum((cents(l["LineAmount"]) for l in lines), Decimal(0))
        record_id = self.store.next_value("CustomerTransactionId") + 300000000
        day = body.get("TransactionDate") or self.stamp()[:10]
        record = {"id": record_id, "CustomerTransactionId": record_id, "TransactionNumber": number,
                  "TransactionDate": day, "AccountingDate": body.get("AccountingDate") or day,
                  "BillToCustomerNumber": customer["id"], "BillToCustomerName": customer["name"],
                  "BusinessUnit": body["BusinessUnit"], "TransactionSource": body["TransactionSource"],
                  "TransactionType": body.get("TransactionType") or ("Invoice" if sign > 0 else "Credit Memo"),
                  "DueDate": body.get("DueDate") or day, "InvoiceCurrencyCode": body.get("InvoiceCurrencyCode") or "USD",
                  "PaymentTerms": body.get("PaymentTerms") or "IMMEDIATE", "Comments": body.get("Comments"),
                  "EnteredAmount": float(total), "InvoiceBalanceAmount": 0.0, "InvoiceStatus": "Incomplete",
                  lines_key: lines, "_installment": self.store.next_value("InstallmentId") + 100000000, "_applied": []}
        self.save(kind, record)
        if (body.get("InvoiceStatus") or "Complete") == "Complete":
            self.set_status(kind, record, "Complete")
        return self.store.get(kind, record_id)

    def set_status(self, kind: str, record: dict[str, Any], status: str) -> None:
        if status not in ("Complete", "Incomplete"):
            raise ArError(400, "INVALID_VALUE", f"The value {status} is not valid for InvoiceStatus.")
        if status == record["InvoiceStatus"]:
            return
        self.check_period(record["AccountingDate"])
        if status == "Incomplete" and record["_applied"]:
            raise ArError(400, "AR_TRX_HAS_ACTIVITY", f"You can't make transaction {record['TransactionNumber']} "
                                                      f"incomplete because it has activity against it.")
        record["InvoiceStatus"] = status
        record["InvoiceBalanceAmount"] = record["EnteredAmount"] if status == "Complete" else 0.0
        self.save(kind, record)

    def patch(self, kind: str, record: dict[str, Any], body: dict[str, Any]) -> None:
        blocked = sorted(set(body) - PATCHABLE)
        if blocked:
            raise ArError(400, "AR_UPDATE_NOT_ALLOWED", "You can update only the InvoiceStatus, PaymentTerms, and "
                                                        f"TransactionDate attributes (not {blocked[0]}).")
        for field in ("PaymentTerms", "TransactionDate"):
            if field in body:
                record[field] = body[field]
        if "InvoiceStatus" in body:
            self.set_status(kind, record, body["InvoiceStatus"])
        self.save(kind, record)

    def delete(self, kind: str, record: dict[str, Any]) -> None:
        if record["InvoiceStatus"] != "Incomplete":
            raise ArError(400, "AR_DELETE_COMPLETE_TRX", f"You can't delete transaction {record['TransactionNumber']} "
                                                         f"because it's complete. Make it incomplete first.")
        self.store.remove(kind, record["id"])

    # --- receipts ---------------------------------------------------------------------------------

    def create_receipt(self, body: dict[str, Any]) -> dict[str, Any]:
        allowed = {"ReceiptNumber", "ReceiptMethod", "BusinessUnit", "Amount", "Currency", "ReceiptDate", "AccountingDate",
                   "RemittanceBankAccountNumber", "CustomerAccountNumber", "Comments"}
        if set(body) - allowed:
            raise ArError(400, "INVALID_ATTRIBUTE", f"The attribute {sorted(set(body) - allowed)[0]} is not valid.")
        if body.get("BusinessUnit") != self.settings.business_unit:
            raise ArError(400, "AR_BU_NOT_FOUND", "The business unit you entered doesn't exist.")
        if any(r["ReceiptNumber"] == body.get("ReceiptNumber") and r["CustomerAccountNumber"] == body.get(
                "CustomerAccountNumber") and r["Status"] != "Reversed" for r in self.store.all("standardReceipts")):
            raise ArError(400, "AR_RCPT_DUPLICATE", f"A receipt {body.get('ReceiptNumber')} already exists for this "
                                                    f"customer.")
        day = body.get("ReceiptDate") or self.stamp()[:10]
        self.check_period(body.get("AccountingDate") or day)
        amount = cents(body.get("Amount"))
        record_id = self.store.next_value("StandardReceiptId") + 400000000
        receipt = {"id": record_id, "StandardReceiptId": record_id, "ReceiptNumber": body.get("ReceiptNumber"),
                   "ReceiptMethod": body.get("ReceiptMethod") or "Manual", "BusinessUnit": body["BusinessUnit"],
                   "Amount": float(amount), "Currency": body.get("Currency") or "USD", "ReceiptDate": day,
                   "AccountingDate": body.get("AccountingDate") or day,
                   "CustomerAccountNumber": body.get("CustomerAccountNumber"), "UnappliedAmount": float(amount),
                   "Status": "Unapplied", "_applied": []}
        return self.save("standardReceipts", receipt)

    def apply_receipt(self, receipt: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        schedule = body.get("appliedPaymentScheduleId")
        invoice = next((r for r in self.store.all("receivablesInvoices") if r["_installment"] == schedule), None)
        if invoice is None or invoice["InvoiceStatus"] != "Complete":
            raise ArError(400, "AR_PS_NOT_FOUND", "The payment schedule you entered doesn't exist or isn't open.")
        self.check_period(receipt["AccountingDate"])
        amount = cents(body["amountApplied"]) if body.get("amountApplied") is not None else cents(
            invoice["InvoiceBalanceAmount"])
        if amount <= 0 or amount > cents(invoice["InvoiceBalanceAmount"]) or amount > cents(receipt["UnappliedAmount"]):
            raise ArError(400, "AR_RCPT_AMOUNT_INVALID", "The amount applied exceeds the transaction's balance or the "
                                                         "receipt's unapplied amount.")
        invoice["InvoiceBalanceAmount"] = float(cents(invoice["InvoiceBalanceAmount"]) - amount)
        invoice["_applied"].append([receipt["id"], float(amount)])
        self.save("receivablesInvoices", invoice)
        receipt["UnappliedAmount"] = float(cents(receipt["UnappliedAmount"]) - amount)
        receipt["_applied"].append([invoice["id"], float(amount)])
        receipt["Status"] = "Applied" if cents(receipt["UnappliedAmount"]) == 0 else "Unapplied"
        return self.save("standardReceipts", receipt)

    def reverse_receipt(self, receipt: dict[str, Any]) -> dict[str, Any]:
        if receipt["Status"] == "Reversed":
            raise ArError(400, "AR_RCPT_REVERSED", "The receipt is already reversed.")
        self.check_period(receipt["AccountingDate"])
        for invoice_id, amount in receipt["_applied"]:
            invoice = self.store.get("receivablesInvoices", invoice_id)
            invoice["InvoiceBalanceAmount"] = float(cents(invoice["InvoiceBalanceAmount"]) + cents(amount))
            invoice["_applied"] = [a for a in invoice["_applied"] if a[0] != receipt["id"]]
            self.save("receivablesInvoices", invoice)
        receipt.update(Status="Reversed", UnappliedAmount=0.0, _applied=[])
        return self.save("standardReceipts", receipt)


def month(day: dt.date) -> tuple[str, str, str]:
    start = day.replace(day=1)
    end = (start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1) - dt.timedelta(days=1))
    return start.strftime("%b-%y"), start.isoformat(), end.isoformat()
