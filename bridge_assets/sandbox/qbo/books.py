"""One company's books as the QuickBooks API sees them: create, read, update, delete, void, query.

Every public method either returns what QuickBooks would return or raises a `QboFault`; the caller
(`api.py`) wraps it in one SQLite transaction, so a fault leaves nothing half-written.

Links between documents are kept both ways, as QuickBooks does: a payment line names the invoice it
pays (`LinkedTxn`), the invoice lists the payments that paid it and carries the open `Balance`. Any
change to a payment therefore rewrites the invoices it touches and bumps their SyncToken, which is
what makes a client's cached SyncToken stale after a payment (API_FACTS.md).

Inside a batch, `hidden` holds what earlier items of the same batch created: QuickBooks runs batch
items without letting them see each other's creations.
"""

from __future__ import annotations

import copy
import time
from decimal import Decimal
from typing import Any, Iterable

from bridge_assets.sandbox.qbo import company, documents, errors, lists, query, rules, wire
from bridge_assets.sandbox.qbo.reports import open_documents as reports_input
from bridge_assets.sandbox.qbo.settings import EmulatorSettings
from bridge_assets.sandbox.qbo.rules import checked_applications as _checked_applications
from bridge_assets.sandbox.qbo.rules import net_applied as _net_applied
from bridge_assets.sandbox.qbo.store import EntityRow, Store, name_key

TRANSACTIONS = ("Invoice", "CreditMemo", "Payment")
NAME_LISTS = ("Customer", "Item", "Account")
WRITABLE_ENTITIES = TRANSACTIONS + NAME_LISTS + lists.WRITABLE
ENTITY_BY_PATH = {entity.lower(): entity for entity in WRITABLE_ENTITIES + lists.READABLE}  # lists.py: read-only
USD = {"value": "USD", "name": "United States Dollar"}
ZERO = Decimal("0")


def is_sparse(body: dict[str, Any]) -> bool:
    return body.get("sparse") in (True, "true", "True")


