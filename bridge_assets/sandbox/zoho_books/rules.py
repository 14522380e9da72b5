"""Zoho Books' rules over the kit's document store: contacts, items, invoices, credit notes, payments.

Refusals are `Refusal(status, code, message)`, answered as `{"code", "message"}`. Kinds in the store:
contact, item, invoice, creditnote, payment. Ids on the wire are Zoho's long digit strings
(`wire_id`). See settings.py for the choices made where Zoho is silent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_assets.sandbox.kit.documents import DocumentStore
from bridge_assets.sandbox.kit.money import money as cents

ID_BASE = 982_000_000_000
NUMBER_FIELD = {"invoice": "invoice_number", "creditnote": "creditnote_number"}
PREFIX = {"invoice": "INV-", "creditnote": "CN-"}


class Refusal(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message



def number(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Refusal(400, 2, f"Invalid value passed for {field}") from None


def wire_id(doc_id: int) -> str:
    return str(ID_BASE + doc_id)


def own_id(value: Any) -> int | None:
    try:
        return int(value) - ID_BASE
    except (TypeError, ValueError):
        return None


def day(value: Any, field: str) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise Refusal(400, 2, f"Invalid value passed for {field}") from None


class Books:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def get(self, org: str, kind: str, value: Any, what: str) -> dict[str, Any]:
        row = self.store.get(org, kind, own_id(value))
        if row is None or row["state"] == "deleted":
            raise Refusal(404, 1002, f"{what} does not exist.")
        return row

    def check_open(self, org: str, date: str) -> None:
        lock = self.store.lock_date(org)
        if lock and date < lock:
            raise Refusal(400, 4096, f"You cannot create, modify or delete transactions dated before the "
                                     f"transaction lock date ({lock}).")

    # --- contacts and items ----------------------------------------------------------------------------

    def create_contact(self, org: str, body: dict[str, Any]) -> int:
        name = str(body.get("contact_name") or "").strip()
        if not name:
            raise Refusal(400, 2, "contact_name is required")
        with self.store.transaction():
            if self.store.find(org, "contact", number=name) is not None:
                raise Refusal(400, 3062, f"The contact name \"{name}\" already exists.")
            return self.store.insert(org, "contact", {"contact_name": name, "contact_type": "customer"}, number=name)

    def create_item(self, org: str, body: dict[str, Any]) -> int:
        name = str(body.get("name") or "").strip()
        if not name or len(name) > 100 or body.get("rate") is None:
            raise Refusal(400, 2, "name (at most 100 characters) and rate are required")
        with self.store.transaction():
            if self.store.find(org, "item", number=name) is not None:
                raise Refusal(400, 1001, f"The item \"{name}\" already exists.")
            kept = {"name": name, "rate": number(body["rate"], "rate"), "description": str(body.get("description") or "")}
            return self.store.insert(org, "item", kept, number=name)

    # --- invoices and credit notes ---------------------------------------------------------------------

    def lines(self, org: str, raw: Any) -> tuple[list[dict[str, Any]], Decimal]:
        if not isinstance(raw, list) or not raw:
            raise Refusal(400, 2, "line_items is required")
        out, subtotal = [], Decimal(0)
        for order, line in enumerate(raw, start=1):
            if line.get("tax_id"):
                raise Refusal(400, 1008, "Tax does not exist.")
            item = self.get(org, "item", line.get("item_id"), "Item")
            rate, qty = number(line.get("rate", item["body"]["rate"]), "rate"), number(line.get("quantity", 1), "quantity")
            total = cents(rate * qty)
            out.append({"line_item_id": wire_id(order), "item_id": wire_id(item["id"]), "item_order": order,
                        "name": str(line.get("name") or item["body"]["name"]),
                        "description": str(line.get("description") or ""), "rate": rate, "quantity": qty,
                        "item_total": total})
            subtotal += total
        return out, subtotal

    def save(self, org: str, kind: str, body: dict[str, Any], current: dict[str, Any] | None,
             mandate_number: bool, unique: tuple[str, str] | None) -> int:
        """Create (`current` None) or replace an invoice or credit note; the line items are replaced whole."""
        kept = dict(current["body"]) if current else {"status": "draft" if kind == "invoice" else "open",
                                                       "applied": Decimal(0), "custom_fields": {}}
        if current is not None and kept["status"] == "void":
            raise Refusal(400, 1007, f"A void {kind} cannot be edited.")
        if "customer_id" in body or current is None:
            kept["customer_id"] = wire_id(self.get(org, "contact", body.get("customer_id"), "Contact")["id"])
        if "date" in body or current is None:
            kept["date"] = day(body.get("date") or dt.date.today().isoformat(), "date")
        if current is not None:
            self.check_open(org, current["body"]["date"])
        self.check_open(org, kept["date"])
        if "line_items" in body or current is None:
            kept["line_items"], kept["sub_total"] = self.lines(org, body.get("line_items"))
        for field in ("reference_number", "notes", "adjustment_description"):
            if field in body:
                kept[field] = str(body[field] or "")
        if "adjustment" in body:
            kept["adjustment"] = cents(number(body["adjustment"] or 0, "adjustment"))
        for field in body.get("custom_fields") or []:
            kept["custom_fields"][str(field.get("api_name"))] = str(field.get("value"))
        if unique is not None:
            kept["custom_fields"][unique[0]] = unique[1]
        if kept["sub_total"] + kept.get("adjustment", 0) < kept["applied"]:
            raise Refusal(400, 1013, "The total cannot be less than the payments and credits applied.")
        field = NUMBER_FIELD[kind]
        with self.store.transaction():
            if current is None:
                given = str(body.get(field) or "") if mandate_number else ""
                if mandate_number and not given:
                    raise Refusal(400, 2, f"{field} is required when ignore_auto_number_generation is true")
                kept[field] = given or f"{PREFIX[kind]}{self.store.count(org, kind) + 1:06d}"
            elif field in body and body[field] != kept[field]:
                kept[field] = str(body[field])
            taken = self.store.find(org, kind, number=kept[field])
            if taken is not None and (current is None or taken["id"] != current["id"]):
                raise Refusal(400, 1001, f"{kind.capitalize()} number {kept[field]} already exists.")
            if current is None:
                return self.store.insert(org, kind, kept, number=kept[field])
            self.store.replace(org, kind, current["id"], kept, number=kept[field])
            return current["id"]

    def by_unique_field(self, org: str, kind: str, field: str, value: str) -> dict[str, Any] | None:
        return next((row for row in self.store.rows(org, kind)
                     if row["state"] != "deleted" and row["body"]["custom_fields"].get(field) == value), None)

    def set_status(self, org: str, kind: str, row: dict[str, Any], status: str) -> None:
        body = dict(row["body"])
        self.check_open(org, body["date"])
        if status == "void" and body["status"] != "void":
            with self.store.transaction():
                self._unassociate(org, kind, row)
                body = dict(self.store.get(org, kind, row["id"])["body"])
                body["status"] = "void"
                self.store.replace(org, kind, row["id"], body)
            return
        moves = {"sent": ("draft",), "draft": ("void",), "open": ("void", "draft")}
        if body["status"] not in moves.get(status, ()):
            raise Refusal(400, 1007, f"The {kind} is {body['status']}; it cannot be marked {status}.")
        body["status"] = status
        self.store.replace(org, kind, row["id"], body)

    def delete(self, org: str, kind: str, row: dict[str, Any]) -> None:
        if row["body"].get("applied"):
            raise Refusal(400, 1010, "Invoices which have payment or credits note applied cannot be deleted.")
        self.check_open(org, row["body"]["date"])
        self.store.replace(org, kind, row["id"], row["body"], state="deleted")

    # --- payments and credit applications ------------------------------------------------------------

    def apply(self, org: str, target: dict[str, Any], customer: str, amount: Decimal) -> dict[str, Any]:
        body = dict(target["body"])
        if body["customer_id"] != customer:
            raise Refusal(400, 1013, "The invoice belongs to another customer.")
        if body["status"] in ("draft", "void"):
            raise Refusal(400, 1012, f"Invoice {body['invoice_number']} is {body['status']}; mark it sent first.")
        if amount <= 0 or amount > body["sub_total"] + body.get("adjustment", 0) - body["applied"]:
            raise Refusal(400, 1013, f"The amount applied exceeds the balance of invoice {body['invoice_number']}.")
        body["applied"] += amount
        self.store.replace(org, "invoice", target["id"], body)
        return body

    def pay(self, org: str, body: dict[str, Any]) -> int:
        customer = wire_id(self.get(org, "contact", body.get("customer_id"), "Contact")["id"])
        amount = cents(number(body.get("amount"), "amount"))
        date = day(body.get("date"), "date")
        if amount <= 0 or not body.get("payment_mode"):
            raise Refusal(400, 2, "amount (above zero) and payment_mode are required")
        with self.store.transaction():
            self.check_open(org, date)
            applied = []
            for entry in body.get("invoices") or []:
                share = cents(number(entry.get("amount_applied"), "amount_applied"))
                invoice = self.get(org, "invoice", entry.get("invoice_id"), "Invoice")
                self.apply(org, invoice, customer, share)
                applied.append({"invoice_id": wire_id(invoice["id"]), "amount_applied": share,
                                "invoice_number": invoice["body"]["invoice_number"]})
            if sum((a["amount_applied"] for a in applied), Decimal(0)) > amount:
                raise Refusal(400, 1013, "The amounts applied exceed the payment.")
            kept = {"customer_id": customer, "amount": amount, "date": date, "payment_mode": str(body["payment_mode"]),
                    "reference_number": str(body.get("reference_number") or ""), "invoices": applied}
            return self.store.insert(org, "payment", kept, number=kept["reference_number"] or None)

    def apply_credit(self, org: str, credit: dict[str, Any], entries: list[dict[str, Any]]) -> None:
        body = dict(credit["body"])
        if body["status"] != "open":
            raise Refusal(400, 1007, f"The credit note is {body['status']}.")
        with self.store.transaction():
            self.check_open(org, body["date"])
            for entry in entries:
                share = cents(number(entry.get("amount_applied"), "amount_applied"))
                if share > body["sub_total"] + body.get("adjustment", 0) - body["applied"]:
                    raise Refusal(400, 1013, "The amount applied exceeds the credit note's balance.")
                invoice = self.get(org, "invoice", entry.get("invoice_id"), "Invoice")
                self.apply(org, invoice, body["customer_id"], share)
                body["applied"] += share
                body.setdefault("invoices", []).append({"invoice_id": wire_id(invoice["id"]), "amount_applied": share,
                                                        "invoice_number": invoice["body"]["invoice_number"]})
            self.store.replace(org, "creditnote", credit["id"], body)

    def unpay(self, org: str, payment: dict[str, Any]) -> None:
        with self.store.transaction():
            self.check_open(org, payment["body"]["date"])
            self._give_back(org, payment["body"].get("invoices") or [])
            self.store.replace(org, "payment", payment["id"], payment["body"], state="deleted")

    def _give_back(self, org: str, applications: list[dict[str, Any]]) -> None:
        for entry in applications:
            invoice = self.store.get(org, "invoice", own_id(entry["invoice_id"]))
            body = dict(invoice["body"])
            body["applied"] -= Decimal(str(entry["amount_applied"]))
            self.store.replace(org, "invoice", invoice["id"], body)

    def _unassociate(self, org: str, kind: str, row: dict[str, Any]) -> None:
        """Voiding: a credit note's applications are given back; an invoice's payments and credits let go of it."""
        if kind == "creditnote":
            self._give_back(org, row["body"].get("invoices") or [])
            body = dict(row["body"], invoices=[], applied=Decimal(0))
            self.store.replace(org, kind, row["id"], body)
            return
        mine = wire_id(row["id"])
        for other_kind in ("payment", "creditnote"):
            for other in self.store.rows(org, other_kind):
                kept = [a for a in other["body"].get("invoices") or [] if a["invoice_id"] != mine]
                if len(kept) != len(other["body"].get("invoices") or []):
                    freed = sum((Decimal(str(a["amount_applied"])) for a in other["body"]["invoices"]
                                 if a["invoice_id"] == mine), Decimal(0))
                    body = dict(other["body"], invoices=kept)
                    if other_kind == "creditnote":
                        body["applied"] -= freed
                    self.store.replace(org, other_kind, other["id"], body)
        self.store.replace(org, kind, row["id"], dict(row["body"], applied=Decimal(0)))
