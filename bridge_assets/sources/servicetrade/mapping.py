"""A ServiceTrade invoice (the API's JSON) -> the canonical `AccountingDocument`.

`ServiceTradeFieldMap` below is the ONE table of where each fact sits in ServiceTrade's invoice JSON.
API_FACTS.md confirms only `id`, `status`, `invoiceNumber`, `transactionDate`, `totalPrice`,
`customer.id`, `type` and `notes`; every other name (line items, tax, location, job, dates) is our
best reading of public material and is marked unconfirmed. When the real API disagrees, change the
table (or pass another `ServiceTradeFieldMap`), not the code. The sandbox emulator serves its
invoices through the same table, so the two cannot drift apart silently, and a test runs both with
renamed fields to prove nothing else hard-codes a name.

Semantics that are unconfirmed too, and decided here:
- Credits. ServiceTrade has no credit-memo entity in the facts; a credit is an invoice whose total
  is negative (negative quantities or prices), or one whose `type` is in `credit_types`. It maps to a
  `credit_memo` with positive amounts. ServiceTrade carries no link to the credited invoice, so
  `applies_to` stays empty and the destination leaves the credit unapplied.
- Tax. When every line carries its own tax amount, those are used (and must add up to the header's);
  otherwise the header tax is spread over the taxable lines in proportion to their amounts, cent by
  cent (largest remainder), so the canonical rule "tax total = sum of line tax" holds exactly.
- `totalPrice` includes tax (`total_includes_tax`); a total that is not lines + tax is refused, never
  repaired.
- Dates are Unix seconds; the calendar day is read in the ServiceTrade account's time zone.
- `doc_number` is the prefix plus `invoiceNumber`; a number that already starts with the prefix (the
  bridge wrote the posted number back with `set_processed`) is not prefixed twice, so the write-back
  changes neither the number nor the content hash.

This module imports only `documents` (and the standard library).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge_assets.model.document import (
    AccountingDocument,
    DocumentLine,
    doc_key,
    line_amount,
    money,
)

logger = logging.getLogger(__name__)

SOURCE = "servicetrade"
MAPPING_VERSION = "servicetrade-map/1"
DOC_NUMBER_MAX = 21  # QuickBooks' DocNumber limit (API_FACTS.md)


@dataclasses.dataclass(frozen=True)
class ServiceTradeFieldMap:
    """Where each fact lives in a ServiceTrade invoice. Confirmed names first, then the guesses."""

    # Confirmed (API_FACTS.md, ServiceTrade section).
    id: str = "id"
    status: str = "status"
    invoice_number: str = "invoiceNumber"
    transaction_date: str = "transactionDate"      # Unix seconds
    total: str = "totalPrice"
    customer: str = "customer"                     # {"id", "name"}
    type: str = "type"
    notes: str = "notes"

    # Unconfirmed: invoice header.
    created: str = "created"                       # Unix seconds
    updated: str = "updated"                       # Unix seconds
    location: str = "location"                     # {"id", "name"}
    job: str = "job"                               # {"id", "number"}
    ref_id: str = "id"                             # inside customer / location / job
    ref_name: str = "name"                         # inside customer / location
    tax_total: str = "taxAmount"
    subtotal: str = "subtotal"                     # optional; checked when present
    po_number: str = "poNumber"                    # optional
    due_date: str = "dueDate"                      # optional, Unix seconds
    uri: str = "uri"                               # optional, kept as the source reference

    # Unconfirmed: line items.
    items: str = "items"
    item_id: str = "id"
    item_code: str = "name"                        # the item-library name, used as the item code
    item_description: str = "description"
    item_quantity: str = "quantity"
    item_price: str = "price"
    item_total: str = "totalPrice"
    item_taxable: str = "taxable"
    item_tax: str = "taxAmount"                    # optional per-line tax

    # Unconfirmed: meaning.
    total_includes_tax: bool = True
    credit_types: tuple[str, ...] = ("credit", "creditMemo", "credit_memo")
    timezone: str = "America/New_York"             # the ServiceTrade account's zone, for calendar days

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> ServiceTradeFieldMap:
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown ServiceTrade field names {unknown}; known: {sorted(known)}")
        if "credit_types" in values:
            values["credit_types"] = tuple(values["credit_types"])
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["credit_types"] = list(self.credit_types)
        return values

    @property
    def zone(self) -> dt.tzinfo:
        return account_zone(self.timezone)


FIELD_MAP = ServiceTradeFieldMap()

# Item name prefix -> canonical line kind; first match wins, anything else is "other".
KIND_BY_ITEM_PREFIX: tuple[tuple[str, str], ...] = (
    ("RMR", "rmr"), ("MON", "rmr"),
    ("LAB", "ticket_labor"), ("LBR", "ticket_labor"),
    ("PRT", "ticket_part"), ("PART", "ticket_part"), ("EQP", "ticket_part"),
    ("TRIP", "fee"), ("FEE", "fee"), ("SVC", "fee"),
)
FALLBACK_ITEM_CODE = "SERVICETRADE-ITEM"


class ServiceTradeInvoiceUnreadable(ValueError):
    """One invoice cannot become a canonical document; the sentence says which and what to check."""


def account_zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # a system without tz data still works, in UTC
        logger.warning("time zone %r is unknown here; reading ServiceTrade dates in UTC", name)
        return dt.UTC


def local_date(unix_seconds: Any, zone: dt.tzinfo) -> dt.date:
    return dt.datetime.fromtimestamp(int(Decimal(str(unix_seconds))), zone).date()


def day_start(day: dt.date, zone: dt.tzinfo) -> int:
    """Unix seconds of local midnight that starts `day` in the account's zone."""
    return int(dt.datetime.combine(day, dt.time(), zone).timestamp())


