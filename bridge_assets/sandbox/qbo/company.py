"""A QuickBooks company (realm) as a new sandbox company starts: preferences, company info, the
chart of accounts a sales flow needs, and the "Services" item QuickBooks creates for every company.

The emulator-only switches live in the company's config, not in Preferences, because QuickBooks does
not expose them through the API either: the flat sales-tax rate that stands in for automated sales
tax, and "warn if duplicate invoice number is used" (Account and Settings > Advanced in the UI).
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from decimal import Decimal
from typing import Any

from bridge_assets.sandbox.qbo import lists, wire
from bridge_assets.sandbox.qbo.settings import EmulatorSettings
from bridge_assets.sandbox.qbo.store import EntityRow, Store

# Seeded accounts: (Name, AccountType, AccountSubType, Classification)
SEED_ACCOUNTS = (
    ("Services", "Income", "ServiceFeeIncome", "Revenue"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome", "Revenue"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
    ("Sales Tax Payable", "Other Current Liability", "SalesTaxPayable", "Liability"),
)
SERVICES_ACCOUNT_ID = "1"
UNDEPOSITED_FUNDS_ACCOUNT_ID = "4"
SERVICES_ITEM_ID = "1"
# Ids of the tax code and rate reported in a computed TxnTaxDetail (stand-ins for the AST agency).
AST_TAX_CODE_ID = "2"
AST_TAX_RATE_ID = "3"


def default_preferences(settings: EmulatorSettings) -> dict[str, Any]:
    return {
        "AccountingInfoPrefs": {
            "FirstMonthOfFiscalYear": "January",
            "UseAccountNumbers": False,
            "TaxYearMonth": "January",
            "ClassTrackingPerTxn": False,
            "ClassTrackingPerTxnLine": False,
            "TrackDepartments": False,
            "CustomerTerminology": "Customers",
        },
        "ProductAndServicesPrefs": {
            "ForSales": True,
            "ForPurchase": True,
            "QuantityWithPriceAndRate": True,
            "QuantityOnHand": False,
        },
        "SalesFormsPrefs": {
            "AllowDeposit": False,
            "AllowDiscount": False,
            "AllowEstimates": True,
            "AllowServiceDate": True,
            "AllowShipping": False,
            "CustomTxnNumbers": settings.custom_txn_numbers,
            "ETransactionEnabledStatus": "NotApplicable",
            "ETransactionAttachPDF": False,
            "ETransactionPaymentEnabled": False,
            "IPNSupportEnabled": False,
            "UsingPriceLevels": False,
            "UsingProgressInvoicing": False,
            "AutoApplyCredit": False,
            "AutoApplyPayments": False,
        },
        "VendorAndPurchasesPrefs": {"BillableExpenseTracking": False, "TrackingByCustomer": False},
        "TimeTrackingPrefs": {"UseServices": False, "BillCustomers": False, "WorkWeekStartDate": "Monday"},
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": True},
        "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
        "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
        "OtherPrefs": {"NameValue": []},
        "Id": "1",
        "domain": "QBO",
        "sparse": False,
    }


# Writable preferences (Intuit's Preferences reference); everything else is read-only.
WRITABLE_PREFERENCES = {
    "AccountingInfoPrefs": {
        "FirstMonthOfFiscalYear", "TaxYearMonth", "ClassTrackingPerTxn", "ClassTrackingPerTxnLine",
        "TrackDepartments", "DepartmentTerminology", "BookCloseDate", "CustomerTerminology",
    },
    "ProductAndServicesPrefs": {"ForSales", "ForPurchase", "QuantityWithPriceAndRate", "QuantityOnHand"},
    "SalesFormsPrefs": {
        "CustomField", "AllowDeposit", "AllowDiscount", "AllowEstimates", "AllowServiceDate", "AllowShipping",
        "DefaultTerms", "DefaultCustomerMessage", "CustomTxnNumbers", "ETransactionAttachPDF",
        "ETransactionPaymentEnabled",
    },
    "VendorAndPurchasesPrefs": {
        "BillableExpenseTracking", "DefaultTerms", "DefaultMarkup", "TrackingByCustomer", "POCustomField",
        "MsgToVendors",
    },
    "TimeTrackingPrefs": {"UseServices", "BillCustomers", "ShowBillRateToAll", "WorkWeekStartDate",
                          "MarkTimeEntriesBillable"},
    "TaxPrefs": {"UsingSalesTax", "TaxGroupCodeRef", "PartnerTaxEnabled"},
    "EmailMessagesPrefs": {"InvoiceMessage", "EstimateMessage", "SalesReceiptMessage", "StatementMessage"},
    "OtherPrefs": {"NameValue"},
}


def default_config(settings: EmulatorSettings, company_name: str | None = None) -> dict[str, Any]:
    return {
        "CompanyName": company_name or settings.company_name,
        "sales_tax_rate": str(settings.sales_tax_rate),
        "warn_duplicate_doc_number": settings.warn_duplicate_doc_number,
    }


def ensure_company(
    store: Store,
    settings: EmulatorSettings,
    realm_id: str,
    *,
    company_name: str | None = None,
    config_overrides: dict[str, Any] | None = None,
    preferences: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create the company with its seed data if it does not exist; return its config."""
    with store.transaction():
        config = store.company_config(realm_id)
        if config is not None:
            return config
        config = default_config(settings, company_name)
        config.update(config_overrides or {})
        store.put_company_config(realm_id, config)
        _seed(store, settings, realm_id, config, preferences or {})
        return config