def as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def decimal(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(str(value))


class Books:
    def __init__(self, store: Store, settings: EmulatorSettings, realm_id: str,
                 *, hidden: set[tuple[str, str]] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.realm_id = realm_id
        self.config = store.company_config(realm_id) or company.default_config(settings)
        self.hidden = hidden if hidden is not None else set()
        self.created: list[tuple[str, str]] = []
        self.touched: set[str] = set()     # entity names written by this request (for fault filters)

    # --- looking things up -----------------------------------------------------------------------

    def _row(self, entity: str, entity_id: Any) -> EntityRow | None:
        if entity_id in (None, "") or (entity, str(entity_id)) in self.hidden:
            return None
        return self.store.get(self.realm_id, entity, str(entity_id))

    def preferences(self) -> dict[str, Any]:
        row = self.store.get(self.realm_id, "Preferences", "1")
        return row.doc if row else company.default_preferences(self.settings)

    def resolve(self, entity: str, ref: Any, element: str) -> dict[str, Any]:
        """A referenced name-list object: 2500 when it does not exist, 610 when it is inactive."""
        value = rules.ref_value(ref)
        row = self._row(entity, value)
        if row is None or row.deleted:
            raise errors.invalid_reference(element, entity, value)
        if row.doc.get("Active") is False:
            raise errors.object_inactive(element)
        return row.doc

    def _resolve_item(self, ref: Any, element: str) -> dict[str, Any]:
        return self.resolve("Item", ref, element)

    def _next_id(self, entity: str) -> str:
        return str(self.store.next_value(self.realm_id, f"id:{entity}"))

    def _next_doc_number(self, entity: str) -> str:
        """QuickBooks' own numbering (custom transaction numbers off): the next unused number."""
        while True:
            number = str(self.store.next_value(self.realm_id, f"docnumber:{entity}", start=1001))
            if not self.store.with_doc_number(self.realm_id, entity, number):
                return number

    def present(self, row: EntityRow, balances: dict[str, Decimal] | None = None) -> dict[str, Any]:
        """The object as the API returns it (a customer's Balance is computed from its documents)."""
        if row.entity != "Customer":
            return row.doc
        balances = self.customer_balances() if balances is None else balances
        balance = balances.get(row.id, ZERO)
        return {**row.doc, "Balance": balance, "BalanceWithJobs": balance}

    def customer_balances(self) -> dict[str, Decimal]:
        rows = self.store.fetchall(
            "SELECT json_extract(doc, '$.CustomerRef.value') AS customer, SUM(CASE entity "
            "WHEN 'Invoice' THEN json_extract(doc, '$.Balance') "
            "WHEN 'CreditMemo' THEN -json_extract(doc, '$.RemainingCredit') "
            "WHEN 'Payment' THEN -json_extract(doc, '$.UnappliedAmt') END) AS balance "
            "FROM entities WHERE realm_id = ? AND status = 'active' "
            "AND entity IN ('Invoice', 'CreditMemo', 'Payment') GROUP BY customer",
            (self.realm_id,),
        )
        return {str(r["customer"]): wire.cents(Decimal(str(r["balance"] or 0))) for r in rows}

    # --- reads -----------------------------------------------------------------------------------

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        row = self._row(entity, entity_id)
        if row is None or row.deleted:
            raise errors.object_deleted("transaction" if entity in TRANSACTIONS else "object")
        return self.present(row)

    def company_info(self) -> dict[str, Any]:
        row = self.store.get(self.realm_id, "CompanyInfo", "1")
        if row is None:
            raise errors.object_deleted("object")
        return row.doc

    def query(self, text: str) -> dict[str, Any]:
        parsed = query.resolve(query.parse(text))
        rows = [r for r in self.store.all(self.realm_id, parsed.entity) if (r.entity, r.id) not in self.hidden]
        balances = self.customer_balances() if parsed.entity == "Customer" else None
        return query.run(parsed, (self.present(r, balances) for r in rows))

    def query_all(self, entity: str) -> list[dict[str, Any]]:
        return [r.doc for r in self.store.all(self.realm_id, entity) if (r.entity, r.id) not in self.hidden]

    def open_documents(self) -> list[dict[str, Any]]:
        """What customers owe, document by document (reports.py): invoices less unapplied credit and cash."""
        return reports_input(self.store.all(self.realm_id, "Invoice") + self.store.all(self.realm_id, "CreditMemo")
                             + self.store.all(self.realm_id, "Payment"))

    def send(self, entity: str, entity_id: str, send_to: str | None) -> dict[str, Any]:
        row = self._row(entity, entity_id)
        if row is None or row.deleted:
            raise errors.object_deleted("transaction")
        documents.mark_sent(row.doc, send_to)
        self.touched.add(entity)
        self._bump(row, time.time())
        return self.present(row)

    # --- writes: dispatch ------------------------------------------------------------------------

    def write(self, entity: str, body: Any, *, operation: str | None = None,
              include: Iterable[str] = ()) -> dict[str, Any]:
        """POST /{entity}: create, update, delete or void, chosen like QuickBooks chooses."""
        if not isinstance(body, dict):
            raise errors.invalid_property(f"Property Name:{entity} specified is unsupported or invalid")
        includes = {flag.strip().lower() for flag in include if flag}
        operation = (operation or "").strip().lower()
        self.touched.add(entity)
        if operation == "delete":
            return self.delete(entity, body)
        if operation == "void":
            if entity != "Invoice":
                raise errors.unsupported_operation("Void")
            return self.void_invoice(body)
        if "void" in includes:
            if entity != "Payment" or operation != "update":
                raise errors.unsupported_operation("Void")
            return self.void_payment(body)
        if operation not in ("", "create", "update"):
            raise errors.unsupported_operation(operation.capitalize())
        has_id = body.get("Id") not in (None, "")
        if operation == "update" and not has_id:
            raise errors.required_param("Id")
        existing = self._existing_for_update(entity, body) if has_id and operation != "create" else None
        saver = {"Invoice": self._save_sales, "CreditMemo": self._save_sales, "Payment": self._save_payment,
                 "Customer": self._save_customer, "Item": self._save_item, "Account": self._save_account,
                 "Vendor": self._save_vendor}.get(entity)
        if saver is None:       # readable only (lists.py): entered by a person, not through the API here
            raise errors.unsupported_operation(f"Create or Update on {entity}")
        row = saver(entity, body, existing, includes)
        return self.present(row)

    def _existing_for_update(self, entity: str, body: dict[str, Any]) -> EntityRow:
        """The object an update/delete/void names: 610 if gone, 2020 without SyncToken, 5010 if stale."""
        row = self._row(entity, body.get("Id"))
        if row is None or row.deleted:
            raise errors.object_deleted("transaction" if entity in TRANSACTIONS else "object")
        token = body.get("SyncToken")
        if token in (None, ""):
            raise errors.required_param("SyncToken")
        if str(token) != str(row.doc.get("SyncToken")):
            raise errors.stale_object()
        return row

    def _commit(self, entity: str, doc: dict[str, Any], internal: dict[str, Any],
                existing: EntityRow | None, now: float, entity_id: str | None = None) -> EntityRow:
        entity_id = existing.id if existing else (entity_id or self._next_id(entity))
        created = existing.doc["MetaData"]["CreateTime"] if existing else wire.meta_time(now)
        doc.update({
            "Id": entity_id,
            "SyncToken": "0" if existing is None else str(int(existing.doc["SyncToken"]) + 1),
            "MetaData": {"CreateTime": created, "LastUpdatedTime": wire.meta_time(now)},
            "domain": "QBO",
            "sparse": False,
        })
        row = EntityRow(self.realm_id, entity, entity_id, doc, internal, "active",
                        existing.created_at if existing else now, now)
        self.store.put(row)
        if existing is None:
            self.created.append((entity, entity_id))
        return row

    def _bump(self, row: EntityRow, now: float) -> None:
        """A side effect changed this object: new SyncToken and LastUpdatedTime, like QuickBooks."""
        row.doc["SyncToken"] = str(int(row.doc["SyncToken"]) + 1)
        row.doc["MetaData"] = {**row.doc["MetaData"], "LastUpdatedTime": wire.meta_time(now)}
        row.updated_at = now
        self.store.put(row)
        self.touched.add(row.entity)

    @staticmethod
    def _date_of(row: EntityRow | None):
        if row is None or not row.doc.get("TxnDate"):
            return None
        return rules.txn_date(row.doc)

    # --- Invoice and CreditMemo ------------------------------------------------------------------

    def _save_sales(self, entity: str, body: dict[str, Any], existing: EntityRow | None,
                    includes: set[str]) -> EntityRow:
        now = time.time()
        sparse = existing is not None and is_sparse(body)
        fields = rules.merged_fields(body, existing.doc if existing else None, rules.READ_ONLY_SALES, sparse)
        preferences = self.preferences()

        customer_ref = rules.require_ref(fields, "CustomerRef")
        raw_lines = rules.require(fields, "Line")
        custom_numbers = company.custom_txn_numbers(preferences)
        if custom_numbers:
            doc_number = fields.get("DocNumber")
            doc_number = None if doc_number in (None, "") else str(doc_number)
            rules.check_length(doc_number, "DocNumber", rules.DOC_NUMBER_MAX)
        else:
            # QuickBooks numbers the document itself and ignores a DocNumber it is sent.
            doc_number = existing.doc.get("DocNumber") if existing else None
        txn_date = rules.txn_date(fields)

        customer = self.resolve("Customer", customer_ref, "CustomerRef")
        lines = rules.sales_lines(raw_lines, self._resolve_item, {"value": company.SERVICES_ITEM_ID})
        rules.check_period_open(company.book_close_date(preferences), txn_date, self._date_of(existing))

        sent_tax = body.get("TxnTaxDetail")
        if rules.is_tax_override(sent_tax):
            tax_detail, total_tax = rules.overridden_tax(sent_tax)
            tax_override = True
        elif sparse and "TxnTaxDetail" not in body and existing.internal.get("tax_override"):
            tax_detail, total_tax = rules.overridden_tax(existing.doc["TxnTaxDetail"])
            tax_override = True
        else:
            tax_detail, total_tax = rules.computed_tax(
                lines.taxable_amount, company.sales_tax_rate(self.config), company.AST_TAX_CODE_ID,
                company.AST_TAX_RATE_ID, company.using_sales_tax(preferences))
            tax_override = False
        total = lines.subtotal + total_tax
        if total < 0:
            raise errors.business_validation("Transaction total amount can not be negative.", "TotalAmt")
        applied = {pid: decimal(v) for pid, v in (existing.internal.get("applied") or {}).items()} if existing else {}
        open_amount = total - sum(applied.values(), ZERO)
        if open_amount < 0:
            raise errors.business_validation(
                f"The new total {total} is less than the {sum(applied.values(), ZERO)} already applied to this "
                f"{entity} by payments.", "TotalAmt")

        if (custom_numbers and doc_number and self.config.get("warn_duplicate_doc_number", True)
                and "allowduplicatedocnum" not in includes):
            for other in self.store.with_doc_number(self.realm_id, entity, doc_number):
                if (existing is None or other.id != existing.id) and (entity, other.id) not in self.hidden:
                    raise errors.duplicate_doc_number(doc_number, entity, other.id)

        entity_id = existing.id if existing else self._next_id(entity)
        if not custom_numbers and doc_number is None:
            doc_number = self._next_doc_number(entity)

        doc = fields
        doc.pop("DocNumber", None)
        if doc_number is not None:
            doc["DocNumber"] = doc_number
        doc.update({
            "TxnDate": txn_date.isoformat(),
            "CustomerRef": {"value": customer["Id"], "name": customer.get("DisplayName")},
            "Line": lines.lines + [rules.subtotal_line(lines.subtotal)],
            "TxnTaxDetail": tax_detail,
            "TotalAmt": total,
        })
        doc.setdefault("CurrencyRef", USD)
        lists.fill_sales_dates(doc, txn_date, preferences, lambda ref, element: self.resolve("Term", ref, element))
        doc.setdefault("PrintStatus", "NotSet")
        doc.setdefault("EmailStatus", "NotSet")
        doc.setdefault("ApplyTaxAfterDiscount", False)
        internal = {"applied": applied, "tax_override": tax_override}
        self._set_open_amount(entity, doc, internal)
        return self._commit(entity, doc, internal, existing, now, entity_id)

    @staticmethod
    def _set_open_amount(entity: str, doc: dict[str, Any], internal: dict[str, Any]) -> None:
        applied = internal.get("applied") or {}
        open_amount = decimal(doc.get("TotalAmt")) - sum((decimal(v) for v in applied.values()), ZERO)
        doc["Balance"] = open_amount
        if entity == "CreditMemo":
            doc["RemainingCredit"] = open_amount
        links = [{"TxnId": pid, "TxnType": "Payment"} for pid in applied]
        if links:
            doc["LinkedTxn"] = links
        else:
            doc.pop("LinkedTxn", None)

    def void_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        """Void keeps the number and the lines; amounts, TotalAmt and Balance go to 0, note "Voided"."""
        now = time.time()
        existing = self._existing_for_update("Invoice", body)
        rules.check_period_open(company.book_close_date(self.preferences()), self._date_of(existing))
        self._unlink_payments(existing, now)
        doc = copy.deepcopy(existing.doc)
        for line in doc.get("Line", []):
            if "Amount" in line:
                line["Amount"] = ZERO
            detail = line.get("SalesItemLineDetail")
            if isinstance(detail, dict) and "Qty" in detail:
                detail["Qty"] = ZERO
        doc.update({"TxnTaxDetail": {"TotalTax": ZERO}, "TotalAmt": ZERO, "Balance": ZERO, "PrivateNote": "Voided"})
        doc.pop("LinkedTxn", None)
        internal = {"applied": {}, "tax_override": False, "voided": True}
        return self._commit("Invoice", doc, internal, existing, now).doc

    # --- Payment ---------------------------------------------------------------------------------

    def _save_payment(self, entity: str, body: dict[str, Any], existing: EntityRow | None,
                      includes: set[str]) -> EntityRow:
        now = time.time()
        sparse = existing is not None and is_sparse(body)
        fields = rules.merged_fields(body, existing.doc if existing else None, rules.READ_ONLY_PAYMENT, sparse)
        customer_ref = rules.require_ref(fields, "CustomerRef")
        if fields.get("TotalAmt") in (None, ""):
            raise errors.business_validation("You must set a transaction amount.", "TotalAmt")
        total = rules.money(fields["TotalAmt"], "TotalAmt")
        if total < 0:
            raise errors.business_validation("The payment amount can not be negative.", "TotalAmt")
        txn_date = rules.txn_date(fields)
        customer = self.resolve("Customer", customer_ref, "CustomerRef")
        if rules.ref_value(fields.get("DepositToAccountRef")):
            account = self.resolve("Account", fields["DepositToAccountRef"], "DepositToAccountRef")
        else:
            account = self.store.get(self.realm_id, "Account", company.UNDEPOSITED_FUNDS_ACCOUNT_ID).doc
        rules.check_period_open(company.book_close_date(self.preferences()), txn_date, self._date_of(existing))

        previous = {k: decimal(v) for k, v in (existing.internal.get("applications") or {}).items()} if existing else {}
        applications, targets, lines = self._payment_lines(fields, customer)
        applied = _checked_applications(applications, targets, previous, total)
        entity_id = existing.id if existing else self._next_id("Payment")
        for key in sorted(set(previous) | set(applications)):
            if previous.get(key) != applications.get(key):
                self._set_application(key, entity_id, applications.get(key), now)

        doc = fields
        doc.update({
            "CustomerRef": {"value": customer["Id"], "name": customer.get("DisplayName")},
            "DepositToAccountRef": {"value": account["Id"], "name": account.get("Name")},
            "TxnDate": txn_date.isoformat(),
            "TotalAmt": total,
            "UnappliedAmt": total - applied,
            "Line": lines,
        })
        doc.setdefault("ProcessPayment", False)
        doc.setdefault("CurrencyRef", USD)
        return self._commit("Payment", doc, {"applications": applications}, existing, now, entity_id)

    def _payment_lines(self, fields: dict[str, Any], customer: dict[str, Any]
                       ) -> tuple[dict[str, Decimal], dict[str, EntityRow], list[dict[str, Any]]]:
        """Each line's amount per linked invoice or credit memo of this customer ("Type:Id" keys)."""
        applications: dict[str, Decimal] = {}
        targets: dict[str, EntityRow] = {}
        lines: list[dict[str, Any]] = []  # as stored: each line's amount and the one transaction it links
        for raw in fields.get("Line") or []:
            if not isinstance(raw, dict):
                raise errors.invalid_property("Property Name:Line specified is unsupported or invalid", "Line")
            amount = rules.money(raw.get("Amount"), "Line.Amount")
            linked = raw.get("LinkedTxn")
            linked = [linked] if isinstance(linked, dict) else linked
            if not linked:
                raise errors.required_param("Line.LinkedTxn")
            if len(linked) != 1:
                raise errors.business_validation("A payment line must link exactly one transaction.",
                                                 "Line.LinkedTxn")
            txn_type, txn_id = linked[0].get("TxnType"), linked[0].get("TxnId")
            if txn_id in (None, ""):
                raise errors.required_param("Line.LinkedTxn.TxnId")
            if txn_type not in ("Invoice", "CreditMemo"):
                raise errors.invalid_property(
                    f"Property Name:TxnType specified is unsupported or invalid: {txn_type}", "Line.LinkedTxn.TxnType")
            target = self._row(txn_type, str(txn_id))
            if (target is None or target.deleted
                    or rules.ref_value(target.doc.get("CustomerRef")) != customer["Id"]):
                raise errors.linked_txn_not_found(txn_type, str(txn_id))
            key = f"{txn_type}:{target.id}"
            applications[key] = applications.get(key, ZERO) + amount
            targets[key] = target
            lines.append({"Amount": amount, "LinkedTxn": [{"TxnId": target.id, "TxnType": txn_type}]})
        return applications, targets, lines

    def _set_application(self, key: str, payment_id: str, amount: Decimal | None, now: float) -> None:
        """Record how much of a payment is applied to one invoice or credit memo (None = unlink)."""
        txn_type, txn_id = key.split(":")
        row = self.store.get(self.realm_id, txn_type, txn_id)
        if row is None or row.deleted:
            return
        applied = row.internal.setdefault("applied", {})
        if amount is None:
            applied.pop(payment_id, None)
        else:
            applied[payment_id] = amount
        self._set_open_amount(txn_type, row.doc, row.internal)
        self._bump(row, now)

    def _unlink_payments(self, row: EntityRow, now: float) -> None:
        """Voiding or deleting a paid document leaves its payments' money unapplied, as in the UI."""
        key = f"{row.entity}:{row.id}"
        for payment_id in list((row.internal.get("applied") or {})):
            payment = self.store.get(self.realm_id, "Payment", payment_id)
            if payment is None or payment.deleted:
                continue
            applications = {k: decimal(v) for k, v in (payment.internal.get("applications") or {}).items()}
            applications.pop(key, None)
            payment.internal["applications"] = applications
            payment.doc["Line"] = [
                line for line in payment.doc.get("Line", [])
                if not any(f"{link.get('TxnType')}:{link.get('TxnId')}" == key for link in line.get("LinkedTxn", []))
            ]
            payment.doc["UnappliedAmt"] = decimal(payment.doc.get("TotalAmt")) - _net_applied(applications)
            self._bump(payment, now)
        row.internal["applied"] = {}

    def void_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /payment?operation=update&include=void: amounts go to 0 and the invoices reopen."""
        now = time.time()
        existing = self._existing_for_update("Payment", body)
        rules.check_period_open(company.book_close_date(self.preferences()), self._date_of(existing))
        for key in (existing.internal.get("applications") or {}):
            self._set_application(key, existing.id, None, now)
        doc = copy.deepcopy(existing.doc)
        doc.update({"TotalAmt": ZERO, "UnappliedAmt": ZERO, "Line": [], "PrivateNote": "Voided"})
        return self._commit("Payment", doc, {"applications": {}, "voided": True}, existing, now).doc

    # --- delete ----------------------------------------------------------------------------------

    def delete(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        if entity not in TRANSACTIONS:
            raise errors.unsupported_operation("Delete")  # name lists are made inactive, never deleted
        if body.get("Id") in (None, ""):
            raise errors.required_param("Id")
        now = time.time()
        existing = self._existing_for_update(entity, body)
        rules.check_period_open(company.book_close_date(self.preferences()), self._date_of(existing))
        if entity == "Payment":
            for key in (existing.internal.get("applications") or {}):
                self._set_application(key, existing.id, None, now)
            existing.internal["applications"] = {}
        else:
            self._unlink_payments(existing, now)
        existing.status = "deleted"
        existing.updated_at = now
        existing.doc["MetaData"] = {**existing.doc["MetaData"], "LastUpdatedTime": wire.meta_time(now)}
        self.store.put(existing)
        return {"domain": "QBO", "status": "Deleted", "Id": existing.id}

    # --- name lists ------------------------------------------------------------------------------

    def _check_unique_name(self, entity: str, name: str, existing: EntityRow | None) -> None:
        """6240, against active and inactive objects alike (QuickBooks keeps inactive names taken)."""
        for kind in lists.NAME_SPACES.get(entity, (entity,)):   # Customer and Vendor share one name space
            for other in self.store.with_name_key(self.realm_id, kind, name_key(name)):
                if (existing is None or (kind, other.id) != (entity, existing.id)) and (kind, other.id) not in self.hidden:
                    raise errors.duplicate_name()

    def _save_customer(self, entity: str, body: dict[str, Any], existing: EntityRow | None,
                       includes: set[str]) -> EntityRow:
        now = time.time()
        sparse = existing is not None and is_sparse(body)
        fields = rules.merged_fields(body, existing.doc if existing else None, rules.READ_ONLY_CUSTOMER, sparse)
        display_name = rules.customer_display_name(fields)
        if rules.ref_value(fields.get("ParentRef")):
            parent = self.resolve("Customer", fields["ParentRef"], "ParentRef")
            fields["ParentRef"] = {"value": parent["Id"]}
            fields["Job"] = True
        self._check_unique_name("Customer", display_name, existing)
        doc = fields
        doc.update({"DisplayName": display_name, "FullyQualifiedName": display_name,
                    "Active": as_bool(fields.get("Active"), True)})
        doc.setdefault("PrintOnCheckName", display_name)
        doc.setdefault("Taxable", True)
        doc.setdefault("Job", False)
        doc.setdefault("BillWithParent", False)
        doc.setdefault("PreferredDeliveryMethod", "Print")
        doc.setdefault("CurrencyRef", USD)
        return self._commit("Customer", doc, {}, existing, now)

    def _save_vendor(self, entity: str, body: dict[str, Any], existing: EntityRow | None,
                     includes: set[str]) -> EntityRow:
        sparse = existing is not None and is_sparse(body)
        fields = rules.merged_fields(body, existing.doc if existing else None, rules.READ_ONLY_CUSTOMER, sparse)
        display_name, doc = lists.vendor_fields(fields)
        self._check_unique_name("Vendor", display_name, existing)
        return self._commit("Vendor", doc, {}, existing, time.time())

    def _save_item(self, entity: str, body: dict[str, Any], existing: EntityRow | None,
                   includes: set[str]) -> EntityRow:
        now = time.time()
        sparse = existing is not None and is_sparse(body)
        fields = rules.merged_fields(body, existing.doc if existing else None, rules.READ_ONLY_ITEM, sparse)
        name = str(rules.require(fields, "Name")).strip()
        rules.check_length(name, "Name", rules.ITEM_NAME_MAX)
        item_type = fields.get("Type") or "Service"
        if item_type not in rules.ITEM_TYPES:
            raise errors.invalid_property(f"Property Name:Type specified is unsupported or invalid: {item_type}",
                                          "Type")
        if item_type in ("Service", "NonInventory", "Inventory"):
            account = self.resolve("Account", rules.require_ref(fields, "IncomeAccountRef"), "IncomeAccountRef")
            fields["IncomeAccountRef"] = {"value": account["Id"], "name": account.get("Name")}
        self._check_unique_name("Item", name, existing)
        doc = fields
        doc.update({"Name": name, "FullyQualifiedName": name, "Type": item_type,
                    "Active": as_bool(fields.get("Active"), True), "Taxable": as_bool(fields.get("Taxable"), False)})
        doc.setdefault("UnitPrice", ZERO)
        doc.setdefault("TrackQtyOnHand", False)
        return self._commit("Item", doc, {}, existing, now)

    def _save_account(self, entity: str, body: dict[str, Any], existing: EntityRow | None,
                      includes: set[str]) -> EntityRow:
        now = time.time()
        sparse = existing is not None and is_sparse(body)
        fields = rules.merged_fields(body, existing.doc if existing else None, rules.READ_ONLY_ACCOUNT, sparse)
        name = str(rules.require(fields, "Name")).strip()
        rules.check_length(name, "Name", rules.ACCOUNT_NAME_MAX)
        account_type = str(rules.require(fields, "AccountType"))
        classification = rules.account_classification(account_type)
        self._check_unique_name("Account", name, existing)
        doc = fields
        doc.update({"Name": name, "FullyQualifiedName": name, "AccountType": account_type,
                    "Classification": classification, "Active": as_bool(fields.get("Active"), True)})
        doc.setdefault("SubAccount", False)
        doc.setdefault("CurrencyRef", USD)
        doc["CurrentBalance"] = existing.doc.get("CurrentBalance", ZERO) if existing else ZERO
        doc["CurrentBalanceWithSubAccounts"] = doc["CurrentBalance"]
        return self._commit("Account", doc, {}, existing, now)

    # --- preferences -----------------------------------------------------------------------------

    def update_preferences(self, body: Any) -> dict[str, Any]:
        """Only the writable preferences change; a full update sets omitted writable ones to null."""
        if not isinstance(body, dict):
            raise errors.invalid_property("Property Name:Preferences specified is unsupported or invalid")
        body = {**body, "Id": body.get("Id") or "1"}
        existing = self._existing_for_update("Preferences", body)
        preferences = copy.deepcopy(existing.doc)
        sparse = is_sparse(body)
        for section, keys in company.WRITABLE_PREFERENCES.items():
            sent = body.get(section)
            target = preferences.setdefault(section, {})
            for key in keys:
                if isinstance(sent, dict) and key in sent:
                    if sent[key] is None:
                        target.pop(key, None)
                    else:
                        target[key] = copy.deepcopy(sent[key])
                elif not sparse:
                    target.pop(key, None)
        close = (preferences.get("AccountingInfoPrefs") or {}).get("BookCloseDate")
        if close is not None and company.book_close_date(preferences) is None:
            raise errors.invalid_property(f"Property Name:BookCloseDate specified is unsupported or invalid: {close}",
                                          "AccountingInfoPrefs.BookCloseDate")
        self.touched.add("Preferences")
        return self._commit("Preferences", preferences, {}, existing, time.time()).doc

    def change_preferences_as_bookkeeper(self, changes: dict[str, Any]) -> dict[str, Any]:
        """What a person does in Account and Settings: no SyncToken needed, but it still changes it
        (so a client holding the old Preferences gets 5010, as it would after a change in the UI)."""
        existing = self.store.get(self.realm_id, "Preferences", "1")
        preferences = company.deep_merge(copy.deepcopy(existing.doc), changes)
        if (preferences.get("AccountingInfoPrefs") or {}).get("BookCloseDate") and \
                company.book_close_date(preferences) is None:
            raise ValueError("BookCloseDate must be YYYY-MM-DD")
        return self._commit("Preferences", preferences, {}, existing, time.time()).doc