def is_credit(invoice: Mapping[str, Any], fields: ServiceTradeFieldMap = FIELD_MAP) -> bool:
    if str(invoice.get(fields.type) or "") in fields.credit_types:
        return True
    total = _decimal(invoice.get(fields.total))
    return total is not None and total < 0


def servicetrade_invoice_to_document(
    invoice: Mapping[str, Any],
    *,
    doc_number_prefix: str = "ST-",
    fields: ServiceTradeFieldMap = FIELD_MAP,
    currency: str = "USD",
) -> AccountingDocument:
    """The canonical document for one ServiceTrade invoice (or credit), with its `content_hash`.

    Raises `ServiceTradeInvoiceUnreadable` when an amount or a date cannot be read or the totals do
    not add up; nothing is guessed or repaired.
    """
    source_id = _text(invoice.get(fields.id))
    number = _text(invoice.get(fields.invoice_number)) or source_id
    where = f"ServiceTrade invoice {source_id or '?'} (number {number or '?'})"
    if not source_id:
        raise ServiceTradeInvoiceUnreadable(f"{where} has no '{fields.id}'")

    credit = is_credit(invoice, fields)
    doc_type = "credit_memo" if credit else "invoice"
    sign = Decimal(-1) if credit and _negative_total(invoice, fields) else Decimal(1)
    txn_date, due_date = _dates(invoice, fields, where)
    lines = _lines(invoice, fields, where, source_id, sign)
    subtotal = money(sum((line.amount for line in lines), Decimal(0)))
    tax_total = money(sum((line.tax_amount for line in lines), Decimal(0)))
    total = subtotal + tax_total
    _check_totals(invoice, fields, where, sign, subtotal, tax_total)
    number, doc_number = _numbers(number, doc_number_prefix, where)
    customer_key, customer_name, site = _party(invoice, fields, where)
    notes = _text(invoice.get(fields.notes))
    kind_word = "credit" if credit else "invoice"
    memo = f"ServiceTrade {kind_word} {number}" + (f" - {notes}" if notes else "")

    return AccountingDocument(
        doc_key=doc_key(SOURCE, doc_type, source_id),
        source=SOURCE,
        doc_type=doc_type,
        source_id=source_id,
        doc_number=doc_number,
        txn_date=txn_date,
        period=f"{txn_date:%Y-%m}",
        due_date=due_date,
        customer_key=customer_key,
        customer_name=customer_name,
        master_account="",
        site=site,
        terms="",
        po_number=_text(invoice.get(fields.po_number)),
        subtotal=subtotal,
        tax_total=tax_total,
        total=total,
        currency=currency,
        memo=memo,
        source_ref=_text(invoice.get(fields.uri)) or f"servicetrade:invoice/{source_id}",
        lines=lines,
    ).with_hash()


# --- the parts of one invoice --------------------------------------------------------------------

