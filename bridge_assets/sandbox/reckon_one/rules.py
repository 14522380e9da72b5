"""Reckon One's rules for customers and invoices (v2, camelCase): what a request may hold, what is refused
(`Refused`, answered as `ErrorResponse {code, message, errors: [{location, message}]}`), and a record as
the API renders it."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_assets.sandbox.kit.money import money
from bridge_assets.sandbox.reckon_one.store import Store

TAX_STATUSES = ("NonTaxed", "Inclusive", "Exclusive")
_CLAUSE = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$")


class Refused(Exception):
    def __init__(self, status: int, message: str, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors or []

    def body(self) -> dict:
        return {"code": self.status, "message": self.message, **({"errors": self.errors} if self.errors else {})}


def invalid(location: str, message: str) -> Refused:
    return Refused(400, "The request is invalid.", [{"location": location, "message": message}])


def parse_filter(text: str | None) -> list[tuple[str, str]]:
    """`field eq 'value' [and ...]` (the only form the emulator serves); anything else is a 400."""
    if not text:
        return []
    clauses = []
    for part in re.split(r"\s+and\s+", text):
        match = _CLAUSE.match(part)
        if match is None:
            raise invalid("filter", f"The filter {text!r} is not supported here (use field eq 'value' [and ...]).")
        clauses.append((match.group(1), match.group(2).replace("''", "'")))
    return clauses


def matches(rendered: dict, clauses: list[tuple[str, str]]) -> bool:
    """Case-sensitive equality on a field of the rendered record (`customer` compares its name)."""
    for field, value in clauses:
        held = rendered.get(field)
        if isinstance(held, dict):
            held = held.get("name")
        if str(held) != value:
            return False
    return True


def _decimal(value: Any, location: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise invalid(location, "A number is required.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise invalid(location, "A number is required.") from None
    if not number.is_finite():
        raise invalid(location, "A number is required.")
    return number


def _moment(value: Any, location: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid(location, "A date-time such as 2020-02-06T12:00:00Z is required.") from None
    return moment.date().isoformat()


def customer_input(store: Store, book: str, body: dict) -> dict:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("name", "The name is required.")
    if any(c["name"] == name for c in store.listed("Customer", book)):
        raise invalid("name", f"A customer named {name} already exists.")
    return {"name": name, "reference": body.get("reference")}


def _customer(store: Store, book: str, value: Any) -> dict:
    if not isinstance(value, str) or not value:
        raise invalid("customer", "The customer (id or name) is required.")
    found = store.get("Customer", value, book) or next(
        (c for c in store.listed("Customer", book) if c["name"] == value), None)
    if found is None:
        raise invalid("customer", f"The customer {value!r} does not exist.")
    return found


def invoice_input(store: Store, book: str, body: dict) -> dict:
    customer = _customer(store, book, body.get("customer"))
    tax_status = body.get("amountTaxStatus")
    if tax_status not in TAX_STATUSES:
        raise invalid("amountTaxStatus", f"amountTaxStatus must be one of {', '.join(TAX_STATUSES)}.")
    invoice_date = _moment(body.get("invoiceDate"), "invoiceDate")
    due_date = _moment(body["dueDate"], "dueDate") if body.get("dueDate") else invoice_date
    if due_date < invoice_date:
        raise invalid("dueDate", "The due date cannot be before the invoice date.")
    lines = body.get("lineItems")
    if not isinstance(lines, list) or not lines:
        raise invalid("lineItems", "At least one line item is required.")
    accounts = {a["name"]: a for a in store.listed("LedgerAccount", book)}
    taxes = {t["code"]: t for t in store.listed("TaxRate", book)}
    built = []
    for n, line in enumerate(lines):
        where = f"lineItems[{n}]"
        if not isinstance(line, dict) or not isinstance(line.get("lineNumber"), int):
            raise invalid(f"{where}.lineNumber", "The line number is required.")
        details = line.get("accountDetails")
        if not isinstance(details, dict) or line.get("itemDetails"):
            raise invalid(where, "A line needs accountDetails (this emulator serves account lines only).")
        account = accounts.get(details.get("ledgerAccount")) or next(
            (a for a in accounts.values() if a["id"] == details.get("ledgerAccount")), None)
        if account is None:
            raise invalid(f"{where}.accountDetails.ledgerAccount", "The ledger account does not exist.")
        amount = money(_decimal(details.get("amount"), f"{where}.accountDetails.amount"))
        quantity = _decimal(details.get("quantity", 1), f"{where}.accountDetails.quantity")
        rate = line.get("taxRate")
        if tax_status != "NonTaxed" and rate not in taxes:
            raise invalid(f"{where}.taxRate", f"The tax rate {rate!r} does not exist.")
        tax = (money(_decimal(line.get("taxAmount"), f"{where}.taxAmount")) if line.get("taxIsModified")
               else money(amount * Decimal(taxes[rate]["rate"])) if tax_status == "Exclusive" else Decimal("0.00"))
        built.append({"lineNumber": line["lineNumber"], "description": line.get("description") or "",
                      "ledgerAccount": account["name"], "quantity": str(quantity), "amount": str(amount),
                      "taxRate": rate, "taxAmount": str(tax)})
    return {"customer": customer["id"], "invoiceDate": invoice_date, "dueDate": due_date, "amountTaxStatus": tax_status,
            "reference": body.get("reference") or "", "notes": body.get("notes") or "", "lineItems": built}


def next_number(store: Store, book: str) -> str:
    numbers = [int(i["invoiceNumber"]) for i in store.listed("Invoice", book) if i["invoiceNumber"].isdigit()]
    return str(max(numbers, default=0) + 1)


def new_id() -> str:
    return str(uuid.uuid4())


def render_invoice(store: Store, record: dict) -> dict:
    subtotal = sum((Decimal(l["amount"]) for l in record["lineItems"]), Decimal(0))
    tax = sum((Decimal(l["taxAmount"]) for l in record["lineItems"]), Decimal(0))
    customer = store.get("Customer", record["customer"]) or {}
    total = subtotal + tax
    return {"id": record["id"], "invoiceNumber": record["invoiceNumber"], "status": record["status"],
            "customer": {"id": record["customer"], "name": customer.get("name")},
            "invoiceDate": record["invoiceDate"] + "T00:00:00Z", "dueDate": record["dueDate"] + "T00:00:00Z",
            "amountTaxStatus": record["amountTaxStatus"], "reference": record["reference"], "notes": record["notes"],
            "lineItems": [{"lineNumber": l["lineNumber"], "description": l["description"], "taxRate": l["taxRate"],
                           "accountDetails": {"ledgerAccount": l["ledgerAccount"], "quantity": Decimal(l["quantity"]),
                                              "amount": Decimal(l["amount"])},
                           "taxAmount": Decimal(l["taxAmount"])} for l in record["lineItems"]],
            "amount": total, "taxAmount": tax, "balance": total - Decimal(record.get("paid", "0"))}
