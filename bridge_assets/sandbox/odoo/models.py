"""`execute_kw(db, uid, password, model, method, args, kwargs)`: access rights, then the model's method.

One call is one transaction, as in Odoo: an error rolls everything of the call back. Access rights per
model and operation are the `ACCESS` table (the groups of settings.py); a user without them gets Odoo's
AccessError. Methods:
    every model      search, search_count, search_read, read, create (one vals or a list), write, unlink
    account.move     action_post, button_draft, button_cancel, js_assign_outstanding_line(ids, line_id)
    account.move.reversal   create (context active_ids) with reason, date; refund_moves, modify_moves
    account.payment.register  create (context active_ids); action_create_payments
    account.payment  create (a payment on no invoice), action_post, action_draft, action_cancel
    account.move.line  remove_move_reconcile (unreconcile a receivable line)
"""

from __future__ import annotations

from typing import Any

from bridge_assets.sandbox.odoo.account import Accounting
from bridge_assets.sandbox.odoo.errors import AccessError, UserError
from bridge_assets.sandbox.odoo.orm import Clock, Orm
from bridge_assets.sandbox.odoo.payments import Payments
from bridge_assets.sandbox.odoo.settings import ADVISER, BILLING, INTERNAL
from bridge_assets.sandbox.odoo.store import Store

READ, WRITE = "read", "write"
ACCESS = {   # model -> operation -> the group that grants it (RULES.md: unconfirmed beyond Billing/Adviser)
    "res.partner": {READ: INTERNAL, WRITE: INTERNAL},
    "product.product": {READ: INTERNAL, WRITE: BILLING},
    "res.company": {READ: INTERNAL, WRITE: ADVISER},
    "account.journal": {READ: INTERNAL, WRITE: ADVISER},
    "res.currency": {READ: INTERNAL, WRITE: ADVISER},
    "account.move": {READ: BILLING, WRITE: BILLING},
    "account.move.line": {READ: BILLING, WRITE: BILLING},
    "account.payment": {READ: BILLING, WRITE: BILLING},
    "account.payment.register": {READ: BILLING, WRITE: BILLING},
    "account.move.reversal": {READ: BILLING, WRITE: BILLING},
}
DESCRIPTION = {"account.move": "Journal Entry", "account.payment": "Payments", "res.partner": "Contact",
               "product.product": "Product", "res.company": "Companies", "account.move.line": "Journal Item",
               "account.payment.register": "Register Payment", "account.move.reversal": "Account move reversal",
               "account.journal": "Journal", "res.currency": "Currency"}
GROUP_LABEL = {BILLING: "Accounting/Billing", ADVISER: "Accounting/Administrator", INTERNAL: "User types/Internal User"}
PARTNER_FIELDS = {"name", "ref", "is_company", "email", "vat", "customer_rank", "active", "street", "comment"}
PRODUCT_FIELDS = {"name", "default_code", "type", "list_price", "active", "sale_ok"}
# Fields whose default is not empty (Odoo's field definitions: `active = fields.Boolean(default=True)` on contacts
# and products, `sale_ok` "Can be Sold" default True): a record created without them is live, found by a search.
DEFAULTS = {"res.partner": {"active": True}, "product.product": {"active": True, "sale_ok": True}}


