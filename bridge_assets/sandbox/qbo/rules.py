"""The validation and arithmetic QuickBooks applies to what it is sent, as plain functions.

Nothing here touches storage: references are resolved through callables the caller passes in, so each
rule can be read (and tested) on its own. The order of checks inside a request follows what a client
sees from QuickBooks: missing parameters first (2020), then lengths (2050), references (2500/610),
amounts (6070), the closed period (6210) and last the duplicate checks (6140/6240).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any, Callable

from bridge_assets.sandbox.qbo import errors, wire

DOC_NUMBER_MAX = 21
DISPLAY_NAME_MAX = 500
ITEM_NAME_MAX = 100
ACCOUNT_NAME_MAX = 100
TAXABLE_CODE = "TAX"
NON_TAXABLE_CODE = "NON"

# Fields a client may send back from a read but QuickBooks computes or owns: ignored on input.
READ_ONLY_COMMON = {"Id", "SyncToken", "MetaData", "domain", "sparse", "status"}
READ_ONLY_SALES = READ_ONLY_COMMON | {"TotalAmt", "Balance", "HomeBalance", "HomeTotalAmt", "RemainingCredit",
                                     "LinkedTxn", "DeliveryInfo", "InvoiceLink", "TxnStatus"}
READ_ONLY_PAYMENT = READ_ONLY_COMMON | {"UnappliedAmt", "LinkedTxn"}
READ_ONLY_CUSTOMER = READ_ONLY_COMMON | {"FullyQualifiedName", "Balance", "BalanceWithJobs", "Level"}
READ_ONLY_ITEM = READ_ONLY_COMMON | {"FullyQualifiedName", "Level"}
READ_ONLY_ACCOUNT = READ_ONLY_COMMON | {"FullyQualifiedName", "CurrentBalance", "CurrentBalanceWithSubAccounts",
                                       "Classification"}

ITEM_TYPES = {"Service", "NonInventory", "Inventory", "Category", "Group"}
ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset", "Accounts Receivable": "Asset", "Other Current Asset": "Asset", "Fixed Asset": "Asset",
    "Other Asset": "Asset", "Accounts Payable": "Liability", "Credit Card": "Liability",
    "Other Current Liability": "Liability", "Long Term Liability": "Liability", "Equity": "Equity",
    "Income": "Revenue", "Other Income": "Revenue", "Cost of Goods Sold": "Expense", "Expense": "Expense",
    "Other Expense": "Expense",
}

ResolveRef = Callable[[Any, str], dict[str, Any]]
"""(ref, element) -> the referenced object's document; raises 2500 unknown / 610 inactive."""


def writable_fields(body: dict[str, Any], read_only: set[str]) -> dict[str, Any]:
    return {key: copy.deepcopy(value) for key, value in body.items() if key not in read_only}


def merged_fields(body: dict[str, Any], existing: dict[str, Any] | None, read_only: set[str],
                  sparse: bool) -> dict[str, Any]:
    """What the object will hold: a full update replaces every writable field (omitted = cleared);
    a sparse one changes only what was sent. A sent Line array always replaces all lines."""
    fields = writable_fields(body, read_only)
    if existing is not None and sparse:
        merged = writable_fields(existing, read_only)
        merged.update(fields)
        return merged
    return fields


def ref_value(ref: Any) -> str | None:
    if isinstance(ref, dict):
        value = ref.get("value")
        return None if value in (None, "") else str(value)
    return None


def require(fields: dict[str, Any], element: str) -> Any:
    value = fields.get(element)
    if value in (None, "", [], {}):
        raise errors.required_param(element)
    return value


def require_ref(fields: dict[str, Any], element: str) -> dict[str, Any]:
    ref = fields.get(element)
    if ref_value(ref) is None:
        raise errors.required_param(element)
    return ref


def check_length(value: Any, element: str, maximum: int) -> None:
    if value is not None and len(str(value)) > maximum:
        raise errors.string_too_long(element, maximum, len(str(value)))


def txn_date(fields: dict[str, Any], element: str = "TxnDate") -> dt.date:
    raw = fields.get(element)
    if raw in (None, ""):
        return wire.today()
    try:
        return dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        raise errors.invalid_property(f"Property Name:{element} specified is unsupported or invalid: {raw}",
                                      element) from None


