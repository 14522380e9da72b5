"""FreeAgent's rules over the kit's document store: contacts, invoices, credit notes, bank transaction
explanations (payments), transitions, the locked period.

Kinds in the store: contacts, invoices, credit_notes, bank_transaction_explanations. Refusals are
`Refusal(status, message)`, answered as `{"errors": [{"message"}]}`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_assets.sandbox.kit.documents import DocumentStore
from bridge_assets.sandbox.kit.money import money as cents

ITEMS = {"invoices": "invoice_items", "credit_notes": "credit_note_items"}
NOUN = {"invoices": "Invoice", "credit_notes": "Credit note", "bank_transaction_explanations": "Bank transaction explanation"}
BANK_ACCOUNTS = [{"id": 1, "name": "Current Account", "type": "StandardBankAccount", "currency": "USD"}]
ITEM_TYPES = ("Hours", "Days", "Weeks", "Months", "Years", "Products", "Services", "Comment", "Stock", "-no unit-")


class Refusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message



def decimal(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Refusal(422, f"{field} is not a number") from None


def day(value: Any, field: str) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise Refusal(422, f"{field} is not a date") from None


def id_of(url: Any, plural: str) -> int | None:
    """The id at the end of a FreeAgent URL `.../v2/<plural>/<id>` (or a bare id)."""
    text = str(url or "").rstrip("/")
    head, _, tail = text.rpartition("/")
    if head and not head.endswith(f"/v2/{plural}"):
        return None
    try:
        return int(tail)
    except ValueError:
        return None


class Books:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def get(self, company: str, plural: str, value: Any) -> dict[str, Any]:
        row = self.store.get(company, plural, id_of(value, plural))
        if row is None or row["state"] == "deleted":
            raise Refusal(404, f"{NOUN.get(plural, 'Resource')} not found")
        return row

    def unlocked(self, company: str, plural: str, dated_on: str) -> None:
        locked = self.store.lock_date(company)
        if locked and dated_on <= locked:
            raise Refusal(403, f"{NOUN[plural]} is locked.")

    def create_contact(self, company: str, body: dict[str, Any]) -> int:
        organisation = str(body.get("organisation_name") or "").strip()
        if not organisation and not (body.get("first_name") and body.get("last_name")):
            raise Refusal(422, "organisation_name, or first_name and last_name, is required")
        kept = {k: str(body.get(k) or "") for k in ("organisation_name", "first_name", "last_name", "email")}
        return self.store.insert(company, "contacts", kept)

    def items(self, raw: Any, field: str) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
        if not isinstance(raw, list) or not raw:
            raise Refusal(422, f"{field} can't be blank")
        out, net, tax = [], Decimal(0), Decimal(0)
        for position, item in enumerate(raw, start=1):
            item_type = item.get("item_type") or "-no unit-"
            if item_type not in ITEM_TYPES:
                raise Refusal(422, f"{field}.item_type is not one of {', '.join(ITEM_TYPES)}")
            quantity, price = decimal(item.get("quantity", 1), "quantity"), decimal(item.get("price", 0), "price")
            rate = decimal(item.get("sales_tax_rate") or 0, "sales_tax_rate")
            if rate < 0 or rate > 100 or rate.as_tuple().exponent < -3:
                raise Refusal(422, "sales_tax_rate must be a percentage with at most 3 decimal places")
            line_net = cents(quantity * price)
            line_tax = cents(line_net * rate / 100)
            out.append({"position": position, "item_type": item_type, "description": str(item.get("description") or ""),
                        "quantity": quantity, "price": price, "sales_tax_rate": rate, "net": line_net, "tax": line_tax})
            net, tax = net + line_net, tax + line_tax
        return out, net, tax

    def save(self, company: str, plural: str, body: dict[str, Any], current: dict[str, Any] | None) -> int:
        kept = dict(current["body"]) if current else {"status": "Draft", "paid": Decimal(0), "currency": "USD"}
        if current is not None:
            self.unlocked(company, plural, kept["dated_on"])
            if kept["status"] != "Draft" and ITEMS[plural] in body:
                raise Refusal(422, f"{ITEMS[plural]}.description is locked and cannot be changed")
        if "contact" in body or current is None:
            kept["contact"] = self.get(company, "contacts", body.get("contact"))["id"]
        if "dated_on" in body or current is None:
            kept["dated_on"] = day(body.get("dated_on"), "dated_on")
        if current is None and body.get("payment_terms_in_days") is None:
            raise Refusal(422, "payment_terms_in_days can't be blank")
        if "payment_terms_in_days" in body:
            kept["payment_terms_in_days"] = int(body["payment_terms_in_days"])
        self.unlocked(company, plural, kept["dated_on"])
        if ITEMS[plural] in body or current is None:
            kept["items"], kept["net"], kept["tax"] = self.items(body.get(ITEMS[plural]), ITEMS[plural])
        if "comments" in body:
            kept["comments"] = str(body["comments"] or "")
        with self.store.transaction():
            if current is None or ("reference" in body and body["reference"] != kept.get("reference")):
                reference = str(body.get("reference") or "") or str(self.store.count(company, plural) + 1).zfill(3)
                taken = self.store.find(company, plural, number=reference)
                if taken is not None and (current is None or taken["id"] != current["id"]):
                    raise Refusal(422, "Reference is already in use")
                kept["reference"] = reference
            if current is None:
                return self.store.insert(company, plural, kept, number=kept["reference"])
            self.store.replace(company, plural, current["id"], kept, number=kept["reference"])
            return current["id"]

    def transition(self, company: str, plural: str, row: dict[str, Any], name: str) -> None:
        body = dict(row["body"])
        self.unlocked(company, plural, body["dated_on"])
        moves = {"mark_as_sent": ("Draft", "Open"), "mark_as_draft": ("Open", "Draft"),
                 "mark_as_cancelled": (None, "Cancelled")}
        if name not in moves:
            raise Refusal(404, "No such transition")
        before, after = moves[name]
        if (before is not None and body["status"] != before) or body["status"] == "Cancelled":
            raise Refusal(422, f"{NOUN[plural]} is {body['status']}; it cannot be {name.replace('_', ' ')}")
        if after == "Cancelled" and body["paid"]:
            raise Refusal(422, f"{NOUN[plural]} has payments explained against it; delete them first")
        if after == "Draft" and body["paid"]:
            raise Refusal(422, f"{NOUN[plural]} has payments; it cannot go back to draft")
        body["status"] = after
        self.store.replace(company, plural, row["id"], body)

    def delete(self, company: str, plural: str, row: dict[str, Any]) -> None:
        self.unlocked(company, plural, row["body"]["dated_on"])
        if plural in ITEMS and row["body"]["status"] != "Draft":
            raise Refusal(422, f"Only a draft {NOUN[plural].lower()} can be deleted; cancel it instead")
        if plural == "bank_transaction_explanations":
            invoice = self.store.get(company, "invoices", row["body"]["paid_invoice"])
            body = dict(invoice["body"])
            body["paid"] -= row["body"]["gross_value"]
            self.store.replace(company, "invoices", invoice["id"], body)
        self.store.replace(company, plural, row["id"], row["body"], state="deleted")

    def explain(self, company: str, body: dict[str, Any]) -> int:
        if id_of(body.get("bank_account"), "bank_accounts") not in {a["id"] for a in BANK_ACCOUNTS}:
            raise Refusal(422, "bank_account is not a bank account")
        rate = body.get("sales_tax_rate")
        if rate not in (None, "AUTO") and decimal(rate, "sales_tax_rate") > 0:
            raise Refusal(422, "sales_tax_rate must be the AUTO rate or a rate less than or equal to 0")
        gross, dated_on = cents(decimal(body.get("gross_value"), "gross_value")), day(body.get("dated_on"), "dated_on")
        with self.store.transaction():
            self.unlocked(company, "bank_transaction_explanations", dated_on)
            invoice = self.get(company, "invoices", body.get("paid_invoice"))
            if invoice["body"]["status"] != "Open" or gross <= 0:
                raise Refusal(422, "paid_invoice must be an open (sent) invoice, and gross_value above zero")
            kept = dict(invoice["body"])
            kept["paid"] += gross
            self.store.replace(company, "invoices", invoice["id"], kept)
            explanation = {"bank_account": 1, "dated_on": dated_on, "gross_value": gross,
                           "paid_invoice": invoice["id"], "description": str(body.get("description") or "")}
            return self.store.insert(company, "bank_transaction_explanations", explanation,
                                     number=explanation["description"] or None)