def _dates(invoice: Mapping[str, Any], fields: ServiceTradeFieldMap, where: str) -> tuple[dt.date, dt.date | None]:
    """The transaction day and the due day (if any), read in the account's time zone."""
    zone = fields.zone
    raw_date = invoice.get(fields.transaction_date)
    try:
        txn_date = local_date(raw_date, zone)
    except (TypeError, ValueError, InvalidOperation, OverflowError):
        raise ServiceTradeInvoiceUnreadable(
            f"{where}: '{fields.transaction_date}' is {raw_date!r}, not Unix seconds") from None
    due_date = None
    if invoice.get(fields.due_date) not in (None, "", 0):
        try:
            due_date = local_date(invoice[fields.due_date], zone)
        except (TypeError, ValueError, InvalidOperation, OverflowError):
            raise ServiceTradeInvoiceUnreadable(
                f"{where}: '{fields.due_date}' is {invoice[fields.due_date]!r}, not Unix seconds") from None
    return txn_date, due_date


def _lines(invoice: Mapping[str, Any], fields: ServiceTradeFieldMap, where: str, source_id: str,
           sign: Decimal) -> tuple[DocumentLine, ...]:
    """The canonical lines, amounts made positive for a credit, with their share of the tax."""
    raw_items = invoice.get(fields.items)
    if not isinstance(raw_items, list) or not raw_items:
        raise ServiceTradeInvoiceUnreadable(
            f"{where} has no line items ('{fields.items}'); read it with GET /invoice/{source_id}")

    amounts, partial_lines, line_taxes = [], [], []
    for position, item in enumerate(raw_items, start=1):
        qty = _required_decimal(item, fields.item_quantity, f"{where}, line {position}")
        price = _required_decimal(item, fields.item_price, f"{where}, line {position}")
        qty, price = _signed_for(sign, qty, price)
        amount = line_amount(qty, price)
        given = _decimal(item.get(fields.item_total))
        if given is not None and money(given * sign) != amount:
            raise ServiceTradeInvoiceUnreadable(
                f"{where}, line {position}: '{fields.item_total}' is {given} but quantity {qty} x price "
                f"{price} is {amount * sign}; QuickBooks accepts only quantity x price, so correct the line "
                f"in ServiceTrade")
        code = _text(item.get(fields.item_code)) or FALLBACK_ITEM_CODE
        description = _text(item.get(fields.item_description)) or code
        amounts.append(amount)
        line_taxes.append(_decimal(item.get(fields.item_tax)))
        partial_lines.append((position, _kind(code), code, description, qty, price, amount,
                              _truthy(item.get(fields.item_taxable))))

    header_tax = _decimal(invoice.get(fields.tax_total))
    header_tax = money(header_tax * sign) if header_tax is not None else None
    taxes = _line_taxes(where, fields, amounts, [p[7] for p in partial_lines],
                        [money(t * sign) if t is not None else None for t in line_taxes], header_tax)
    return tuple(
        DocumentLine(line_no=position, kind=kind, item_code=code, description=description, qty=qty,
                     unit_price=price, amount=amount, taxable=taxable, tax_amount=tax)
        for (position, kind, code, description, qty, price, amount, taxable), tax in zip(partial_lines, taxes)
    )


def _check_totals(invoice: Mapping[str, Any], fields: ServiceTradeFieldMap, where: str, sign: Decimal,
                  subtotal: Decimal, tax_total: Decimal) -> None:
    """The header's total (and subtotal, when given) must be what the lines add up to; never repaired."""
    given_total = _decimal(invoice.get(fields.total))
    if given_total is not None:
        expected = subtotal + tax_total if fields.total_includes_tax else subtotal
        if money(given_total * sign) != expected:
            raise ServiceTradeInvoiceUnreadable(
                f"{where}: '{fields.total}' is {given_total} but its lines add up to {subtotal * sign}"
                f" plus tax {tax_total * sign}; check the invoice in ServiceTrade")
    given_subtotal = _decimal(invoice.get(fields.subtotal))
    if given_subtotal is not None and money(given_subtotal * sign) != subtotal:
        raise ServiceTradeInvoiceUnreadable(
            f"{where}: '{fields.subtotal}' is {given_subtotal} but its lines add up to {subtotal * sign}")


