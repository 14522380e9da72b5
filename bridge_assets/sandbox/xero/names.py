"""Contacts, items, the chart of accounts and the tax rates of one emulated Xero organisation.

Contacts: `Name` required (at most 255) and unique (case-insensitive) among active contacts,
`ContactNumber` (at most 50) unique; items: `Code` required (at most 30) and unique, `Name` at most 50.
The chart of accounts is fixed: a new Xero organisation's revenue accounts and one bank account.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge_assets.sandbox.xero import errors
from bridge_assets.sandbox.xero.errors import Invalid
from bridge_assets.sandbox.xero.store import Store

NAMESPACE = uuid.UUID("1f6c0de2-8b55-4d7e-a1f3-6a0b4c2d9e71")
ACCOUNTS = (("090", "Business Bank Account", "BANK"), ("200", "Sales", "REVENUE"),
            ("260", "Other Revenue", "REVENUE"), ("610", "Accounts Receivable", "CURRENT"),
            ("820", "Sales Tax", "CURRLIAB"))


def account_rows(tenant_id: str) -> list[dict[str, Any]]:
    return [{"AccountID": str(uuid.uuid5(NAMESPACE, f"{tenant_id}:{code}")), "Code": code, "Name": name, "Type": kind,
             "Status": "ACTIVE", "EnablePaymentsToAccount": kind == "BANK"} for code, name, kind in ACCOUNTS]


def account(tenant_id: str, ref: dict[str, Any] | None) -> dict[str, Any] | None:
    """The account a `{Code}` or `{AccountID}` names, or None."""
    ref = ref or {}
    for row in account_rows(tenant_id):
        if (ref.get("Code") and str(ref["Code"]) == row["Code"]) or (ref.get("AccountID") and
                                                                      str(ref["AccountID"]) == row["AccountID"]):
            return row
    return None


def decimal(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Invalid(f"{what} '{value}' is not a valid number") from None


class Names:
    def __init__(self, store: Store, tenant_id: str, touched: set[str]) -> None:
        self.store, self.tenant_id, self.touched = store, tenant_id, touched

    # --- contacts ----------------------------------------------------------------------------------

    def contacts(self) -> list[dict[str, Any]]:
        return self.store.all(self.tenant_id, "Contact")

    def contact_by_name(self, name: str) -> dict[str, Any] | None:
        wanted = name.strip().lower()
        return next((c for c in self.contacts() if c.get("ContactStatus") == "ACTIVE"
                     and c["Name"].strip().lower() == wanted), None)

    def contact(self, ref: dict[str, Any] | None, *, create: bool) -> dict[str, Any]:
        """The contact an invoice names by ContactID, ContactNumber or Name (a new Name creates one)."""
        ref = ref or {}
        if ref.get("ContactID"):
            found = self.store.get(self.tenant_id, "Contact", str(ref["ContactID"]))
            if found is None:
                raise Invalid("The contact with the specified ContactID could not be found")
            return found
        if ref.get("ContactNumber"):
            found = next((c for c in self.contacts() if c.get("ContactNumber") == ref["ContactNumber"]), None)
            if found is not None:
                return found
        if not (ref.get("Name") or "").strip():
            raise Invalid("Contact cannot be empty.")
        found = self.contact_by_name(str(ref["Name"]))
        if found is not None or not create:
            if found is None:
                raise Invalid(f"The contact {ref['Name']} could not be found")
            return found
        return self.save_contact({"Name": ref["Name"], "ContactNumber": ref.get("ContactNumber")}, None)

    def save_contact(self, item: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        contact = dict(existing or {"ContactID": str(uuid.uuid4()), "ContactStatus": "ACTIVE"})
        for field in ("Name", "ContactNumber", "EmailAddress", "FirstName", "LastName", "AccountNumber"):
            if field in item and item[field] is not None:
                contact[field] = str(item[field])
        name = (contact.get("Name") or "").strip()
        if not name:
            raise Invalid("The contact name must be specified.")   # (wording unconfirmed)
        if len(name) > 255 or len(contact.get("ContactNumber") or "") > 50:
            raise Invalid("The contact name is at most 255 characters and the contact number at most 50.")
        for other in self.contacts():
            if other["ContactID"] == contact["ContactID"]:
                continue
            if other.get("ContactStatus") == "ACTIVE" and other["Name"].strip().lower() == name.lower():
                raise Invalid(f"The contact name {name} is already assigned to another contact. The contact name "
                              f"must be unique across all active contacts.")
            if contact.get("ContactNumber") and other.get("ContactNumber") == contact["ContactNumber"]:
                raise Invalid(f"The contact number {contact['ContactNumber']} is already assigned to another contact.")
        contact["Name"] = name
        self.store.put(self.tenant_id, "Contact", contact["ContactID"], contact.get("ContactNumber"), contact)
        self.touched.add("Contact")
        return contact

    # --- items -------------------------------------------------------------------------------------

    def item_by_code(self, code: str) -> dict[str, Any] | None:
        found = self.store.by_number(self.tenant_id, "Item", code)
        return found[0] if found else None

    def save_item(self, item: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        row = dict(existing or {"ItemID": str(uuid.uuid4())})
        for field in ("Code", "Name", "Description", "IsSold", "IsPurchased"):
            if field in item and item[field] is not None:
                row[field] = item[field]
        code = str(row.get("Code") or "").strip()
        if not code:
            raise Invalid("Item Code must be specified.")        # (wording unconfirmed)
        if len(code) > 30 or len(str(row.get("Name") or "")) > 50:
            raise Invalid("An item code is at most 30 characters and its name at most 50.")
        other = self.item_by_code(code)
        if other is not None and other["ItemID"] != row["ItemID"]:
            raise Invalid(f"Item code '{code}' already exists.")   # (wording unconfirmed)
        sales = item.get("SalesDetails")
        if isinstance(sales, dict):
            details = dict(row.get("SalesDetails") or {})
            if sales.get("UnitPrice") is not None:
                details["UnitPrice"] = decimal(sales["UnitPrice"], "UnitPrice")
            if sales.get("AccountCode"):
                if account(self.tenant_id, {"Code": sales["AccountCode"]}) is None:
                    raise Invalid(f"Account code '{sales['AccountCode']}' is not a valid code for this document.")
                details["AccountCode"] = str(sales["AccountCode"])
            if sales.get("TaxType"):
                details["TaxType"] = str(sales["TaxType"])
            row["SalesDetails"] = details
        row["Code"] = code
        row.setdefault("Name", code)
        row.setdefault("IsSold", True)
        self.store.put(self.tenant_id, "Item", row["ItemID"], code, row)
        self.touched.add("Item")
        return row


def refuse(element: dict[str, Any], problem: Invalid) -> errors.XeroError:
    return errors.one_validation(str(problem), element)
