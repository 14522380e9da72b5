"""account.payment and the account.payment.register wizard (Odoo 17 names: `ref` on the payment, state
`posted`; the wizard's `communication` becomes the payment's `ref`).

The wizard is created with context {active_model: 'account.move', active_ids: [...]} and
`action_create_payments` makes one payment for the partner (`group_payment`), allocated to the invoices
oldest due first; what is left of the amount stays open on the payment (outstanding credit), as with
`payment_difference_handling='open'`. `action_draft` takes a posted payment back to draft and undoes its
reconciliations; `action_cancel` cancels a draft.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bridge_assets.sandbox.odoo.account import Accounting, cents, money
from bridge_assets.sandbox.odoo.errors import UserError

WIZARD_FIELDS = {"amount", "payment_date", "journal_id", "communication", "group_payment",
                 "payment_difference_handling", "writeoff_account_id", "partner_bank_id"}


class Payments:
    def __init__(self, accounting: Accounting) -> None:
        self.accounting = accounting
        self.orm = accounting.orm
        self.store = accounting.store

    def create_wizard(self, vals: dict[str, Any], context: dict[str, Any]) -> int:
        unknown = set(vals) - WIZARD_FIELDS
        if unknown:
            raise ValueError(f"Invalid field {sorted(unknown)[0]!r} on model 'account.payment.register'")
        if context.get("active_model") != "account.move" or not context.get("active_ids"):
            raise UserError("You can't open the register payment wizard without at least one receivable/payable line.")
        invoices = self.orm.browse("account.move", context["active_ids"])
        for invoice in invoices:
            if invoice["state"] != "posted" or invoice["move_type"] != "out_invoice":
                raise UserError("You can only register payment for posted journal entries.")
        if not any(cents(i["amount_residual"]) > 0 for i in invoices):
            raise UserError("You can't register a payment because there is nothing left to pay on the selected "
                            "journal items.")
        if len({i["partner_id"] for i in invoices}) > 1 and vals.get("group_payment", True):
            raise UserError("You can't register payments for journal items being either all inbound, either all "
                            "outbound, and from the same partner.")
        wizard = {"id": self.store.next_id("account.payment.register"), "active_ids": list(context["active_ids"]),
                  "amount": vals.get("amount"), "payment_date": vals.get("payment_date"),
                  "communication": vals.get("communication") or False,
                  "payment_difference_handling": vals.get("payment_difference_handling", "open")}
        self.store.put("account.payment.register", wizard)
        return wizard["id"]

    def create_payments(self, wizard: dict[str, Any], adviser: bool) -> int:
        invoices = sorted(self.orm.browse("account.move", wizard["active_ids"]),
                          key=lambda i: (str(i["invoice_date_due"] or i["invoice_date"]), i["id"]))
        open_total = sum((cents(i["amount_residual"]) for i in invoices), Decimal(0))
        amount = cents(wizard["amount"] if wizard["amount"] is not None else open_total)
        if amount <= 0:
            raise UserError("The payment amount must be strictly positive.")
        day = wizard["payment_date"] or self.orm.clock.now().date().isoformat()
        self.accounting.check_lock(day, adviser)
        prefix = f"PBNK1/{str(day)[:4]}/"
        payment = {"id": self.store.next_id("account.payment"), "name": f"{prefix}{self.store.next_number(prefix):05d}",
                   "partner_id": invoices[0]["partner_id"], "amount": money(amount), "date": day,
                   "ref": wizard["communication"], "state": "posted", "payment_type": "inbound",
                   "partner_type": "customer", "journal_id": 1, "reconciled_invoice_ids": [], "move_id": False,
                   "amount_unapplied": money(amount), "_applied": []}
        left = amount
        for invoice in invoices:
            share = min(left, cents(invoice["amount_residual"]))
            if share <= 0:
                continue
            self.accounting.reconcile(invoice, ("account.payment", payment["id"]), share)
            payment["_applied"].append([invoice["id"], money(share)])
            payment["reconciled_invoice_ids"].append(invoice["id"])
            left -= share
        payment["amount_unapplied"] = money(left)
        self.orm.stamp(payment, created=True)
        self.store.put("account.payment", payment)
        self.store.remove("account.payment.register", wizard["id"])
        return payment["id"]

    def create_payment(self, vals: dict[str, Any]) -> int:
        """A draft customer payment on no invoice (its amount stays outstanding credit once posted)."""
        unknown = set(vals) - {"partner_id", "amount", "date", "ref", "payment_type", "partner_type", "journal_id"}
        if unknown:
            raise ValueError(f"Invalid field {sorted(unknown)[0]!r} on model 'account.payment'")
        if vals.get("payment_type", "inbound") != "inbound" or vals.get("partner_type", "customer") != "customer":
            raise UserError("The emulator takes customer payments (inbound) only.")
        self.orm.browse("res.partner", vals.get("partner_id"))
        amount = cents(vals.get("amount"))
        if amount <= 0:
            raise UserError("The payment amount must be strictly positive.")
        payment = {"id": self.store.next_id("account.payment"), "name": "/", "partner_id": vals["partner_id"],
                   "amount": money(amount), "date": vals.get("date") or self.orm.clock.now().date().isoformat(),
                   "ref": vals.get("ref") or False, "state": "draft", "payment_type": "inbound",
                   "partner_type": "customer", "journal_id": 1, "reconciled_invoice_ids": [], "move_id": False,
                   "amount_unapplied": money(amount), "_applied": []}
        self.orm.stamp(payment, created=True)
        self.store.put("account.payment", payment)
        return payment["id"]

    def action_post(self, payment: dict[str, Any], adviser: bool) -> None:
        if payment["state"] != "draft":
            raise UserError(f"Only a draft payment can be posted ({payment['name']} is {payment['state']}).")
        self.accounting.check_lock(payment["date"], adviser)
        if payment["name"] == "/":
            prefix = f"PBNK1/{str(payment['date'])[:4]}/"
            payment["name"] = f"{prefix}{self.store.next_number(prefix):05d}"
        payment["state"] = "posted"
        self.orm.stamp(payment)
        self.store.put("account.payment", payment)

    def action_draft(self, payment: dict[str, Any], adviser: bool) -> None:
        if payment["state"] != "posted":
            raise UserError(f"Only a posted payment can be reset to draft ({payment['name']} is {payment['state']}).")
        self.accounting.check_lock(payment["date"], adviser)
        for invoice_id, _ in payment["_applied"]:
            self.accounting.unreconcile(self.store.get("account.move", invoice_id), ("account.payment", payment["id"]))
        payment.update(state="draft", _applied=[], reconciled_invoice_ids=[], amount_unapplied=payment["amount"])
        self.orm.stamp(payment)
        self.store.put("account.payment", payment)

    def action_cancel(self, payment: dict[str, Any]) -> None:
        if payment["state"] != "draft":
            raise UserError("Only a draft payment can be cancelled.")
        payment["state"] = "cancel"
        self.orm.stamp(payment)
        self.store.put("account.payment", payment)