def _numbers(number: str, doc_number_prefix: str, where: str) -> tuple[str, str]:
    """ServiceTrade's number without our prefix, and the document number with it."""
    # The bridge may write the posted number (prefix included) back into ServiceTrade: read it back as-is.
    if doc_number_prefix and number.startswith(doc_number_prefix):
        number = number[len(doc_number_prefix):]
    doc_number = f"{doc_number_prefix}{number}"
    if len(doc_number) > DOC_NUMBER_MAX:
        raise ServiceTradeInvoiceUnreadable(
            f"{where}: document number {doc_number!r} is longer than the {DOC_NUMBER_MAX} characters "
            f"QuickBooks allows; shorten the configured prefix {doc_number_prefix!r}")
    return number, doc_number


def _party(invoice: Mapping[str, Any], fields: ServiceTradeFieldMap, where: str) -> tuple[str, str, str]:
    """The customer's key and name, and the site (the location's name)."""
    customer = invoice.get(fields.customer) or {}
    customer_key = _text(customer.get(fields.ref_id)) if isinstance(customer, Mapping) else ""
    if not customer_key:
        raise ServiceTradeInvoiceUnreadable(f"{where} has no customer id ('{fields.customer}.{fields.ref_id}')")
    customer_name = _text(customer.get(fields.ref_name)) or f"ServiceTrade customer {customer_key}"
    location = invoice.get(fields.location)
    site = _text(location.get(fields.ref_name)) if isinstance(location, Mapping) else ""
    return customer_key, customer_name, site


# --- helpers -------------------------------------------------------------------------------------

def _negative_total(invoice: Mapping[str, Any], fields: ServiceTradeFieldMap) -> bool:
    total = _decimal(invoice.get(fields.total))
    if total is not None:
        return total < 0
    # No total given: a credit typed as such is negative when its lines are.
    items = invoice.get(fields.items) or []
    line_sum = sum((_decimal(i.get(fields.item_quantity)) or 0) * (_decimal(i.get(fields.item_price)) or 0)
                   for i in items if isinstance(i, Mapping))
    return line_sum < 0


def _signed_for(sign: Decimal, qty: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
    """Flip a negative credit to positive amounts by negating one factor, keeping the other as sent."""
    if sign > 0:
        return qty, price
    if qty < 0 or (qty >= 0 and price >= 0):
        return -qty, price
    return qty, -price


def _line_taxes(where: str, fields: ServiceTradeFieldMap, amounts: list[Decimal], taxable: list[bool],
                given: list[Decimal | None], header_tax: Decimal | None) -> list[Decimal]:
    if given and all(t is not None for t in given):
        taxes = [money(t) for t in given]  # type: ignore[arg-type]
        if header_tax is not None and money(sum(taxes, Decimal(0))) != header_tax:
            raise ServiceTradeInvoiceUnreadable(
                f"{where}: line tax adds up to {sum(taxes, Decimal(0))} but '{fields.tax_total}' is {header_tax}")
        return taxes
    if not header_tax:
        return [Decimal("0.00")] * len(amounts)
    weights = [abs(a) if t else Decimal(0) for a, t in zip(amounts, taxable)]
    if not any(weights):
        raise ServiceTradeInvoiceUnreadable(
            f"{where} carries tax {header_tax} but no line is taxable ('{fields.item_taxable}'); "
            f"mark the taxable lines in ServiceTrade")
    return _spread(header_tax, weights)


def _spread(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """`total` in cents over `weights`, largest remainder first, ties to the earlier line."""
    cents = int(money(total) * 100)
    sign = -1 if cents < 0 else 1
    cents = abs(cents)
    weight_sum = sum(weights)
    exact = [Decimal(cents) * w / weight_sum for w in weights]
    shares = [int(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[: cents - sum(shares)]:
        shares[i] += 1
    return [money(Decimal(sign * s) / 100) for s in shares]


def _kind(code: str) -> str:
    upper = code.upper()
    for prefix, kind in KIND_BY_ITEM_PREFIX:
        if upper.startswith(prefix):
            return kind
    return "other"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _required_decimal(item: Any, name: str, where: str) -> Decimal:
    value = item.get(name) if isinstance(item, Mapping) else None
    number = _decimal(value)
    if number is None or not number.is_finite():
        raise ServiceTradeInvoiceUnreadable(f"{where}: '{name}' is {value!r}, not a number")
    return number


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value).strip()
