"""BILL's AR rules (v3): customers and invoices, what is refused (`Refused`, answered as BILL's error array
`[{timestamp, code, severity, category, message}]`), and an invoice as the API renders it."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_assets.sandbox.kit.money import line_amount, money
from bridge_assets.sandbox.bill_com.store import Store

_FILTER = re.compile(r'^(\w+):(eq|gt|gte|lt|lte):"((?:[^"\\]|\\.)*)"$')


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, category: str = "VALIDATION") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.category = status, code, message, category

    def body(self) -> list[dict]:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"
        return [{"timestamp": stamp, "code": self.code, "severity": "ERROR", "category": self.category,
                 "message": self.message}]


def invalid(message: str) -> Refused:
    return Refused(400, "BDC_1000", message)


def new_id(prefix: str) -> str:
    """BILL's prefixed ids: customer 0cu..., invoice 00e..., organization 008... (20 characters)."""
    return prefix + secrets.token_hex(9)[: 20 - len(prefix)].upper()


def parse_filters(text: str | None) -> list[tuple[str, str, str]]:
    if not text:
        return []
    found = []
    for part in re.split(r',(?=\w+:)', text):
        match = _FILTER.match(part.strip())
        if match is None:
            raise invalid(f"Invalid filter {part!r}: use field:op:\"value\" with op eq, gt, gte, lt or lte")
        found.append((match.group(1), match.group(2), match.group(3).replace('\\"', '"')))
    return found


def matches(rendered: dict, filters: list[tuple[str, str, str]]) -> bool:
    for field, op, value in filters:
        if field not in ("invoiceNumber", "updatedTime", "createdTime", "name", "archived", "customerId"):
            raise invalid(f"{field} is not a filterable field")
        held = str(rendered.get(field, "")).lower() if field == "archived" else str(rendered.get(field, ""))
        if not {"eq": held == value, "gt": held > value, "gte": held >= value, "lt": held < value,
                "lte": held <= value}[op]:
            return False
    return True


def _decimal(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise invalid(f"{field} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise invalid(f"{field} must be a number") from None
    if not number.is_finite():
        raise invalid(f"{field} must be a number")
    return number


def _date(value: Any, field: str) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise invalid(f"{field} must be a date yyyy-MM-dd") from None


def customer_input(body: dict) -> dict:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("name is required")
    return {"name": name.strip(), "email": body.get("email"), "accountNumber": body.get("accountNumber")}


def invoice_input(store: Store, org: str, body: dict, existing: dict | None = None) -> dict:
    """A new invoice (`existing` None) or the fields of a PATCH over `existing` (lines given replace all)."""
    doc = dict(existing or {})
    customer = body.get("customer") if existing is None else (body.get("customer") or {"id": doc["customerId"]})
    if not isinstance(customer, dict) or not customer.get("id"):
        raise invalid("customer.id is required")
    if store.get("Customer", customer["id"], org) is None:
        raise Refused(404, "BDC_1148", f"Customer {customer['id']} not found", "NOT_FOUND")
    doc["customerId"] = customer["id"]
    if existing is None or "invoiceNumber" in body:
        number = body.get("invoiceNumber")
        if number is not None and (not isinstance(number, str) or not 1 <= len(number) <= 100):
            raise invalid("invoiceNumber must be 1 to 100 characters")
        doc["invoiceNumber"] = number or doc.get("invoiceNumber") or str(1 + len(store.listed("Invoice", org)))
    today = dt.date.today().isoformat()
    doc["invoiceDate"] = _date(body.get("invoiceDate") or doc.get("invoiceDate") or today, "invoiceDate")
    doc["dueDate"] = _date(body.get("dueDate") or doc.get("dueDate") or today, "dueDate")
    if doc["dueDate"] < doc["invoiceDate"]:
        raise invalid("dueDate cannot be before invoiceDate")
    if existing is None or "invoiceLineItems" in body:
        lines = body.get("invoiceLineItems")
        if not isinstance(lines, list) or not lines:
            raise invalid("invoiceLineItems must have at least one line")
        doc["lines"] = []
        for n, line in enumerate(lines):
            if not isinstance(line, dict) or line.get("quantity") is None:
                raise invalid(f"invoiceLineItems[{n}].quantity is required")
            doc["lines"].append({"quantity": str(_decimal(line["quantity"], f"invoiceLineItems[{n}].quantity")),
                                 "price": str(_decimal(line.get("price", 0), f"invoiceLineItems[{n}].price")),
                                 "description": str(line.get("description") or "")})
    doc.setdefault("archived", False)
    doc.setdefault("paid", "0")
    return doc


def render_invoice(store: Store, record: dict) -> dict:
    total = money(sum((line_amount(Decimal(l["quantity"]), Decimal(l["price"])) for l in record["lines"]), Decimal(0)))
    return {"id": record["id"], "invoiceNumber": record["invoiceNumber"], "customerId": record["customerId"],
            "customerName": (store.get("Customer", record["customerId"]) or {}).get("name"),
            "invoiceDate": record["invoiceDate"], "dueDate": record["dueDate"], "archived": record["archived"],
            "totalAmount": total, "dueAmount": total - Decimal(record.get("paid", "0")),
            "invoiceLineItems": [{"quantity": Decimal(l["quantity"]), "price": Decimal(l["price"]),
                                  "description": l["description"]} for l in record["lines"]],
            "createdTime": _time(record["created_at"]), "updatedTime": _time(record["modified_at"])}


def _time(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"