def _seed(store: Store, settings: EmulatorSettings, realm_id: str, config: dict[str, Any],
          preference_overrides: dict[str, Any]) -> None:
    now = time.time()
    prefs = default_preferences(settings)
    deep_merge(prefs, preference_overrides)
    _put_new(store, realm_id, "Preferences", prefs, now, fixed_id="1")
    _put_new(
        store,
        realm_id,
        "CompanyInfo",
        {
            "CompanyName": config["CompanyName"],
            "LegalName": config["CompanyName"],
            "CompanyAddr": {"Line1": "100 Main Street", "City": "Mountain View", "CountrySubDivisionCode": "CA",
                            "PostalCode": "94043", "Country": "US"},
            "Country": "US",
            "Email": {"Address": "books@example.invalid"},
            "FiscalYearStartMonth": "January",
            "SupportedLanguages": "en",
            "NameValue": [{"Name": "OfferingSku", "Value": "QuickBooks Online Plus"}],
            "domain": "QBO",
            "sparse": False,
        },
        now,
        fixed_id="1",
    )
    for name, account_type, sub_type, classification in SEED_ACCOUNTS:
        _put_new(
            store,
            realm_id,
            "Account",
            {
                "Name": name,
                "SubAccount": False,
                "FullyQualifiedName": name,
                "Active": True,
                "Classification": classification,
                "AccountType": account_type,
                "AccountSubType": sub_type,
                "CurrentBalance": 0,
                "CurrentBalanceWithSubAccounts": 0,
                "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
                "domain": "QBO",
                "sparse": False,
            },
            now,
        )
    _put_new(
        store,
        realm_id,
        "Item",
        {
            "Name": "Services",
            "FullyQualifiedName": "Services",
            "Active": True,
            "Type": "Service",
            "Taxable": False,
            "UnitPrice": 0,
            "IncomeAccountRef": {"value": SERVICES_ACCOUNT_ID, "name": "Services"},
            "TrackQtyOnHand": False,
            "domain": "QBO",
            "sparse": False,
        },
        now,
    )
    _seed_lists(store, realm_id, config, now)


def _seed_lists(store: Store, realm_id: str, config: dict[str, Any], now: float) -> None:
    """Terms, the sales-tax code and rate a new company holds (lists.py)."""
    for entity, entity_id, doc in lists.seed_documents(sales_tax_rate(config) * 100):
        _put_new(store, realm_id, entity, doc, now, fixed_id=entity_id)
        store.next_value(realm_id, f"id:{entity}", start=int(entity_id) + 1)    # the next one is new


def _put_new(store: Store, realm_id: str, entity: str, doc: dict[str, Any], now: float,
             fixed_id: str | None = None) -> None:
    entity_id = fixed_id or str(store.next_value(realm_id, f"id:{entity}"))
    doc = {**doc, "Id": entity_id, "SyncToken": "0",
           "MetaData": {"CreateTime": wire.meta_time(now), "LastUpdatedTime": wire.meta_time(now)}}
    store.put(EntityRow(realm_id, entity, entity_id, doc, {}, "active", now, now))


def deep_merge(target: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Merge nested dicts in place; a None value removes the key."""
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


# --- reading what the rules need -----------------------------------------------------------------


def book_close_date(preferences: dict[str, Any]) -> dt.date | None:
    raw = (preferences.get("AccountingInfoPrefs") or {}).get("BookCloseDate")
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None


def custom_txn_numbers(preferences: dict[str, Any]) -> bool:
    return bool((preferences.get("SalesFormsPrefs") or {}).get("CustomTxnNumbers"))


def using_sales_tax(preferences: dict[str, Any]) -> bool:
    return bool((preferences.get("TaxPrefs") or {}).get("UsingSalesTax"))


def sales_tax_rate(config: dict[str, Any]) -> Decimal:
    return Decimal(str(config.get("sales_tax_rate", "0")))