class Database:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.orm = Orm(store, clock)
        self.accounting = Accounting(self.orm)
        self.payments = Payments(self.accounting)

    def check_access(self, groups: set[str], model: str, operation: str, verb: str) -> None:
        if model not in ACCESS:
            raise ValueError(f"Object {model} doesn't exist")
        needed = ACCESS[model][operation]
        if needed not in groups:
            raise AccessError(
                f"You are not allowed to {verb} '{DESCRIPTION[model]}' ({model}) records.\n\nThis operation is allowed "
                f"for the following groups:\n\t- {GROUP_LABEL[needed]}\n\nContact your administrator to request "
                f"access if necessary.")

    def execute(self, groups: set[str], model: str, method: str, args: list, kwargs: dict) -> Any:
        generic = {"search": (READ, "read"), "search_count": (READ, "read"), "search_read": (READ, "read"),
                   "read": (READ, "read"), "create": (WRITE, "create"), "write": (WRITE, "modify"),
                   "unlink": (WRITE, "delete")}
        operation, verb = generic.get(method, (WRITE, "modify"))
        self.check_access(groups, model, operation, verb)
        with self.store.transaction():
            return self._call(groups, model, method, list(args), dict(kwargs))

    def _call(self, groups: set[str], model: str, method: str, args: list, kwargs: dict) -> Any:
        context = kwargs.pop("context", None) or {}
        adviser = ADVISER in groups
        if method in ("search", "search_count", "search_read"):
            domain = args[0] if args else kwargs.pop("domain", [])
            ids = self.orm.search(model, domain, kwargs.get("offset", 0),
                                  None if method == "search_count" else kwargs.get("limit"), kwargs.get("order"))
            if method == "search":
                return ids
            if method == "search_count":
                return len(ids)
            fields = args[1] if len(args) > 1 else kwargs.get("fields")
            return self.orm.read(model, ids, fields)
        if method == "read":
            return self.orm.read(model, args[0], args[1] if len(args) > 1 else kwargs.get("fields"))
        if method == "create":
            vals = args[0] if args else kwargs.get("vals_list", kwargs.get("vals"))
            if isinstance(vals, list):
                return [self._create(model, one, context) for one in vals]
            return self._create(model, vals, context)
        ids = args[0] if args else kwargs.pop("ids", [])
        records = self.orm.browse(model, ids)
        handler = getattr(self, "_" + model.replace(".", "_") + "__" + method, None)
        if method == "write":
            for record in records:
                self._write(model, record, args[1] if len(args) > 1 else kwargs["vals"])
            return True
        if method == "unlink":
            for record in records:
                self._unlink(model, record)
            return True
        if handler is None or method.startswith("_"):
            raise AttributeError(f"The method '{method}' does not exist on the model '{model}'")
        return handler(records, args[1:], kwargs, context, adviser)

    # --- create / write / unlink per model --------------------------------------------------------

    def _create(self, model: str, vals: dict, context: dict) -> int:
        if not isinstance(vals, dict):
            raise ValueError(f"create() of {model} takes a dict of values")
        if model == "account.move":
            return self.accounting.create_move(vals)
        if model == "account.payment.register":
            return self.payments.create_wizard(vals, context)
        if model == "account.move.reversal":
            return self._create_reversal(vals, context)
        if model == "account.payment":
            return self.payments.create_payment(vals)
        allowed = {"res.partner": PARTNER_FIELDS, "product.product": PRODUCT_FIELDS}.get(model)
        if allowed is None:
            raise AccessError(f"You are not allowed to create '{DESCRIPTION.get(model, model)}' ({model}) records.")
        unknown = set(vals) - allowed
        if unknown:
            raise ValueError(f"Invalid field {sorted(unknown)[0]!r} on model {model!r}")
        if not vals.get("name"):
            raise UserError(f"Missing required value for the field 'Name' (name) on {DESCRIPTION[model]}")
        record = {"id": self.store.next_id(model), **{f: False for f in allowed}, **DEFAULTS[model], **vals}
        if model == "res.partner":
            record["company_id"] = False
        self.orm.stamp(record, created=True)
        self.store.put(model, record)
        return record["id"]

    def _write(self, model: str, record: dict, vals: dict) -> None:
        if model == "account.move":
            self.accounting.write_move(record, vals)
            return
        if model == "res.company":
            allowed = {"period_lock_date", "fiscalyear_lock_date"}
        else:
            allowed = {"res.partner": PARTNER_FIELDS, "product.product": PRODUCT_FIELDS}.get(model, set())
        unknown = set(vals) - allowed
        if unknown:
            raise UserError(f"You cannot modify {sorted(unknown)} of {DESCRIPTION.get(model, model)} through the API.")
        record.update(vals)
        self.orm.stamp(record)
        self.store.put(model, record)

    def _unlink(self, model: str, record: dict) -> None:
        if model == "account.move":
            self.accounting.unlink_move(record)
            return
        if model == "account.payment":
            raise UserError("You cannot delete a payment that is already posted." if record["state"] == "posted"
                            else "You cannot delete a payment: cancel it instead.")
        raise UserError(f"You cannot delete {DESCRIPTION.get(model, model)} records through the API.")

    # --- account.move -----------------------------------------------------------------------------

    def _account_move__action_post(self, moves, args, kwargs, context, adviser) -> bool:
        for move in moves:
            self.accounting.action_post(move, adviser)
        return True

    def _account_move__button_draft(self, moves, args, kwargs, context, adviser) -> bool:
        for move in moves:
            self.accounting.button_draft(move, adviser)
        return True

    def _account_move__button_cancel(self, moves, args, kwargs, context, adviser) -> bool:
        for move in moves:
            self.accounting.button_cancel(move)
        return True

    def _account_move__js_assign_outstanding_line(self, moves, args, kwargs, context, adviser) -> bool:
        line_id = args[0] if args else kwargs.get("line_id")
        for move in moves:
            self.accounting.check_lock(move["invoice_date"], adviser)
            self.accounting.assign_outstanding_line(move, int(line_id))
        return True

    # --- the reversal wizard ----------------------------------------------------------------------

    def _create_reversal(self, vals: dict, context: dict) -> int:
        unknown = set(vals) - {"reason", "date", "journal_id", "date_mode"}
        if unknown:
            raise ValueError(f"Invalid field {sorted(unknown)[0]!r} on model 'account.move.reversal'")
        if context.get("active_model") != "account.move" or not context.get("active_ids"):
            raise UserError("Missing active_ids in context: open the reversal wizard from journal entries.")
        self.orm.browse("account.move", context["active_ids"])
        wizard = {"id": self.store.next_id("account.move.reversal"), "move_ids": list(context["active_ids"]),
                  "reason": vals.get("reason") or "", "date": vals.get("date") or False}
        self.store.put("account.move.reversal", wizard)
        return wizard["id"]

    def _reverse(self, wizard: dict, adviser: bool, modify: bool) -> dict:
        created = []
        for move_id in wizard["move_ids"]:
            move = self.store.get("account.move", move_id)
            day = wizard["date"] or move["invoice_date"]
            refund = self.accounting.reverse(move, day, wizard["reason"], adviser)
            created.append(refund["id"])
            if modify:
                created.append(self.accounting.copy_as_draft(self.store.get("account.move", move_id)))
        self.store.remove("account.move.reversal", wizard["id"])
        shown = created[-1] if modify else created[0]
        return {"type": "ir.actions.act_window", "res_model": "account.move", "res_id": shown,
                "view_mode": "form", "name": "Reverse Moves" if not modify else "Customer Invoice",
                "domain": [["id", "in", created]]}

    def _account_move_reversal__refund_moves(self, wizards, args, kwargs, context, adviser) -> dict:
        return self._reverse(wizards[0], adviser, modify=False)

    def _account_move_reversal__modify_moves(self, wizards, args, kwargs, context, adviser) -> dict:
        return self._reverse(wizards[0], adviser, modify=True)

    # --- payments ---------------------------------------------------------------------------------

    def _account_payment_register__action_create_payments(self, wizards, args, kwargs, context, adviser) -> dict:
        payment_id = self.payments.create_payments(wizards[0], adviser)
        return {"type": "ir.actions.act_window", "res_model": "account.payment", "res_id": payment_id,
                "view_mode": "form", "name": "Payments"}

    def _account_payment__action_post(self, payments, args, kwargs, context, adviser) -> bool:
        for payment in payments:
            self.payments.action_post(payment, adviser)
        return True

    def _account_move_line__remove_move_reconcile(self, lines, args, kwargs, context, adviser) -> bool:
        for line in lines:
            self.accounting.remove_reconcile(line, adviser)
        return True

    def _account_payment__action_draft(self, payments, args, kwargs, context, adviser) -> bool:
        for payment in payments:
            self.payments.action_draft(payment, adviser)
        return True

    def _account_payment__action_cancel(self, payments, args, kwargs, context, adviser) -> bool:
        for payment in payments:
            self.payments.action_cancel(payment)
        return True

