"""account.move and its wizards as Odoo 17 runs them: drafts, posting, reversal, payments, lock dates.

Rules (sources in ../../../../shared/design/platforms/odoo.md; the unconfirmed ones in RULES.md):
- an invoice (`out_invoice`) or credit note (`out_refund`) is created `draft` with name "/"; `action_post`
  numbers it from its journal's sequence (INV/2026/00001, RINV/2026/00001) and makes it `posted`;
- a posted move is not written: it is reset with `button_draft` (refused once reconciled with a payment
  or credit), or corrected through the reversal wizard (`account.move.reversal`: `refund_moves`,
  `modify_moves` = reversal plus a new draft copy);
- `button_cancel` cancels a draft; `unlink` deletes a draft never posted;
- nothing dated on or before the lock date is posted, reset, reversed or paid: `fiscalyear_lock_date` for
  everyone, `period_lock_date` for users without the Adviser group; the UserError of
  `_check_fiscalyear_lock_date`;
- payments through `account.payment.register` (context active_ids), allocated to the oldest invoice
  first; what is left stays on the payment as outstanding credit; `js_assign_outstanding_line` applies a
  posted credit note's receivable line to an invoice.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bridge_assets.sandbox.odoo.errors import UserError
from bridge_assets.sandbox.odoo.orm import Orm

CENT = Decimal("0.01")
MOVE_TYPES = ("out_invoice", "out_refund", "entry")
PREFIX = {"out_invoice": "INV", "out_refund": "RINV"}
WRITABLE_WHEN_POSTED = frozenset()          # RULES.md: nothing is written on a posted move


def cents(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> float:
    return float(value)


class Accounting:
    def __init__(self, orm: Orm) -> None:
        self.orm = orm
        self.store = orm.store

    # --- lock dates -------------------------------------------------------------------------------

    def company(self) -> dict[str, Any]:
        companies = self.store.all("res.company")
        return companies[0]

    def check_lock(self, day: str | bool, adviser: bool) -> None:
        company = self.company()
        locks = [company.get("fiscalyear_lock_date")] + ([] if adviser else [company.get("period_lock_date")])
        locks = [d for d in locks if d]
        if not locks or not day:
            return
        lock = max(locks)
        if str(day) <= lock:
            shown = dt.date.fromisoformat(lock).strftime("%m/%d/%Y")
            if company.get("fiscalyear_lock_date") and str(day) <= company["fiscalyear_lock_date"]:
                raise UserError(f"You cannot add/modify entries prior to and inclusive of the lock date {shown}.")
            raise UserError(f"You cannot add/modify entries prior to and inclusive of the lock date {shown}. "
                            f"Check the company settings or ask someone with the 'Adviser' role")

    # --- create / write / unlink ------------------------------------------------------------------

    def create_move(self, vals: dict[str, Any]) -> int:
        move_type = vals.get("move_type", "entry")
        if move_type not in MOVE_TYPES:
            raise UserError(f"Wrong value for account.move.move_type: {move_type!r}")
        if vals.get("partner_id"):
            self.orm.browse("res.partner", vals["partner_id"])
        move = {"id": self.store.next_id("account.move"), "name": "/", "move_type": move_type, "state": "draft",
                "partner_id": vals.get("partner_id") or False, "invoice_date": vals.get("invoice_date") or False,
                "invoice_date_due": vals.get("invoice_date_due") or False, "date": vals.get("invoice_date") or False,
                "ref": vals.get("ref") or False, "payment_reference": vals.get("payment_reference") or False,
                "narration": vals.get("narration") or False, "invoice_origin": vals.get("invoice_origin") or False,
                "reversed_entry_id": vals.get("reversed_entry_id") or False, "reversal_move_id": [],
                "invoice_line_ids": [], "line_ids": [], "company_id": self.company()["id"], "currency_id": 1,
                "journal_id": 1, "amount_untaxed": 0.0, "amount_tax": 0.0, "amount_total": 0.0,
                "amount_residual": 0.0, "payment_state": "not_paid", "posted_before": False, "_applied": []}
        self._lines(move, vals.get("invoice_line_ids") or [])
        self.orm.stamp(move, created=True)
        self.store.put("account.move", move)
        return move["id"]

    def write_move(self, move: dict[str, Any], vals: dict[str, Any]) -> None:
        if move["state"] != "draft":
            blocked = sorted(set(vals) - WRITABLE_WHEN_POSTED)
            if blocked:
                raise UserError(f"You cannot modify a posted entry of this journal ({move['name']}): reset it to "
                                f"draft first, or reverse it. Fields: {', '.join(blocked)}")
        for field in ("partner_id", "invoice_date", "invoice_date_due", "ref", "payment_reference", "narration",
                      "invoice_origin"):
            if field in vals:
                move[field] = vals[field] or False
        if "invoice_date" in vals:
            move["date"] = vals["invoice_date"] or False
        if "invoice_line_ids" in vals:
            self._lines(move, vals["invoice_line_ids"])
        unknown = set(vals) - {"partner_id", "invoice_date", "invoice_date_due", "ref", "payment_reference",
                               "narration", "invoice_origin", "invoice_line_ids"}
        if unknown:
            raise ValueError(f"Invalid field {sorted(unknown)[0]!r} on model 'account.move'")
        self.orm.stamp(move)
        self.store.put("account.move", move)

    def unlink_move(self, move: dict[str, Any]) -> None:
        if move["state"] != "draft" or move["posted_before"]:
            raise UserError("You cannot delete an entry which has been posted once.")
        for line_id in move["line_ids"]:
            self.store.remove("account.move.line", line_id)
        self.store.remove("account.move", move["id"])

    def _lines(self, move: dict[str, Any], commands: list) -> None:
        """x2many commands on invoice_line_ids: (0,0,vals) create, (1,id,vals) update, (2,id) delete, (5,) clear,
        (6,0,ids) replace; then the receivable line and the totals are computed again."""
        lines = {i: self.store.get("account.move.line", i) for i in move["invoice_line_ids"]}
        for command in commands:
            if not isinstance(command, (list, tuple)) or not command:
                raise ValueError(f"Invalid x2many command {command!r}")
            code = command[0]
            if code == 0:
                line = self._product_line(move, {"id": self.store.next_id("account.move.line")}, command[2])
                lines[line["id"]] = line
            elif code == 1:
                line = lines.get(command[1])
                if line is None:
                    raise UserError(f"Record does not exist or has been deleted.\n(Record: account.move.line"
                                    f"({command[1]},), User: 2)")
                self._product_line(move, line, command[2])
            elif code == 2:
                lines.pop(command[1], None)
                self.store.remove("account.move.line", command[1])
            elif code == 5:
                for line_id in list(lines):
                    self.store.remove("account.move.line", line_id)
                lines.clear()
            else:
                raise ValueError(f"x2many command {code} is not supported on invoice_line_ids")
        total = sum((cents(line["price_subtotal"]) for line in lines.values()), Decimal(0))
        for line in lines.values():
            self.store.put("account.move.line", line)
        move["invoice_line_ids"] = sorted(lines)
        move["amount_untaxed"] = money(total)
        move["amount_total"] = money(total)
        move["amount_residual"] = money(total)
        receivable = [i for i in move["line_ids"] if i not in lines]
        receivable_id = receivable[0] if receivable else self.store.next_id("account.move.line")
        sign = 1 if move["move_type"] == "out_invoice" else -1
        self.store.put("account.move.line", {
            "id": receivable_id, "move_id": move["id"], "display_type": "payment_term",
            "account_type": "asset_receivable", "name": False, "partner_id": move["partner_id"],
            "balance": money(sign * total), "amount_residual": money(sign * total), "reconciled": total == 0,
            "product_id": False, "quantity": 0.0, "price_unit": 0.0, "price_subtotal": 0.0, "tax_ids": []})
        move["line_ids"] = sorted(lines) + [receivable_id]

    def _product_line(self, move: dict[str, Any], line: dict[str, Any], vals: dict[str, Any]) -> dict[str, Any]:
        unknown = set(vals) - {"product_id", "name", "quantity", "price_unit", "tax_ids", "account_id", "discount"}
        if unknown:
            raise ValueError(f"Invalid field {sorted(unknown)[0]!r} on model 'account.move.line'")
        if vals.get("product_id"):
            self.orm.browse("product.product", vals["product_id"])
        taxes = vals.get("tax_ids") or []
        if any(command[0] == 6 and command[2] for command in taxes) or any(command[0] == 4 for command in taxes):
            raise UserError("Record does not exist or has been deleted.\n(Record: account.tax, User: 2)")
        line.update({"move_id": move["id"], "display_type": "product", "account_type": "income",
                     "partner_id": move["partner_id"], "tax_ids": [], "reconciled": False, "amount_residual": 0.0})
        for field in ("product_id", "name", "quantity", "price_unit"):
            if field in vals:
                line[field] = vals[field]
        line.setdefault("product_id", False)
        line.setdefault("name", False)
        line.setdefault("quantity", 1.0)
        line.setdefault("price_unit", 0.0)
        line["price_subtotal"] = money(cents(Decimal(str(line["quantity"])) * Decimal(str(line["price_unit"]))))
        line["balance"] = -line["price_subtotal"] if move["move_type"] == "out_invoice" else line["price_subtotal"]
        return line

    # --- the state machine ------------------------------------------------------------------------

    def action_post(self, move: dict[str, Any], adviser: bool) -> None:
        if move["state"] != "draft":
            raise UserError("The entry %s (id %s) must be in draft." % (move["name"], move["id"]))
        label = "Customer Invoice" if move["move_type"] == "out_invoice" else "Customer Credit Note"
        if not move["partner_id"]:
            raise UserError(f"The field 'Customer' is required, please complete it to validate the {label}.")
        if not move["invoice_line_ids"]:
            raise UserError("You need to add a line before posting.")
        if not move["invoice_date"]:
            move["invoice_date"] = move["date"] = self.orm.clock.now().date().isoformat()
        self.check_lock(move["invoice_date"], adviser)
        if move["name"] == "/":
            year = str(move["invoice_date"])[:4]
            prefix = f"{PREFIX.get(move['move_type'], 'MISC')}/{year}/"
            move["name"] = f"{prefix}{self.store.next_number(prefix):05d}"
        move["state"] = "posted"
        move["posted_before"] = True
        self._payment_state(move)
        self.orm.stamp(move)
        self.store.put("account.move", move)

    def button_draft(self, move: dict[str, Any], adviser: bool) -> None:
        if move["state"] not in ("posted", "cancel"):
            raise UserError(f"Only posted/cancelled journal entries can be reset to draft ({move['name']}).")
        if move["_applied"]:
            raise UserError(f"You cannot reset to draft {move['name']}: it is reconciled with a payment or a credit "
                            f"note; unreconcile it first.")
        self.check_lock(move["invoice_date"], adviser)
        move["state"] = "draft"
        self.orm.stamp(move)
        self.store.put("account.move", move)

    def button_cancel(self, move: dict[str, Any]) -> None:
        if move["state"] != "draft":
            raise UserError("Only draft journal entries can be cancelled.")
        move["state"] = "cancel"
        self.orm.stamp(move)
        self.store.put("account.move", move)

    def _payment_state(self, move: dict[str, Any]) -> None:
        residual, total = cents(move["amount_residual"]), cents(move["amount_total"])
        if move.get("_reversed"):
            move["payment_state"] = "reversed"
        elif residual == 0:
            move["payment_state"] = "paid"
        elif residual < total:
            move["payment_state"] = "partial"
        else:
            move["payment_state"] = "not_paid"

    def reconcile(self, move: dict[str, Any], other: tuple[str, int], amount: Decimal, *, reversal: bool = False) -> None:
        """`amount` of `move`'s open receivable settled by `other` (a credit note's or a payment's line)."""
        move["_applied"].append([other[0], other[1], money(amount)])
        if reversal:
            move["_reversed"] = True
        self._settle(move, cents(move["amount_residual"]) - amount)

    def unreconcile(self, move: dict[str, Any], other: tuple[str, int]) -> None:
        back = sum((cents(a[2]) for a in move["_applied"] if (a[0], a[1]) == tuple(other)), Decimal(0))
        move["_applied"] = [a for a in move["_applied"] if (a[0], a[1]) != tuple(other)]
        self._settle(move, cents(move["amount_residual"]) + back)

    def _settle(self, move: dict[str, Any], residual: Decimal) -> None:
        move["amount_residual"] = money(residual)
        self._payment_state(move)
        receivable = self.store.get("account.move.line", move["line_ids"][-1])
        sign = 1 if move["move_type"] == "out_invoice" else -1
        receivable["amount_residual"] = money(sign * residual)
        receivable["reconciled"] = residual == 0
        self.store.put("account.move.line", receivable)
        self.orm.stamp(move)
        self.store.put("account.move", move)

    def remove_reconcile(self, line: dict[str, Any], adviser: bool) -> None:
        """remove_move_reconcile on a receivable line: every credit note applied through it is taken off again."""
        move = self.store.get("account.move", line["move_id"])
        if line.get("account_type") != "asset_receivable":
            return
        self.check_lock(move["invoice_date"], adviser)
        for kind, other_id, _ in list(move["_applied"]):
            if kind != "account.move":
                raise UserError(f"{move['name']} is reconciled with a payment; reset the payment to draft instead.")
            other = self.store.get("account.move", other_id)
            if other.get("_reversed") or move.get("_reversed"):
                raise UserError(f"{move['name']} is a reversal; it cannot be unreconciled from what it reverses.")
            self.unreconcile(other, ("account.move", move["id"]))
            move = self.store.get("account.move", move["id"])
            self.unreconcile(move, ("account.move", other_id))
            move = self.store.get("account.move", move["id"])

    # --- reversal ---------------------------------------------------------------------------------

    def reverse(self, move: dict[str, Any], day: str, reason: str, adviser: bool) -> dict[str, Any]:
        """A posted credit note reversing `move` in full, reconciled with it (refund_moves)."""
        if move["move_type"] != "out_invoice" or move["state"] != "posted":
            raise UserError(f"You can only reverse posted customer invoices ({move['name']} is {move['state']}).")
        if move.get("_reversed"):
            raise UserError(f"{move['name']} is already reversed.")
        if any(kind == "account.payment" for kind, _, _ in move["_applied"]) or \
                cents(move["amount_residual"]) != cents(move["amount_total"]):
            raise UserError(f"You cannot reverse {move['name']} in full: it is already (partly) paid or credited; "
                            f"unreconcile its payments first.")
        self.check_lock(day, adviser)
        lines = [(0, 0, {k: line[k] for k in ("product_id", "name", "quantity", "price_unit")})
                 for line in self.orm.browse("account.move.line", move["invoice_line_ids"])]
        refund_id = self.create_move({"move_type": "out_refund", "partner_id": move["partner_id"],
                                      "invoice_date": day, "ref": f"Reversal of: {move['name']}, {reason}",
                                      "reversed_entry_id": move["id"], "invoice_line_ids": lines})
        refund = self.store.get("account.move", refund_id)
        self.action_post(refund, adviser)
        amount = cents(move["amount_residual"])
        self.reconcile(refund, ("account.move", move["id"]), amount)
        move = self.store.get("account.move", move["id"])
        move["reversal_move_id"] = move["reversal_move_id"] + [refund_id]
        self.reconcile(move, ("account.move", refund_id), amount, reversal=True)
        return self.store.get("account.move", refund_id)

    def copy_as_draft(self, move: dict[str, Any]) -> int:
        lines = [(0, 0, {k: line[k] for k in ("product_id", "name", "quantity", "price_unit")})
                 for line in self.orm.browse("account.move.line", move["invoice_line_ids"])]
        return self.create_move({"move_type": move["move_type"], "partner_id": move["partner_id"],
                                 "invoice_date": move["invoice_date"], "invoice_date_due": move["invoice_date_due"],
                                 "ref": move["ref"], "payment_reference": move["payment_reference"],
                                 "invoice_line_ids": lines})

    def assign_outstanding_line(self, invoice: dict[str, Any], line_id: int) -> None:
        """js_assign_outstanding_line: reconcile a posted credit note's open receivable line with `invoice`."""
        line = self.orm.browse("account.move.line", line_id)[0]
        credit = self.store.get("account.move", line["move_id"])
        if (line.get("account_type") != "asset_receivable" or credit["move_type"] != "out_refund"
                or credit["state"] != "posted" or invoice["state"] != "posted"):
            raise UserError("You can only reconcile posted entries of the same receivable account.")
        if credit["partner_id"] != invoice["partner_id"]:
            raise UserError("Entries are not from the same partner.")
        amount = min(cents(credit["amount_residual"]), cents(invoice["amount_residual"]))
        if amount <= 0:
            raise UserError("There is nothing left to reconcile on these journal items.")
        self.reconcile(invoice, ("account.move", credit["id"]), amount)
        self.reconcile(self.store.get("account.move", credit["id"]), ("account.move", invoice["id"]), amount)
