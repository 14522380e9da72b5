"""The lists and documents a real company holds besides what the bridge writes: Term, TaxCode, TaxRate,
Vendor, Estimate, SalesReceipt; and how a sales document's dates are filled in.

What QuickBooks does, and where it is said (the rules table for this module; "unconfirmed" = the strictest
plausible reading, chosen here and nowhere else):

| rule | source | here |
|---|---|---|
| Term: `Name`, `Type` STANDARD with `DueDays` (or DATE_DRIVEN), `Active`; queried like a name list | Intuit's Term reference (copied in abossenbroek/qbo-mcp qbo-api-docs/entities/term.md) | seeded: Due on receipt 0, Net 15, Net 30, Net 60 (ids 1-4 unconfirmed) |
| TaxCode / TaxRate: read and queried; US codes are made by automated sales tax, not by the API | Intuit's TaxCode/TaxRate references (same copy) | seeded: TaxCode 2 and TaxRate 3, the ids TxnTaxDetail already names; written only by a person (admin) |
| a Customer's `DisplayName` is unique across customers, vendors and employees (6240) | API_FACTS.md | Customer and Vendor share one name space |
| Vendor: created and updated like a Customer (DisplayName derived from the name parts, no `:`) | Intuit's Vendor reference | as stated |
| Estimate, SalesReceipt: readable and queryable | Intuit's references | read and query; entered by a person (admin `POST .../entities/{Entity}`); the API refuses to write them here (500 Unsupported Operation), an emulator limit |
| an empty string sent for a date is no date (python-quickbooks sends `DueDate: ""`, `ShipDate: ""`, `TxnDate: ""` on every new Invoice, objects/invoice.py, and works against QuickBooks) | python-quickbooks 0.9.12 | left out, then filled as below |
| DueDate not provided: "the number of days specified in SalesTermRef added the transaction date will be used" | Intuit's Invoice reference, DueDate (copied in abossenbroek/qbo-mcp entities/invoice.md) | TxnDate + DueDays of `SalesTermRef`, else of the company's `SalesFormsPrefs.DefaultTerms`, else TxnDate (unconfirmed) |
| a date that is not YYYY-MM-DD | unconfirmed | 2010 naming the field |
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from bridge_assets.sandbox.qbo import errors, rules

COMMON = {"Id", "SyncToken", "MetaData.CreateTime", "MetaData.LastUpdatedTime"}
QUERYABLE_FIELDS: dict[str, set[str]] = {
    "Term": COMMON | {"Name", "Active", "Type", "DueDays", "DiscountDays", "DiscountPercent", "DayOfMonthDue"},
    "TaxCode": COMMON | {"Name", "Active", "Taxable", "TaxGroup", "Description"},
    "TaxRate": COMMON | {"Name", "Active", "RateValue", "AgencyRef", "SpecialTaxType", "DisplayType", "Description"},
    "Vendor": COMMON | {"DisplayName", "GivenName", "FamilyName", "CompanyName", "Active", "Balance",
                        "PrintOnCheckName", "PrimaryEmailAddr.Address"},
    "Estimate": COMMON | {"DocNumber", "TxnDate", "CustomerRef", "TotalAmt", "TxnStatus", "ExpirationDate"},
    "SalesReceipt": COMMON | {"DocNumber", "TxnDate", "CustomerRef", "TotalAmt", "PaymentRefNum",
                              "DepositToAccountRef"},
}
NAME_LISTS = ("Vendor", "Term", "TaxCode", "TaxRate")
WRITABLE = ("Vendor",)
READABLE = tuple(QUERYABLE_FIELDS)
TRANSACTIONS = ("Estimate", "SalesReceipt")
# One name space for people and companies: a Customer may not take a Vendor's DisplayName and back.
NAME_SPACES = {"Customer": ("Customer", "Vendor"), "Vendor": ("Customer", "Vendor")}
DATE_FIELDS = ("ShipDate",)

SEED_TERMS = (("1", "Due on receipt", 0), ("2", "Net 15", 15), ("3", "Net 30", 30), ("4", "Net 60", 60))
TAX_CODE_ID, TAX_RATE_ID = "2", "3"


def seed_documents(tax_rate_percent: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(entity, id, document) for what a new company holds besides accounts and the Services item."""
    seeded: list[tuple[str, str, dict[str, Any]]] = [
        ("Term", term_id, {"Name": name, "Active": True, "Type": "STANDARD", "DueDays": days,
                           "domain": "QBO", "sparse": False})
        for term_id, name, days in SEED_TERMS]
    seeded.append(("TaxRate", TAX_RATE_ID, {"Name": "Sales tax", "Active": True, "RateValue": tax_rate_percent,
                                            "AgencyRef": {"value": "1"}, "SpecialTaxType": "NONE",
                                            "DisplayType": "ReadOnly", "domain": "QBO", "sparse": False}))
    seeded.append(("TaxCode", TAX_CODE_ID, {"Name": "Sales tax", "Active": True, "Taxable": True, "TaxGroup": False,
                                            "SalesTaxRateList": {"TaxRateDetail": [
                                                {"TaxRateRef": {"value": TAX_RATE_ID, "name": "Sales tax"},
                                                 "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}]},
                                            "PurchaseTaxRateList": {"TaxRateDetail": []},
                                            "domain": "QBO", "sparse": False}))
    return seeded


def vendor_fields(fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A Vendor's DisplayName (derived like a Customer's) and its document before commit."""
    display_name = rules.customer_display_name(fields)
    doc = dict(fields)
    doc.update({"DisplayName": display_name, "Active": fields.get("Active") is not False})
    doc.setdefault("PrintOnCheckName", display_name)
    doc.setdefault("Vendor1099", False)
    doc.setdefault("CurrencyRef", {"value": "USD", "name": "United States Dollar"})
    doc.setdefault("Balance", 0)
    return display_name, doc


def _date(value: Any, element: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise errors.invalid_property(f"Property Name:{element} specified is unsupported or invalid: {value}",
                                      element) from None


def fill_sales_dates(doc: dict[str, Any], txn_date: dt.date, preferences: dict[str, Any],
                     term_of: Callable[[Any, str], dict[str, Any]]) -> None:
    """Dates as QuickBooks keeps them: an empty string is no date; DueDate defaults from the terms."""
    for name in DATE_FIELDS:
        if doc.get(name) in ("", None):
            doc.pop(name, None)
        else:
            doc[name] = _date(doc[name], name).isoformat()
    for line in doc.get("Line") or []:
        detail = line.get("SalesItemLineDetail") if isinstance(line, dict) else None
        if isinstance(detail, dict) and "ServiceDate" in detail:
            if detail["ServiceDate"] in ("", None):
                detail.pop("ServiceDate")
            else:
                detail["ServiceDate"] = _date(detail["ServiceDate"], "Line.SalesItemLineDetail.ServiceDate").isoformat()
    if doc.get("SalesTermRef") in ("", None) or not rules.ref_value(doc.get("SalesTermRef")):
        doc.pop("SalesTermRef", None)
    if doc.get("DueDate") not in ("", None):
        doc["DueDate"] = _date(doc["DueDate"], "DueDate").isoformat()
        return
    doc.pop("DueDate", None)
    ref = doc.get("SalesTermRef") or (preferences.get("SalesFormsPrefs") or {}).get("DefaultTerms")
    days = 0
    if rules.ref_value(ref):
        term = term_of(ref, "SalesTermRef")
        doc["SalesTermRef"] = {"value": term["Id"], "name": term.get("Name")}
        days = int(term.get("DueDays") or 0)
    doc["DueDate"] = (txn_date + dt.timedelta(days=days)).isoformat()
