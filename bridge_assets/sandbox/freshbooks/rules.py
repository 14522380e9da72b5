"""FreshBooks' accounting rules over the kit's document store: clients, invoices, credit notes, payments.

Every refusal is a `Refusal(status, errno, message, field, object)`, answered in FreshBooks' error body
by the API layer. Money is Decimal throughout; what a document holds is kept as the emulator's own
body and rendered in FreshBooks' wire names by `render`. See settings.py for the choices made where
FreshBooks' documentation is silent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bridge_assets.sandbox.kit.documents import DocumentStore
from bridge_assets.sandbox.kit.money import CENT
from bridge_assets.sandbox.kit.money import money as cents

EASTERN = ZoneInfo("America/New_York")
VIS_ACTIVE, VIS_DELETED = 0, 1
STATUS = {1: "draft", 2: "sent", 4: "paid", 8: "partial"}
ID_NAMES = {"client": "userid", "invoice": "invoiceid", "credit_note": "creditid", "payment": "logid"}


class Refusal(Exception):
    def __init__(self, status: int, errno: int, message: str, field: str | None = None,
                 obj: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.status, self.errno, self.message, self.field, self.obj, self.value = status, errno, message, field, obj, value



def decimal(value: Any, field: str, obj: str) -> Decimal:
    if isinstance(value, dict):
        value = value.get("amount")
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Refusal(422, 1004, f"Invalid value for {field}.", field, obj, value) from None


def eastern(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, EASTERN).strftime("%Y-%m-%d %H:%M:%S")


def day(value: Any, field: str, obj: str) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise Refusal(422, 1004, f"Invalid value for {field}: use YYYY-MM-DD.", field, obj, value) from None


class Books:
    """One emulator's accounts; `account` is FreshBooks' accountId (the store's book)."""

    def __init__(self, store: DocumentStore, currency: str) -> None:
        self.store, self.currency = store, currency

    def money(self, amount: Decimal) -> dict[str, str]:
        return {"amount": f"{cents(amount):.2f}", "code": self.currency}

    def existing(self, account: str, kind: str, doc_id: Any, *, writable: bool = True) -> dict[str, Any]:
        row = self.store.get(account, kind, doc_id)
        if row is None:
            raise Refusal(404, 1012, f"{kind.replace('_', ' ').capitalize()} not found.", ID_NAMES[kind], kind, doc_id)
        if writable and row["state"] == "deleted":
            raise Refusal(422, 1011, "This resource has been deleted and cannot be changed.", "vis_state", kind, doc_id)
        return row

    # --- lines and numbers ---------------------------------------------------------------------------

    def lines(self, raw: Any, obj: str) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
        if not isinstance(raw, list) or not raw:
            raise Refusal(422, 1001, "Field lines is required.", "lines", obj)
        out, subtotal, tax = [], Decimal(0), Decimal(0)
        for number, line in enumerate(raw, start=1):
            qty = decimal(line.get("qty", 1), "qty", "line")
            unit = decimal(line.get("unit_cost", {"amount": 0}), "unit_cost", "line")
            if unit != unit.quantize(CENT):
                raise Refusal(422, 1004, "unit_cost is money: at most 2 decimal places.", "unit_cost", "line",
                              str(unit))
            amount = cents(qty * unit)
            kept = {"lineid": number, "type": int(line.get("type", 0)), "name": str(line.get("name") or ""),
                    "description": str(line.get("description") or ""), "qty": qty, "unit_cost": unit,
                    "amount": amount}
            for n in (1, 2):
                percent = line.get(f"taxAmount{n}")
                if percent in (None, "", 0):
                    continue
                percent = decimal(percent, f"taxAmount{n}", "line")
                if percent < 0 or percent > 100 or percent.as_tuple().exponent < -3:
                    raise Refusal(422, 1018, "Tax percentage must be between 0 and 100 with at most 3 decimal places.",
                                  f"taxAmount{n}", "line", str(percent))
                kept[f"taxName{n}"], kept[f"taxAmount{n}"] = str(line.get(f"taxName{n}") or ""), percent
                tax += cents(amount * percent / 100)
            subtotal += amount
            out.append(kept)
        return out, subtotal, tax

    def number(self, account: str, kind: str, given: Any, field: str, current_id: int | None = None) -> str:
        if given in (None, ""):
            return f"{self.store.count(account, kind) + 1:07d}"
        given = str(given)
        if len(given) > 32:
            raise Refusal(422, 1017, f"{field} is longer than 32 characters.", field, kind, given)
        taken = self.store.find(account, kind, number=given)
        if taken is not None and taken["id"] != current_id:
            raise Refusal(422, 1004, f"{field.replace('_', ' ').capitalize()} {given} already exists.", field, kind,
                          given)
        return given

    def client(self, account: str, client_id: Any, obj: str) -> dict[str, Any]:
        if client_id in (None, ""):
            raise Refusal(422, 1001, "Field customerid is required.", "customerid", obj)
        return self.existing(account, "client", client_id)

    # --- writes --------------------------------------------------------------------------------------

    def create(self, account: str, kind: str, body: dict[str, Any]) -> int:
        if kind == "client":
            if not (body.get("organization") or body.get("fname") or body.get("lname") or body.get("email")):
                raise Refusal(422, 1001, "A client needs an organization, a name or an email.", "organization", kind)
            kept = {k: str(body.get(k) or "") for k in ("organization", "fname", "lname", "email")}
            return self.store.insert(account, kind, {**kept, "currency_code": self.currency})
        if kind == "payment":
            return self.pay(account, body)
        is_invoice = kind == "invoice"
        client_field = "customerid" if is_invoice else "clientid"
        self.client(account, body.get(client_field), kind)
        lines, subtotal, tax = self.lines(body.get("lines"), kind)
        number_field = "invoice_number" if is_invoice else "credit_number"
        with self.store.transaction():
            number = self.number(account, kind, body.get(number_field), number_field)
            kept = {client_field: int(body[client_field]), "create_date": day(body.get("create_date"), "create_date",
                                                                                 kind),
                    number_field: number, "lines": lines, "subtotal": subtotal, "tax": tax, "used": Decimal(0),
                    "notes": str(body.get("notes") or ""), "po_number": str(body.get("po_number") or ""),
                    "sent": False, "credit_type": str(body.get("credit_type") or "goodwill")}
            return self.store.insert(account, kind, kept, number=number)

    def update(self, account: str, kind: str, doc_id: Any, body: dict[str, Any]) -> None:
        row = self.existing(account, kind, doc_id, writable=False)
        kept = dict(row["body"])
        if "vis_state" in body:
            self.set_visibility(account, kind, row, int(body["vis_state"]))
            return
        if row["state"] == "deleted":
            raise Refusal(422, 1011, "This resource has been deleted and cannot be changed.", "vis_state", kind, doc_id)
        if kind in ("payment", "client"):
            raise Refusal(422, 1004, f"Only vis_state can be changed on a {kind} here.", "vis_state", kind)
        number_field = "invoice_number" if kind == "invoice" else "credit_number"
        client_field = "customerid" if kind == "invoice" else "clientid"
        with self.store.transaction():
            if client_field in body:
                self.client(account, body[client_field], kind)
                kept[client_field] = int(body[client_field])
            if "create_date" in body:
                kept["create_date"] = day(body["create_date"], "create_date", kind)
            if number_field in body:
                kept[number_field] = self.number(account, kind, body[number_field], number_field, row["id"])
            if "lines" in body:
                kept["lines"], kept["subtotal"], kept["tax"] = self.lines(body["lines"], kind)
                if kept["subtotal"] + kept["tax"] < kept["used"]:
                    raise Refusal(422, 1004, "The new amount is less than what has been paid or applied.", "lines",
                                  kind)
            for field in ("notes", "po_number"):
                if field in body:
                    kept[field] = str(body[field] or "")
            if body.get("action_mark_as_sent"):
                kept["sent"] = True
            self.store.replace(account, kind, row["id"], kept, number=kept.get(number_field))

    def set_visibility(self, account: str, kind: str, row: dict[str, Any], vis_state: int) -> None:
        """Delete (1) or restore (0); a payment's deletion gives its invoice and credit back their money."""
        wanted = "deleted" if vis_state == VIS_DELETED else "active"
        if row["state"] == wanted:
            return
        with self.store.transaction():
            if kind == "payment":
                self._unpay(account, row) if wanted == "deleted" else self._repay(account, row)
            elif wanted == "deleted" and row["body"].get("used"):
                noun = "invoice" if kind == "invoice" else "credit note"
                raise Refusal(422, 1004, f"This {noun} has payments or credits applied; delete them first.",
                              "vis_state", kind, row["id"])
            self.store.replace(account, kind, row["id"], row["body"], state=wanted)

    # --- payments and credit applications --------------------------------------------------------------

    def pay(self, account: str, body: dict[str, Any]) -> int:
        amount = decimal(body.get("amount"), "amount", "payment")
        if amount <= 0:
            raise Refusal(422, 1004, "A payment amount must be greater than zero.", "amount", "payment", str(amount))
        if body.get("invoiceid") in (None, ""):
            raise Refusal(422, 1001, "Field invoiceid is required.", "invoiceid", "payment")
        with self.store.transaction():
            invoice = self.existing(account, "invoice", body["invoiceid"])
            owed = invoice["body"]["subtotal"] + invoice["body"]["tax"] - invoice["body"]["used"]
            kept = {"invoiceid": invoice["id"], "amount": amount, "date": day(body.get("date"), "date", "payment"),
                    "type": str(body.get("type") or "Check"), "note": str(body.get("note") or ""),
                    "clientid": invoice["body"]["customerid"], "creditid": None, "overpaymentid": None,
                    "applied": min(amount, owed)}
            if body.get("creditid") not in (None, ""):
                credit = self.existing(account, "credit_note", body["creditid"])
                left = credit["body"]["subtotal"] + credit["body"]["tax"] - credit["body"]["used"]
                if credit["body"]["clientid"] != kept["clientid"]:
                    raise Refusal(422, 1004, "The credit belongs to another client.", "creditid", "payment")
                if amount > left or amount > owed:
                    raise Refusal(422, 1004, f"Only {cents(min(left, owed))} of this credit can be applied.",
                                  "amount", "payment", str(amount))
                kept["creditid"], kept["type"] = credit["id"], "Credit"
                self._use(account, "credit_note", credit, amount)
            elif amount > owed:
                excess = {"clientid": kept["clientid"], "create_date": kept["date"], "credit_number": None,
                          "lines": [], "subtotal": amount - owed, "tax": Decimal(0), "used": Decimal(0),
                          "credit_type": "overpayment", "notes": "", "po_number": "", "sent": True}
                kept["overpaymentid"] = self.store.insert(account, "credit_note", excess)
            self._use(account, "invoice", invoice, kept["applied"])
            return self.store.insert(account, "payment", kept, number=kept["note"] or None)

    def _use(self, account: str, kind: str, row: dict[str, Any], amount: Decimal) -> None:
        body = dict(row["body"])
        body["used"] = body["used"] + amount
        self.store.replace(account, kind, row["id"], body)

    def _unpay(self, account: str, row: dict[str, Any]) -> None:
        payment = row["body"]
        self._use(account, "invoice", self.store.get(account, "invoice", payment["invoiceid"]), -payment["applied"])
        if payment.get("creditid"):
            self._use(account, "credit_note", self.store.get(account, "credit_note", payment["creditid"]),
                      -payment["applied"])
        if payment.get("overpaymentid"):
            excess = self.store.get(account, "credit_note", payment["overpaymentid"])
            self.store.replace(account, "credit_note", excess["id"], excess["body"], state="deleted")

    def _repay(self, account: str, row: dict[str, Any]) -> None:
        raise Refusal(422, 1004, "A deleted payment cannot be restored; record it again.", "vis_state", "payment")

    # --- rendering -----------------------------------------------------------------------------------

    def render(self, account: str, kind: str, row: dict[str, Any], *, lines: bool) -> dict[str, Any]:
        body, doc_id = row["body"], row["id"]
        out: dict[str, Any] = {"id": doc_id, ID_NAMES[kind]: doc_id, "accountid": account,
                               "vis_state": VIS_DELETED if row["state"] == "deleted" else VIS_ACTIVE,
                               "updated": eastern(row["updated_at"])}
        if kind == "client":
            return {**out, **body}
        if kind == "payment":
            return {**out, "invoiceid": body["invoiceid"], "clientid": body["clientid"], "date": body["date"],
                    "type": body["type"], "note": body["note"], "amount": self.money(body["amount"]),
                    "creditid": body["creditid"], "overpaymentid": body["overpaymentid"]}
        total = body["subtotal"] + body["tax"]
        client = self.store.get(account, "client", body.get("customerid") or body.get("clientid"))
        names = {k: (client["body"].get(k) if client else "") for k in ("organization", "fname", "lname")}
        hidden = ("lines", "subtotal", "tax", "used", "sent") + (("credit_type",) if kind == "invoice" else ())
        out.update({k: v for k, v in body.items() if k not in hidden}, **names,
                   currency_code=self.currency, amount=self.money(total), tax=self.money(body["tax"]))
        if kind == "invoice":
            paid = body["used"]
            status = 1 if not body["sent"] else 4 if paid >= total else 8 if paid > 0 else 2
            out.update(paid=self.money(paid), outstanding=self.money(total - paid), status=status,
                       v3_status=STATUS[status])
        else:
            out.update(paid=self.money(body["used"]), remaining=self.money(total - body["used"]))
        if lines:
            out["lines"] = [{**line, "unit_cost": self.money(line["unit_cost"]), "amount": self.money(line["amount"]),
                             "qty": str(line["qty"])} for line in body["lines"]]
        return out
