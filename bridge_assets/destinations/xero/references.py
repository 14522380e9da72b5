"""Contacts and items, matched or created per policy (XERO_AUTO_CREATE_CONTACTS / XERO_AUTO_CREATE_ITEMS).

Each is read once per adapter lifetime (one run) in pages, matched by name (contacts: Xero keeps names
unique among active contacts, case-insensitively) or code (items), and what is missing is created in
one request per kind. A document whose contact or item cannot be had is failed with a sentence.
"""

from __future__ import annotations

import uuid
from typing import Any, Sequence

from bridge_assets.destinations.xero.client import XeroAnswer
from bridge_assets.model.document import AccountingDocument

ITEM_CODE_MAX, ITEM_NAME_MAX = 30, 50


def name_key(name: str) -> str:
    return " ".join(name.split()).lower()


class ReferencesMixin:
    def _read_all(self, collection: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every object of a collection, page after page (Xero pages by 100 unless told otherwise)."""
        found, page = [], 1
        while True:
            answer = self.client.get(f"/{collection}", {**(params or {}), "page": page, "pageSize": 100})
            rows = answer.body.get(collection) if answer.ok else None
            if rows is None:
                raise self._refused_read(collection, answer)
            found.extend(rows)
            if len(rows) < 100:
                return found
            page += 1

    def _load_references(self) -> None:
        if self._contacts is None:
            self._contacts = {name_key(c["Name"]): c["ContactID"] for c in
                              self._read_all("Contacts", {"where": 'ContactStatus=="ACTIVE"'})}
        if self._items is None:
            self._items = {str(i["Code"]): str(i["Code"]) for i in self._read_all("Items")}

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        self._load_references()
        problems: dict[str, str] = {}
        contacts = {name_key(d.customer_name): d for d in documents if name_key(d.customer_name) not in self._contacts}
        if contacts and self.auto_create_contacts:
            self._create("Contacts", [{"Name": d.customer_name.strip()} for d in contacts.values()],
                         lambda row: self._contacts.__setitem__(name_key(row["Name"]), row["ContactID"]))
        items = {line.item_code: line for d in documents for line in d.lines
                 if line.item_code and line.item_code not in self._items and len(line.item_code) <= ITEM_CODE_MAX}
        if items and self.auto_create_items:
            self._create("Items", [{"Code": code, "Name": code[:ITEM_NAME_MAX], "Description": line.description or code,
                                    "SalesDetails": {"AccountCode": self.codes.sales_account}}
                                   for code, line in items.items()],
                         lambda row: self._items.__setitem__(str(row["Code"]), str(row["Code"])))
        for d in documents:
            problem = self._reference_problem(d)
            if problem:
                problems[d.doc_key] = problem
        return problems

    def _reference_problem(self, document: AccountingDocument) -> str | None:
        key = name_key(document.customer_name)
        if key not in self._contacts:
            why = self._contact_problems.get(key) or (
                "auto-create is off (XERO_AUTO_CREATE_CONTACTS=false): add the contact in Xero or turn it on")
            return f"contact '{document.customer_name}' is not in Xero: {why}"
        if document.doc_type == "payment":
            return None
        for line in document.lines:
            if len(line.item_code) > ITEM_CODE_MAX:
                return (f"item code '{line.item_code}' is longer than Xero's {ITEM_CODE_MAX} characters; shorten it in "
                        f"the source")
            if line.item_code not in self._items:
                why = self._item_problems.get(line.item_code) or (
                    "auto-create is off (XERO_AUTO_CREATE_ITEMS=false): add the item in Xero or turn it on")
                return f"item '{line.item_code}' is not in Xero: {why}"
        return None

    def _has_references(self, document: AccountingDocument) -> bool:
        return self._contacts is not None and self._items is not None and self._reference_problem(document) is None

    def contact_id(self, document: AccountingDocument) -> str:
        return self._contacts[name_key(document.customer_name)]

    def _create(self, collection: str, rows: list[dict[str, Any]], remember) -> None:
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self._run_nonce}|{collection}|" +
                             "|".join(sorted(str(r.get("Name") or r.get("Code")) for r in rows))))
        answer = self.client.write("PUT", f"/{collection}", {collection: rows}, key, {"summarizeErrors": "false"})
        results = answer.body.get(collection) if answer.ok else None
        if results is None:
            raise self._refused_read(collection, answer)
        problems = self._contact_problems if collection == "Contacts" else self._item_problems
        for sent, row in zip(rows, results):
            errors = [e.get("Message") for e in row.get("ValidationErrors") or []]
            if errors:
                problems[name_key(sent["Name"]) if collection == "Contacts" else sent["Code"]] = (
                    f"Xero refused to create it ({'; '.join(map(str, errors))})")
            else:
                remember(row)

    def _refused_read(self, what: str, answer: XeroAnswer) -> Exception:
        from bridge_assets.destinations.xero.client import XeroUnavailable
        return XeroUnavailable(f"{what}: HTTP {answer.status} {'; '.join(answer.messages())}", 1, answer.status)
