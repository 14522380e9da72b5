"""A sample book (`bridge_assets.sandbox.book`) as SedonaAPI records, so the API and the export files
describe the same invoices.

`seed_from_book(book)` is pure: it turns a `Book` (or its `to_dict()` form, which is what the admin
endpoint receives) into records and accounting periods. Ids are drawn from fixed ranges in book
order, so one book always gives the same ids.

Records created in one batch share their ModifiedDate, as they do in SedonaOffice, and on purpose:
the conversion that created customers, sites and RMR lines is one stamp; each month's recurring
billing run (all cycle invoices of the 1st) is one stamp; a day's service-ticket invoices and their
tickets are posted together at the end of the day; a day's credits share a stamp, and so does a day's
deposit of payments. An extractor that keeps "last ModifiedDate seen" and asks for "> that" loses
records; one that asks ">=" and forgets what it already took reads them twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any, Mapping

from bridge_assets.sandbox.sedona_api.wire import NULL_DATE, sedona_date

FIRST_IDS = {
    "Customer": 2001, "CustomerSite": None, "CustomerRecurring": 30001, "CustomerInvoice": 880001,
    "CustomerCredit": 990001, "CustomerPayment": 660001, "ServiceTicket": 440001,
    "InvoiceItem": 1, "CreditDetail": 1,
}

CONVERSION_TIME = dt.time(22, 0)      # the evening before the book's first period
RECURRING_RUN_TIME = dt.time(2, 0)    # the overnight RMR billing run on the 1st
DEPOSIT_TIME = dt.time(11, 0)
CREDIT_TIME = dt.time(16, 0)
TICKET_POSTING_TIME = dt.time(17, 30)

MONEY_FIELDS = ("Amount", "TaxAmount", "Rate", "Quantity", "MonthlyAmount", "UnappliedAmount", "Hours")


@dataclasses.dataclass(frozen=True)
class SeedRecord:
    model: str
    doc: dict[str, Any]
    modified: dt.datetime


@dataclasses.dataclass(frozen=True)
class SeedPeriod:
    period: str
    period_id: int
    start: dt.date
    end: dt.date
    status: str


@dataclasses.dataclass(frozen=True)
class SeedData:
    book_seed: int | None
    records: tuple[SeedRecord, ...]
    periods: tuple[SeedPeriod, ...]

    def count(self, model: str) -> int:
        return sum(1 for record in self.records if record.model == model)


def seed_from_book(book: Any, *, open_periods: int = 2) -> SeedData:
    """Records for every customer, site, RMR line, invoice, credit, ticket and payment of `book`."""
    plain: Mapping[str, Any] = book.to_dict() if hasattr(book, "to_dict") else book
    return _Seeder(plain, open_periods).build()


def _date(text: str | None) -> dt.date | None:
    return None if not text else dt.date.fromisoformat(text)


def _wire_date(text: str | None) -> str:
    return sedona_date(_date(text))


def _dec(text: Any) -> Decimal:
    return Decimal(str(text))


def _at(day: dt.date, time_of_day: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time_of_day)


def _month_bounds(period: str) -> tuple[dt.date, dt.date]:
    start = dt.date.fromisoformat(f"{period}-01")
    following = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return start, following - dt.timedelta(days=1)


class _Seeder:
    def __init__(self, plain: Mapping[str, Any], open_periods: int) -> None:
        self.plain = plain
        self.open_periods = open_periods
        self.records: list[SeedRecord] = []
        self.next_ids = dict(FIRST_IDS)
        self.customer_ids: dict[str, int] = {}
        self.site_ids: dict[tuple[str, str], int] = {}

    def _id(self, name: str) -> int:
        value = self.next_ids[name]
        self.next_ids[name] = value + 1
        return value

    def _add(self, model: str, doc: dict[str, Any], modified: dt.datetime) -> None:
        self.records.append(SeedRecord(model, doc, modified))

    def build(self) -> SeedData:
        periods = list(self.plain["periods"])
        first_start, _ = _month_bounds(periods[0])
        converted_at = _at(first_start - dt.timedelta(days=1), CONVERSION_TIME)
        self._customers(converted_at)
        for document in self.plain["invoices"]:
            if document["doc_type"] == "credit_memo":
                self._credit(document)
            else:
                self._invoice(document)
                if document.get("ticket_number") is not None:
                    self._ticket(document)
        for payment in self.plain["payments"]:
            self._payment(payment)
        return SeedData(self.plain.get("seed"), tuple(self.records), tuple(self._periods(periods)))

    # customers, sites, RMR ----------------------------------------------------------------------

    def _customers(self, converted_at: dt.datetime) -> None:
        for customer in self.plain["customers"]:
            customer_id = self._id("Customer")
            number = customer["customer_number"]
            self.customer_ids[number] = customer_id
            self._add("Customer", {
                "CustomerId": customer_id,
                "CustomerNumber": number,
                "CustomerName": customer["customer_name"],
                "StatusCode": customer["status"],
                "MasterAccountCode": customer["master_account"] or None,
                "TermCode": customer["terms"] or None,
                "State": customer["state"],
            }, converted_at)
            for site in customer["sites"]:
                site_id = int(site["site_id"])
                self.site_ids.setdefault((number, site["name"]), site_id)
                self._add("CustomerSite", {"CustomerSiteId": site_id, "CustomerId": customer_id, "SiteName": site["name"]},
                          converted_at)
                for line in site["recurring"]:
                    self._add("CustomerRecurring", {
                        "CustomerRecurringId": self._id("CustomerRecurring"),
                        "CustomerId": customer_id,
                        "CustomerSiteId": site_id,
                        "ItemCode": line["item_code"],
                        "Description": line["description"],
                        "BillCycle": line["bill_cycle"],
                        "MonthlyAmount": _dec(line["monthly_amount"]),
                        "CycleStartDate": _wire_date(line["cycle_start"]),
                        "CycleEndDate": NULL_DATE,
                    }, converted_at)

    def _site_id(self, document: Mapping[str, Any]) -> int | None:
        return self.site_ids.get((document["customer_number"], document["site_name"]))

    # invoices, credits, tickets -----------------------------------------------------------------

    def _items(self, lines: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        items = []
        for line in lines:
            is_part = line["kind"] == "ticket_part"
            items.append({
                "InvoiceItemId": self._id("InvoiceItem"),
                "ItemCode": None if is_part else line["item_code"],
                "PartCode": line["item_code"] if is_part else None,
                "Description": line["description"],
                "Quantity": _dec(line["quantity"]),
                "Rate": _dec(line["rate"]),
                "Amount": _dec(line["amount"]),
                "Taxable": bool(line["taxable"]),
                "TaxAmount": _dec(line["tax_amount"]),
                "BillCycle": line["bill_cycle"] or None,
                "ServiceStartDate": _wire_date(line["service_start"]),
                "ServiceEndDate": _wire_date(line["service_end"]),
            })
        return items

    def _invoice(self, document: Mapping[str, Any]) -> None:
        day = _date(document["invoice_date"])
        is_ticket = document.get("ticket_number") is not None
        self._add("CustomerInvoice", {
            "InvoiceId": self._id("CustomerInvoice"),
            "InvoiceNumber": int(document["number"]),
            "InvoiceType": "S" if is_ticket else "O",
            "CustomerId": self.customer_ids[document["customer_number"]],
            "CustomerSiteId": self._site_id(document),
            "InvoiceDate": sedona_date(day),
            "CategoryCode": "SERVICE" if is_ticket else "RMR",
            # Pre-tax; the API adds TaxAmount when `invoice_amount_includes_tax` is set.
            "Amount": _dec(document["subtotal"]),
            "TaxAmount": _dec(document["tax_total"]),
            "TermCode": document["terms"] or None,
            "PONumber": document["po_number"] or None,
            "TicketNumber": document.get("ticket_number"),
            "Items": self._items(document["lines"]),
        }, _at(day, TICKET_POSTING_TIME if is_ticket else RECURRING_RUN_TIME))

    def _credit(self, document: Mapping[str, Any]) -> None:
        day = _date(document["invoice_date"])
        lines = document["lines"]
        details = []
        if document.get("applies_to") is not None:
            details.append({"CreditDetailId": self._id("CreditDetail"), "InvoiceNumber": int(document["applies_to"]),
                            "Amount": _dec(document["total"])})
        self._add("CustomerCredit", {
            "CreditId": self._id("CustomerCredit"),
            "CreditNumber": int(document["number"]),
            "CustomerId": self.customer_ids[document["customer_number"]],
            "CustomerSiteId": self._site_id(document),
            "CreditDate": sedona_date(day),
            "Amount": _dec(document["subtotal"]),        # excludes tax (API_FACTS)
            "TaxAmount": _dec(document["tax_total"]),
            "Memo": lines[0]["description"] if lines else None,
            "Items": self._items(lines),
            "Details": details,                           # each Amount includes tax (API_FACTS)
        }, _at(day, CREDIT_TIME))

    def _ticket(self, document: Mapping[str, Any]) -> None:
        day = _date(document["invoice_date"])
        parts, labor, problem = [], [], None
        for line in document["lines"]:
            if line["kind"] == "ticket_part":
                parts.append({"PartCode": line["item_code"], "Description": line["description"],
                              "Quantity": _dec(line["quantity"]), "Rate": _dec(line["rate"]),
                              "Amount": _dec(line["amount"])})
            elif line["kind"] == "ticket_labor":
                problem = problem or line["description"].split(": ", 1)[-1]
                labor.append({"ItemCode": line["item_code"], "Description": line["description"],
                              "Hours": _dec(line["quantity"]), "Rate": _dec(line["rate"]),
                              "Amount": _dec(line["amount"])})
        self._add("ServiceTicket", {
            "ServiceTicketId": self._id("ServiceTicket"),
            "TicketNumber": int(document["ticket_number"]),
            "CustomerId": self.customer_ids[document["customer_number"]],
            "CustomerSiteId": self._site_id(document),
            "StatusCode": "CL",
            "TicketDate": sedona_date(day),
            "ClosedDate": sedona_date(day),
            "ProblemDescription": problem,
            "InvoiceNumber": int(document["number"]),
            "Parts": parts,
            "Labor": labor,
        }, _at(day, TICKET_POSTING_TIME))

    # payments, periods --------------------------------------------------------------------------

    def _payment(self, payment: Mapping[str, Any]) -> None:
        day = _date(payment["payment_date"])
        applications = [{"InvoiceNumber": int(a["invoice_number"]), "Amount": _dec(a["amount"])}
                        for a in payment["applications"]]
        amount = _dec(payment["amount"])
        unapplied = amount - sum((a["Amount"] for a in applications), Decimal("0.00"))
        self._add("CustomerPayment", {
            "PaymentId": self._id("CustomerPayment"),
            "PaymentNumber": int(payment["payment_number"]),
            "CustomerId": self.customer_ids[payment["customer_number"]],
            "CustomerNumber": payment["customer_number"],
            "PaymentDate": sedona_date(day),
            "Amount": amount,
            "PaymentMethod": payment["method"],
            "CheckNumber": payment["reference"],
            "Applications": applications,
            "UnappliedAmount": unapplied,
        }, _at(day, DEPOSIT_TIME))

    def _periods(self, periods: list[str]) -> list[SeedPeriod]:
        following = _month_bounds(periods[-1])[1] + dt.timedelta(days=1)
        names = periods + [f"{following:%Y-%m}"]
        seeded = []
        for index, period in enumerate(names):
            start, end = _month_bounds(period)
            if period not in periods:
                status = "Future"
            elif index >= len(periods) - self.open_periods:
                status = "Open"
            else:
                status = "Closed"
            seeded.append(SeedPeriod(period, start.year * 100 + start.month, start, end, status))
        return seeded