def check_period_open(book_close: dt.date | None, *dates: dt.date | None) -> None:
    """6210: nothing dated on or before the book-close date may be created, changed or removed."""
    if book_close is None:
        return
    if any(date is not None and date <= book_close for date in dates):
        raise errors.account_period_closed()


def money(value: Any, element: str, *, required: bool = True) -> Decimal | None:
    if value is None:
        if required:
            raise errors.required_param(element)
        return None
    number = wire.to_decimal(value)
    if number is None:
        raise errors.invalid_property(f"Property Name:{element} specified is unsupported or invalid: {value}",
                                      element)
    return number


# --- sales lines (Invoice, CreditMemo) ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SalesLines:
    lines: list[dict[str, Any]]        # what QuickBooks stores, without the SubTotal line
    subtotal: Decimal
    taxable_amount: Decimal


def sales_lines(raw_lines: Any, resolve_item: ResolveRef, default_item_ref: dict[str, Any]) -> SalesLines:
    if not isinstance(raw_lines, list) or not raw_lines:
        raise errors.required_param("Line")
    lines: list[dict[str, Any]] = []
    subtotal = Decimal("0")
    taxable = Decimal("0")
    for raw in raw_lines:
        if not isinstance(raw, dict):
            raise errors.invalid_property("Property Name:Line specified is unsupported or invalid", "Line")
        detail_type = raw.get("DetailType")
        if detail_type == "SubTotalLineDetail":
            continue  # QuickBooks computes this line itself; a round-tripped one is dropped
        if not detail_type:
            raise errors.required_param("Line.DetailType")
        number = len(lines) + 1
        if detail_type == "SalesItemLineDetail":
            line, amount, is_taxable = _sales_item_line(raw, resolve_item, default_item_ref)
            subtotal += amount
            if is_taxable:
                taxable += amount
        elif detail_type == "DescriptionOnly":
            # A text line: kept as sent, never part of the subtotal.
            line = {k: copy.deepcopy(v) for k, v in raw.items() if k not in ("Id", "LineNum", "LinkedTxn")}
        else:
            raise errors.invalid_property(
                f"Property Name:DetailType specified is unsupported or invalid: {detail_type} "
                "(the emulator knows SalesItemLineDetail, DescriptionOnly and SubTotalLineDetail)",
                "Line.DetailType",
            )
        line = {"Id": str(number), "LineNum": number, **line}
        lines.append(line)
    return SalesLines(lines, subtotal, taxable)


