"""Sage Accounting's rules over the kit's document store: contacts, sales invoices and credit notes,
receipts (contact payments) and allocations, the lockdown date.

Kinds in the store: contacts, sales_invoices, sales_credit_notes, contact_payments, contact_allocations.
Ids on the wire are 32 hex characters, the kind in the first two (`wire_id`), so an allocation can name an
invoice or a credit note alike. Refusals are `Refusal(status, data_code, message, source)`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_assets.sandbox.kit.documents import DocumentStore
from bridge_assets.sandbox.kit.money import money as cents

CODES = {"contacts": "c0", "sales_invoices": "a1", "sales_credit_notes": "a2", "contact_payments": "b1",
         "contact_allocations": "b2"}
KINDS = {code: kind for kind, code in CODES.items()}
LEDGER_ACCOUNTS = [{"id": "9f000000000000000000000000004000", "displayed_as": "Sales (4000)", "name": "Sales",
                    "nominal_code": 4000, "ledger_account_type": {"id": "SALES"}},
                   {"id": "9f000000000000000000000000004010", "displayed_as": "Services (4010)", "name": "Services",
                    "nominal_code": 4010, "ledger_account_type": {"id": "SALES"}}]
BANK_ACCOUNTS = [{"id": "9b000000000000000000000000001200", "displayed_as": "Checking (1200)", "name": "Checking"}]
TAX_RATES = [{"id": "US_NO_TAX", "displayed_as": "No Tax", "is_visible": True, "percentage": "0.0", "no_tax": True},
             {"id": "US_SALES_TAX", "displayed_as": "Sales Tax", "is_visible": True, "percentage": None,
              "no_tax": False}]
NUMBERS = {"sales_invoices": ("invoice_number", "SI-"), "sales_credit_notes": ("credit_note_number", "SCN-")}
LINES = {"sales_invoices": "invoice_lines", "sales_credit_notes": "credit_note_lines"}


class Refusal(Exception):
    def __init__(self, status: int, data_code: str, message: str, source: str = "") -> None:
        super().__init__(message)
        self.status, self.data_code, self.message, self.source = status, data_code, message, source



def amount(value: Any, source: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Refusal(422, "RecordInvalid", "is not a number", source) from None


def wire_id(kind: str, doc_id: int) -> str:
    return f"{CODES[kind]}{doc_id:030x}"


def own_id(value: Any) -> tuple[str | None, int | None]:
    text = str(value or "")
    try:
        return KINDS.get(text[:2]), int(text[2:], 16)
    except ValueError:
        return None, None


def day(value: Any, source: str = "date") -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise Refusal(422, "RecordInvalid", "is not a date (YYYY-MM-DD)", source) from None


class Books:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def get(self, business: str, kind: str, value: Any) -> dict[str, Any]:
        found_kind, doc_id = own_id(value)
        row = self.store.get(business, kind, doc_id) if found_kind == kind else None
        if row is None or row["state"] == "deleted":
            raise Refusal(404, "RecordNotFound", "Resource not found", kind)
        return row

    def open(self, business: str, date: str) -> None:
        lockdown = self.store.lock_date(business)
        if lockdown and date <= lockdown:
            raise Refusal(422, "RecordInvalid", f"Date must be after the lockdown date ({lockdown})", "date")

    def create_contact(self, business: str, body: dict[str, Any]) -> int:
        name, types = str(body.get("name") or "").strip(), body.get("contact_type_ids") or []
        if not name or types not in (["CUSTOMER"], ["VENDOR"]):
            raise Refusal(422, "RecordInvalid", "name and one contact_type_ids (CUSTOMER or VENDOR) are required", "name")
        reference = str(body.get("reference") or "") or None
        with self.store.transaction():
            if reference and self.store.find(business, "contacts", number=reference) is not None:
                raise Refusal(422, "RecordInvalid", "has already been taken", "reference")
            return self.store.insert(business, "contacts", {"name": name, "contact_type": types[0],
                                                            "reference": reference or ""}, number=reference)

    # --- invoices and credit notes ---------------------------------------------------------------------

    def lines(self, raw: Any, field: str) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
        if not isinstance(raw, list) or not raw:
            raise Refusal(422, "RecordInvalid", "can't be blank", field)
        out, net, tax = [], Decimal(0), Decimal(0)
        accounts, rates = {a["id"] for a in LEDGER_ACCOUNTS}, {r["id"]: r for r in TAX_RATES}
        for line in raw:
            if not line.get("description") or line.get("unit_price") is None:
                raise Refusal(422, "RecordInvalid", "description and unit_price are required", field)
            if line.get("ledger_account_id") not in accounts:
                raise Refusal(422, "RecordInvalid", "ledger_account_id is not a sales ledger account", "ledger_account_id")
            rate = rates.get(line.get("tax_rate_id") or "US_NO_TAX")
            if rate is None:
                raise Refusal(422, "RecordInvalid", "tax_rate_id is not a tax rate", "tax_rate_id")
            quantity, price = amount(line.get("quantity", 1), "quantity"), amount(line["unit_price"], "unit_price")
            line_net = cents(quantity * price)
            if rate["no_tax"]:
                line_tax = Decimal(0)
            elif line.get("tax_amount") is None:
                raise Refusal(422, "RecordInvalid", "tax_amount is required for this tax rate", "tax_amount")
            else:
                line_tax = cents(amount(line["tax_amount"], "tax_amount"))
            out.append({"description": str(line["description"]), "ledger_account_id": line["ledger_account_id"],
                        "quantity": quantity, "unit_price": price, "tax_rate_id": rate["id"], "net_amount": line_net,
                        "tax_amount": line_tax, "total_amount": line_net + line_tax})
            net, tax = net + line_net, tax + line_tax
        return out, net, tax

    def save(self, business: str, kind: str, body: dict[str, Any], current: dict[str, Any] | None) -> int:
        kept = dict(current["body"]) if current else {"allocated": Decimal(0), "reference": "", "notes": ""}
        if current is not None:
            if kept["status"] == "VOID" or kept["allocated"]:
                raise Refusal(422, "RecordInvalid", "can no longer be edited (not editable)", "base")
            self.open(business, kept["date"])
        else:
            kept["status"] = "DRAFT" if body.get("status_id") == "DRAFT" else "UNPAID"
        if "contact_id" in body or current is None:
            kept["contact_id"] = self.get(business, "contacts", body.get("contact_id"))["id"]
        if "date" in body or current is None:
            kept["date"] = day(body.get("date"))
        self.open(business, kept["date"])
        if LINES[kind] in body or current is None:
            kept["lines"], kept["net"], kept["tax"] = self.lines(body.get(LINES[kind]), LINES[kind])
        for field in ("reference", "notes"):
            if field in body:
                kept[field] = str(body[field] or "")
        field, prefix = NUMBERS[kind]
        with self.store.transaction():
            if current is None:
                kept[field] = f"{prefix}{self.store.count(business, kind) + 1}"
                return self.store.insert(business, kind, kept, number=kept["reference"] or None)
            self.store.replace(business, kind, current["id"], kept, number=kept["reference"] or None)
            return current["id"]

    def void(self, business: str, kind: str, row: dict[str, Any], reason: str | None) -> None:
        body = dict(row["body"])
        self.open(business, body["date"])
        if body["status"] == "DRAFT":
            self.store.replace(business, kind, row["id"], body, state="deleted")
            return
        if not reason:
            raise Refusal(422, "RecordInvalid", "void_reason is required unless the status is DRAFT", "void_reason")
        if body["allocated"]:
            raise Refusal(422, "RecordInvalid", "has payments or allocations; remove them first", "base")
        body.update(status="VOID", void_reason=reason)
        self.store.replace(business, kind, row["id"], body)

    # --- receipts and allocations ------------------------------------------------------------------------

    def _allocate(self, business: str, contact: int, artefacts: Any, sign_check: bool) -> list[dict[str, Any]]:
        kept = []
        for artefact in artefacts or []:
            kind, _ = own_id(artefact.get("artefact_id"))
            if kind not in NUMBERS:
                raise Refusal(422, "RecordInvalid", "is not an invoice or credit note", "artefact_id")
            row = self.get(business, kind, artefact["artefact_id"])
            share = cents(amount(artefact.get("amount"), "amount"))
            body = dict(row["body"])
            size = -share if kind == "sales_credit_notes" else share
            if body["contact_id"] != contact or body["status"] in ("VOID", "DRAFT"):
                raise Refusal(422, "RecordInvalid", "belongs to another contact, or is void or draft", "artefact_id")
            if size <= 0 or (sign_check and kind == "sales_credit_notes") or size > body["net"] + body["tax"] - body["allocated"]:
                raise Refusal(422, "RecordInvalid", "amount exceeds the outstanding amount (or has the wrong sign)",
                              "amount")
            body["allocated"] += size
            self.store.replace(business, kind, row["id"], body)
            kept.append({"artefact_id": artefact["artefact_id"], "amount": share})
        return kept

    def pay(self, business: str, body: dict[str, Any]) -> int:
        if body.get("transaction_type_id") != "CUSTOMER_RECEIPT":
            raise Refusal(422, "RecordInvalid", "only CUSTOMER_RECEIPT is emulated", "transaction_type_id")
        if body.get("bank_account_id") not in {b["id"] for b in BANK_ACCOUNTS}:
            raise Refusal(422, "RecordInvalid", "is not a bank account", "bank_account_id")
        contact = self.get(business, "contacts", body.get("contact_id"))["id"]
        total, date = cents(amount(body.get("total_amount"), "total_amount")), day(body.get("date"))
        with self.store.transaction():
            self.open(business, date)
            artefacts = self._allocate(business, contact, body.get("allocated_artefacts"), True)
            allocated = sum((a["amount"] for a in artefacts), Decimal(0))
            if total <= 0 or allocated > total:
                raise Refusal(422, "RecordInvalid", "the allocations exceed the total amount", "total_amount")
            kept = {"contact_id": contact, "bank_account_id": body["bank_account_id"], "date": date, "total_amount": total,
                    "reference": str(body.get("reference") or ""), "allocated_artefacts": artefacts,
                    "payment_on_account": total - allocated}
            return self.store.insert(business, "contact_payments", kept, number=kept["reference"] or None)

    def allocate(self, business: str, body: dict[str, Any]) -> int:
        contact = self.get(business, "contacts", body.get("contact_id"))["id"]
        with self.store.transaction():
            date = day(body.get("date"))
            self.open(business, date)
            artefacts = self._allocate(business, contact, body.get("allocated_artefacts"), False)
            if len(artefacts) < 2 or sum((a["amount"] for a in artefacts), Decimal(0)) != 0:
                raise Refusal(422, "RecordInvalid", "the artefacts' amounts must add up to zero", "allocated_artefacts")
            kept = {"contact_id": contact, "date": date, "transaction_type_id": "CUSTOMER_ALLOCATION",
                    "allocated_artefacts": artefacts}
            return self.store.insert(business, "contact_allocations", kept)

    def release(self, business: str, kind: str, row: dict[str, Any]) -> None:
        """Delete a receipt or an allocation: what it allocated is outstanding again."""
        with self.store.transaction():
            self.open(business, row["body"]["date"])
            for artefact in row["body"]["allocated_artefacts"]:
                artefact_kind, doc_id = own_id(artefact["artefact_id"])
                target = self.store.get(business, artefact_kind, doc_id)
                share = Decimal(str(artefact["amount"]))
                body = dict(target["body"])
                body["allocated"] -= -share if artefact_kind == "sales_credit_notes" else share
                self.store.replace(business, artefact_kind, doc_id, body)
            self.store.replace(business, kind, row["id"], row["body"], state="deleted")
