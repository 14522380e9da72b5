"""QuickBooks customers and items: matched by name or created per policy, cached per adapter."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from bridge_assets.destinations.qbo.client import QboFault
from bridge_assets.destinations.qbo.payloads import References, name_key, qbo_name
from bridge_assets.destinations.qbo.work import _Write
from bridge_assets.model.document import AccountingDocument


class ReferencesMixin:
    """resolve_references and the name caches of QboDestination."""

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        """Customers (by DisplayName) and items (by Name), matched or created per policy, cached for the
        adapter's lifetime. Returns {doc_key: problem sentence} for documents that cannot be posted."""
        documents = list(documents)
        customers: dict[str, tuple[str, AccountingDocument]] = {}
        items: dict[str, tuple[str, AccountingDocument, Any]] = {}
        for document in documents:
            key = name_key(document.customer_name)
            if key and key not in self._customers and key not in self._customer_problems:
                customers.setdefault(key, (qbo_name(document.customer_name), document))
            if document.doc_type == "payment":
                continue
            for line in document.lines:
                key = name_key(line.item_code)
                if key and key not in self._items and key not in self._item_problems:
                    items.setdefault(key, (qbo_name(line.item_code), document, line))
        if customers:
            self._resolve_names("Customer", customers)
        if items:
            self._resolve_names("Item", items)
        problems: dict[str, str] = {}
        for document in documents:
            found = []
            key = name_key(document.customer_name)
            if not key:
                found.append("it has no customer name")
            elif key in self._customer_problems:
                found.append(self._customer_problems[key])
            if document.doc_type != "payment":
                if not document.lines:
                    found.append("it has no lines")
                for line in document.lines:
                    problem = self._item_problems.get(name_key(line.item_code))
                    if problem and problem not in found:
                        found.append(problem)
            if found:
                problems[document.doc_key] = "; ".join(found)
        return problems

    def _resolve_names(self, entity: str, wanted: Mapping[str, tuple]) -> None:
        field = "DisplayName" if entity == "Customer" else "Name"
        kind = "Customer" if entity == "Customer" else "Item"
        ids, problems = (self._customers, self._customer_problems) if entity == "Customer" else (
            self._items, self._item_problems)
        auto_create = self.auto_create_customers if entity == "Customer" else self.auto_create_items
        switch = "QBO_AUTO_CREATE_CUSTOMERS" if entity == "Customer" else "QBO_AUTO_CREATE_ITEMS"
        found = self._named(entity, field, [name for name, *_ in wanted.values()])
        missing: dict[str, tuple] = {}
        for key, (name, *rest) in wanted.items():
            row = found.get(key)
            if row is not None and row.get("Active") is not False:
                ids[key] = str(row["Id"])
            elif row is not None:
                problems[key] = (f"{kind} '{name}' is inactive in QuickBooks; make it active again "
                                 f"(or use another name in the source) and run again")
            elif not auto_create:
                problems[key] = (f"{kind} '{name}' not found in QuickBooks and auto-create is off ({switch}=false); "
                                 f"create it in QuickBooks (or turn auto-create on) and run again")
            else:
                missing[key] = (name, *rest)
        if missing:
            self._create_names(entity, missing)

    def _named(self, entity: str, field: str, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        rows = self._query_in(entity, field, names, also="Active IN (true, false)")
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            key = name_key(str(row.get(field) or ""))
            if key not in found or found[key].get("Active") is False:
                found[key] = row
        return found

    def _create_names(self, entity: str, missing: Mapping[str, tuple]) -> None:
        kind = "Customer" if entity == "Customer" else "Item"
        ids, problems = (self._customers, self._customer_problems) if entity == "Customer" else (
            self._items, self._item_problems)
        pending = list(missing.items())
        if entity == "Item":
            account_id, account_problem = self._income_account()
            if account_problem:
                for key, (name, *_) in pending:
                    problems[key] = f"Item '{name}' not found in QuickBooks and {account_problem}"
                return
        taken: list[tuple[str, str]] = []
        for start in range(0, len(pending), self.capabilities.batch_size):
            chunk = pending[start:start + self.capabilities.batch_size]
            writes = []
            for key, (name, document, *line) in chunk:
                if entity == "Customer":
                    body = {"DisplayName": name, "Notes": f"Customer {document.customer_key} in {document.source} "
                                                          f"(created by the invoice bridge)"}
                else:
                    first = line[0]
                    body = {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": account_id},
                            "Taxable": bool(first.taxable)}
                    if first.description:
                        body["Description"] = first.description
                writes.append(_Write(entity, "create", body, f"{entity}|{key}|{self._run_nonce}"))
            for (key, (name, *_)), result in zip(chunk, self._write(writes), strict=True):
                if result.entity is not None:
                    ids[key] = str(result.entity["Id"])
                elif result.faults and result.faults[0].code == "6240":
                    taken.append((key, name))
                else:
                    fault = result.faults[0] if result.faults else QboFault("", "", "no answer")
                    problems[key] = f"{kind} '{name}' could not be created in QuickBooks: {fault.text()}"
        if taken:
            # Someone (another run, a person) may have created it meanwhile; otherwise the name is
            # used by a vendor or employee, which QuickBooks counts against customer names too.
            field = "DisplayName" if entity == "Customer" else "Name"
            found = self._named(entity, field, [name for _, name in taken])
            for key, name in taken:
                row = found.get(key)
                if row is not None and row.get("Active") is not False:
                    ids[key] = str(row["Id"])
                elif row is not None:
                    problems[key] = f"{kind} '{name}' is inactive in QuickBooks; make it active again and run again"
                else:
                    problems[key] = (f"{kind} '{name}' cannot be created in QuickBooks because another customer, "
                                     f"vendor or employee already uses that name; rename one of them (or create the "
                                     f"{kind.lower()} by hand) and run again")

    def _income_account(self) -> tuple[str | None, str | None]:
        if self._income_account_id is None:
            rows = self._query_in("Account", "Name", [self.income_account])
            income = [r for r in rows if r.get("Classification") == "Revenue" or "Income" in str(r.get("AccountType"))]
            if not income:
                return None, (f"the income account '{self.income_account}' (QBO_INCOME_ACCOUNT) that new items are "
                              f"created with does not exist in QuickBooks; set QBO_INCOME_ACCOUNT to the name of an "
                              f"income account, or create the item by hand")
            self._income_account_id = str(income[0]["Id"])
        return self._income_account_id, None

    def references(self, document: AccountingDocument) -> References:
        """The QuickBooks Ids of a resolved document's customer and items (KeyError if not resolved)."""
        items = {} if document.doc_type == "payment" else {
            name_key(l.item_code): self._items[name_key(l.item_code)] for l in document.lines}
        return References(self._customers[name_key(document.customer_name)], items)

    def _has_references(self, document: AccountingDocument) -> bool:
        """Whether this document's customer and items all have a QuickBooks Id in the caches."""
        if name_key(document.customer_name) not in self._customers:
            return False
        return document.doc_type == "payment" or all(name_key(l.item_code) in self._items for l in document.lines)

    def _forget_references(self, document: AccountingDocument) -> None:
        """QuickBooks says a reference is gone (2500/610): look it up afresh next time."""
        self._customers.pop(name_key(document.customer_name), None)
        for line in document.lines:
            self._items.pop(name_key(line.item_code), None)