def _sales_item_line(raw: dict[str, Any], resolve_item: ResolveRef,
                     default_item_ref: dict[str, Any]) -> tuple[dict[str, Any], Decimal, bool]:
    detail = dict(raw.get("SalesItemLineDetail") or {})
    amount = money(raw.get("Amount"), "Line.Amount")
    qty = money(detail.get("Qty"), "Line.SalesItemLineDetail.Qty", required=False)
    unit_price = money(detail.get("UnitPrice"), "Line.SalesItemLineDetail.UnitPrice", required=False)
    if qty is not None and unit_price is not None:
        expected = wire.cents(qty * unit_price)
        if amount != expected:
            raise errors.amount_mismatch(raw.get("Amount"), qty, unit_price, expected)
    item_ref = detail.get("ItemRef") if ref_value(detail.get("ItemRef")) else default_item_ref
    item = resolve_item(item_ref, "Line.SalesItemLineDetail.ItemRef")
    tax_code = ref_value(detail.get("TaxCodeRef"))
    if tax_code is None:
        tax_code = TAXABLE_CODE if item.get("Taxable") else NON_TAXABLE_CODE
    detail["ItemRef"] = {"value": item["Id"], "name": item.get("Name")}
    detail["TaxCodeRef"] = {"value": tax_code}
    if qty is not None:
        detail["Qty"] = qty
    if unit_price is not None:
        detail["UnitPrice"] = unit_price
    elif qty:
        detail["UnitPrice"] = amount / qty  # QuickBooks fills the rate in when only Qty is given
    line = {k: copy.deepcopy(v) for k, v in raw.items() if k not in ("Id", "LineNum", "LinkedTxn")}
    line.update({"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail})
    return line, amount, tax_code == TAXABLE_CODE


def subtotal_line(subtotal: Decimal) -> dict[str, Any]:
    return {"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}


def strip_subtotal(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("DetailType") != "SubTotalLineDetail"]


# --- tax ------------------------------------------------------------------------------------------


def is_tax_override(tax_detail: Any) -> bool:
    """QuickBooks keeps the client's tax only when both TxnTaxCodeRef and TotalTax are sent."""
    return isinstance(tax_detail, dict) and "TxnTaxCodeRef" in tax_detail and "TotalTax" in tax_detail


def overridden_tax(tax_detail: dict[str, Any]) -> tuple[dict[str, Any], Decimal]:
    total_tax = money(tax_detail.get("TotalTax"), "TxnTaxDetail.TotalTax")
    detail = copy.deepcopy(tax_detail)
    detail["TotalTax"] = total_tax
    return detail, total_tax


def computed_tax(taxable_amount: Decimal, rate: Decimal, tax_code_id: str, tax_rate_id: str,
                 enabled: bool) -> tuple[dict[str, Any], Decimal]:
    """What automated sales tax would charge: the company rate on taxable lines, rounded half-up."""
    if not enabled or taxable_amount == 0 or rate == 0:
        return {"TotalTax": Decimal("0")}, Decimal("0")
    total_tax = wire.cents(taxable_amount * rate)
    detail = {
        "TxnTaxCodeRef": {"value": tax_code_id},
        "TotalTax": total_tax,
        "TaxLine": [
            {
                "Amount": total_tax,
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": tax_rate_id},
                    "PercentBased": True,
                    "TaxPercent": rate * 100,
                    "NetAmountTaxable": taxable_amount,
                },
            }
        ],
    }
    return detail, total_tax


# --- names ----------------------------------------------------------------------------------------


def customer_display_name(fields: dict[str, Any]) -> str:
    """DisplayName, or what QuickBooks derives from the name parts; ':' is refused (sub-customer separator)."""
    display = fields.get("DisplayName")
    if display in (None, ""):
        parts = [fields.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
        display = " ".join(str(p) for p in parts if p) or fields.get("CompanyName")
    if display in (None, ""):
        raise errors.required_param("DisplayName")
    display = str(display).strip()
    if ":" in display:
        raise errors.business_validation("Invalid Display Name: a name can not contain a colon (:).",
                                         element="DisplayName")
    check_length(display, "DisplayName", DISPLAY_NAME_MAX)
    return display


def account_classification(account_type: str) -> str:
    if account_type not in ACCOUNT_CLASSIFICATION:
        raise errors.invalid_property(f"Property Name:AccountType specified is unsupported or invalid: "
                                      f"{account_type}", "AccountType")
    return ACCOUNT_CLASSIFICATION[account_type]


# --- payments -------------------------------------------------------------------------------------

def checked_applications(applications: dict[str, Decimal], targets: dict[str, Any],
                         previous: dict[str, Decimal], total: Decimal) -> Decimal:
    """Refuse amounts below zero, above an open balance (this payment's share counts as open) or the total."""
    for key, amount in applications.items():
        txn_type, txn_id = key.split(":")
        if amount < 0:
            raise errors.business_validation("An amount applied to a transaction can not be negative.",
                                             "Line.Amount")
        available = Decimal(str(targets[key].doc.get("Balance") or 0)) + previous.get(key, Decimal(0))
        if amount > available:
            raise errors.business_validation(
                f"The amount applied to {txn_type} {txn_id} ({amount}) is more than its open balance "
                f"({available}).", "Line.Amount")
    applied = net_applied(applications)
    if applied > total:
        raise errors.business_validation(
            f"The amounts applied on the lines ({applied}) are more than the payment's TotalAmt ({total}).",
            "TotalAmt")
    return applied


def net_applied(applications: dict[str, Decimal]) -> Decimal:
    """Money a payment puts on invoices, less what credit memos contribute to it."""
    total = Decimal(0)
    for key, amount in applications.items():
        total += amount if key.startswith("Invoice:") else -amount
    return total
