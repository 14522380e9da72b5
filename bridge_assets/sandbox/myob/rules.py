"""MYOB's rules over the kit's document store: customers, service sale invoices (a credit note is one with a
negative total), credit settlements, customer payments, row versions, the lock period.

Kinds in the store: customers, invoices, settlements, payments. UIDs are GUIDs with the kind in their
second group (`uid`). Refusals are `Refusal(status, name, message, code)`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_assets.sandbox.kit.documents import DocumentStore
from bridge_assets.sandbox.kit.money import money as cents

CODES = {"customers": "c057", "invoices": "1a70", "settlements": "5e77", "payments": "9a11"}
KINDS = {code: kind for kind, code in CODES.items()}
ACCOUNTS = [{"UID": "acc00001-0000-4000-8000-000000041000", "DisplayID": "4-1000", "Name": "Sales", "Type": "Income"},
            {"UID": "acc00002-0000-4000-8000-000000011110", "DisplayID": "1-1110", "Name": "Business Bank Account",
             "Type": "Bank"}]


class Refusal(Exception):
    def __init__(self, status: int, name: str, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.status, self.name, self.message, self.code = status, name, message, code



def number(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Refusal(400, "SerializationError", f"{field} is not a number", 50) from None


def uid(kind: str, doc_id: int) -> str:
    return f"{doc_id:08x}-{CODES[kind]}-4000-8000-000000000000"


def own_id(value: Any) -> tuple[str | None, int | None]:
    parts = str(value or "").split("-")
    if len(parts) != 5:
        return None, None
    try:
        return KINDS.get(parts[1]), int(parts[0], 16)
    except ValueError:
        return None, None


def day(value: Any) -> str:
    try:
        return dt.datetime.fromisoformat(str(value).replace(" ", "T")).date().isoformat()
    except ValueError:
        raise Refusal(400, "Required", "Date is required (YYYY-MM-DD HH:MM:SS)", 100) from None


class Books:
    def __init__(self, store: DocumentStore, tax_codes: dict[str, str], must_reverse: bool) -> None:
        self.store, self.must_reverse = store, must_reverse
        self.tax_codes = {f"7ac0{n:04x}-0000-4000-8000-000000000000": (code, Decimal(rate))
                          for n, (code, rate) in enumerate(sorted(tax_codes.items()), start=1)}

    def get(self, cf: str, kind: str, value: Any) -> dict[str, Any]:
        found, doc_id = own_id(value)
        row = self.store.get(cf, kind, doc_id) if found == kind else None
        if row is None or row["state"] == "deleted":
            raise Refusal(404, "NotFound", "The requested resource was not found", 150)
        return row

    def unlocked(self, cf: str, date: str) -> None:
        lock = self.store.lock_date(cf)
        if lock and date <= lock:
            raise Refusal(400, "BusinessEvent_DateOccured_InLockPeriod",
                          f"You may not record transactions on or before the lock date ({lock})", 25010)

    @staticmethod
    def no_identity(body: dict[str, Any]) -> None:
        if any(key in body for key in ("UID", "RowID", "RowVersion")):
            raise Refusal(409, "PostWithIdentity", "UID, RowID and RowVersion must not be sent on POST", 150)

    def create_customer(self, cf: str, body: dict[str, Any]) -> int:
        self.no_identity(body)
        name = str(body.get("CompanyName") or "").strip()
        if not name and not body.get("LastName"):
            raise Refusal(400, "Required", "CompanyName (or LastName) is required", 100)
        display = str(body.get("DisplayID") or "")[:15]
        with self.store.transaction():
            if display and self.store.find(cf, "customers", number=display) is not None:
                raise Refusal(400, "DuplicateDisplayID", f"Card ID {display} is already in use", 110)
            kept = {"CompanyName": name, "LastName": str(body.get("LastName") or ""), "DisplayID": display,
                    "IsIndividual": bool(body.get("IsIndividual", False))}
            return self.store.insert(cf, "customers", kept, number=display or None)

    # --- invoices ---------------------------------------------------------------------------------------

    def lines(self, raw: Any, previous: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
        if not isinstance(raw, list) or not raw:
            raise Refusal(400, "Required", "Lines is required", 100)
        known = {line["RowID"]: line for line in previous}
        out, subtotal, tax, next_row = [], Decimal(0), Decimal(0), max(known, default=0) + 1
        for line in raw:
            row_id = line.get("RowID")
            if row_id is not None:
                if row_id not in known or str(line.get("RowVersion")) != str(known[row_id]["RowVersion"]):
                    raise Refusal(409, "IncorrectRowVersionSupplied", "A line's RowVersion is not its current one", 300)
            else:
                row_id, next_row = next_row, next_row + 1
            account = (line.get("Account") or {}).get("UID")
            if account not in {a["UID"] for a in ACCOUNTS if a["Type"] == "Income"}:
                raise Refusal(400, "Required", "Account is required (an income account)", 100)
            code = self.tax_codes.get((line.get("TaxCode") or {}).get("UID"))
            if code is None:
                raise Refusal(400, "Required", "TaxCode is required", 100)
            total = cents(number(line.get("Total"), "Total"))
            line_tax = cents(total * code[1] / 100)
            out.append({"RowID": row_id, "RowVersion": str(int(known.get(row_id, {}).get("RowVersion", 0)) + 1),
                        "Type": "Transaction", "Description": str(line.get("Description") or "")[:1000],
                        "Total": total, "Account": account, "TaxCode": (line.get("TaxCode") or {})["UID"],
                        "Tax": line_tax})
            subtotal, tax = subtotal + total, tax + line_tax
        return out, subtotal, tax

    def save(self, cf: str, body: dict[str, Any], current: dict[str, Any] | None) -> int:
        if current is None:
            self.no_identity(body)
            kept: dict[str, Any] = {"applied": Decimal(0)}
        else:
            kept = dict(current["body"])
            if str(body.get("RowVersion")) != str(kept["RowVersion"]):
                raise Refusal(409, "IncorrectRowVersionSupplied", "The update operation requires a valid RowVersion", 300)
            self.unlocked(cf, kept["Date"])
        kept["Customer"] = self.get(cf, "customers", (body.get("Customer") or {}).get("UID"))["id"]
        kept["Date"] = day(body.get("Date"))
        self.unlocked(cf, kept["Date"])
        kept["Lines"], kept["Subtotal"], kept["TotalTax"] = self.lines(body.get("Lines"), kept.get("Lines") or [])
        if kept["Subtotal"] + kept["TotalTax"] < 0 and kept["applied"]:
            raise Refusal(400, "InvalidAmount", "The credit is already settled past this amount", 120)
        for field in ("CustomerPurchaseOrderNumber", "JournalMemo"):
            kept[field] = str(body.get(field) or "")
        kept["RowVersion"] = str(int(kept.get("RowVersion", 0)) + 1)
        with self.store.transaction():
            given = str(body.get("Number") or "") or (current["body"]["Number"] if current else "")
            if len(given) > 13:
                raise Refusal(400, "MaxLengthExceeded", "Number is longer than 13 characters", 130)
            if not given:
                given = f"{self.store.count(cf, 'invoices') + 1:08d}"
            taken = self.store.find(cf, "invoices", number=given, state="active")
            if taken is not None and (current is None or taken["id"] != current["id"]):
                raise Refusal(400, "DuplicateNumber", f"Invoice number {given} is already in use", 140)
            kept["Number"] = given
            if current is None:
                return self.store.insert(cf, "invoices", kept, number=given)
            self.store.replace(cf, "invoices", current["id"], kept, number=given)
            return current["id"]

    def delete(self, cf: str, kind: str, row: dict[str, Any]) -> None:
        if self.must_reverse and kind in ("invoices", "payments"):
            raise Refusal(400, "TransactionsCannotBeDeleted", "Transactions cannot be deleted and must be reversed", 25003)
        self.unlocked(cf, row["body"]["Date"])
        with self.store.transaction():
            if kind == "invoices" and row["body"]["applied"]:
                raise Refusal(400, "TransactionHasPayments", "Delete the payments and settlements applied to it first",
                              25004)
            for target, share in row["body"].get("Applied", []):
                self._apply(cf, target, -Decimal(str(share)))
            if kind == "settlements":
                self._apply(cf, row["body"]["CreditFromInvoice"], Decimal(str(row["body"]["Total"])))
            self.store.replace(cf, kind, row["id"], row["body"], state="deleted")

    # --- settlements and payments ------------------------------------------------------------------------

    def _apply(self, cf: str, target: int, amount: Decimal) -> dict[str, Any]:
        row = self.store.get(cf, "invoices", target)
        body = dict(row["body"])
        body["applied"] += amount
        body["RowVersion"] = str(int(body["RowVersion"]) + 1)
        self.store.replace(cf, "invoices", target, body)
        return body

    def _invoices(self, cf: str, customer: int, lines: Any, key: str) -> list[tuple[int, Decimal]]:
        applied = []
        for line in lines or []:
            row = self.get(cf, "invoices", (line.get(key) or {}).get("UID") if key == "Sale" else line.get("UID"))
            share = cents(number(line.get("AmountApplied"), "AmountApplied"))
            body = row["body"]
            if body["Customer"] != customer or share <= 0 or share > body["Subtotal"] + body["TotalTax"] - body["applied"]:
                raise Refusal(400, "InvalidAmount", "AmountApplied exceeds the invoice's balance due (or another "
                                                    "customer's invoice)", 120)
            applied.append((row["id"], share))
        if not applied:
            raise Refusal(400, "Required", "Invoices is required", 100)
        return applied

    def settle(self, cf: str, body: dict[str, Any]) -> int:
        self.no_identity(body)
        credit = self.get(cf, "invoices", (body.get("CreditFromInvoice") or {}).get("UID"))
        date = day(body.get("Date"))
        with self.store.transaction():
            self.unlocked(cf, date)
            customer = credit["body"]["Customer"]
            applied = self._invoices(cf, customer, body.get("Lines"), "Sale")
            total = sum((share for _, share in applied), Decimal(0))
            left = -(credit["body"]["Subtotal"] + credit["body"]["TotalTax"]) - credit["body"]["applied"]
            if total > left:
                raise Refusal(400, "InvalidAmount", "The settlement exceeds the credit available", 120)
            for target, share in applied:
                self._apply(cf, target, share)
            self._apply(cf, credit["id"], total)
            kept = {"CreditFromInvoice": credit["id"], "Customer": customer, "Date": date, "Total": -total,
                    "Applied": [[t, str(s)] for t, s in applied], "RowVersion": "1"}
            return self.store.insert(cf, "settlements", kept)

    def pay(self, cf: str, body: dict[str, Any]) -> int:
        self.no_identity(body)
        if body.get("DepositTo") not in ("Account", "UndepositedFunds"):
            raise Refusal(400, "Required", "DepositTo is required (Account or UndepositedFunds)", 100)
        if body["DepositTo"] == "Account" and (body.get("Account") or {}).get("UID") not in {
                a["UID"] for a in ACCOUNTS if a["Type"] == "Bank"}:
            raise Refusal(400, "Required", "Account is required (a bank account)", 100)
        customer = self.get(cf, "customers", (body.get("Customer") or {}).get("UID"))["id"]
        received, date = cents(number(body.get("AmountReceived"), "AmountReceived")), day(body.get("Date"))
        receipt = str(body.get("ReceiptNumber") or "")
        if len(receipt) > 13:
            raise Refusal(400, "MaxLengthExceeded", "ReceiptNumber is longer than 13 characters", 130)
        with self.store.transaction():
            self.unlocked(cf, date)
            applied = self._invoices(cf, customer, body.get("Invoices"), "UID")
            if sum((share for _, share in applied), Decimal(0)) != received:
                raise Refusal(400, "AmountReceivedMismatch", "AmountReceived must equal the amounts applied", 120)
            for target, share in applied:
                self._apply(cf, target, share)
            kept = {"Customer": customer, "Date": date, "AmountReceived": received, "ReceiptNumber": receipt,
                    "Memo": str(body.get("Memo") or ""), "Account": (body.get("Account") or {}).get("UID"),
                    "PaymentMethod": str(body.get("PaymentMethod") or ""), "Applied": [[t, str(s)] for t, s in applied],
                    "RowVersion": "1"}
            return self.store.insert(cf, "payments", kept, number=receipt or None)
