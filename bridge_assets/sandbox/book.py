"""A deterministic, realistic alarm-company book: the sandbox's stand-in for a SedonaOffice company.

A seed names a book. Everything is drawn from one `random.Random(seed)` in a fixed order (never the
global generator, never the clock, never a set's iteration order), so tests, demos, the export files
and the API emulators that serve the book all see the same customers and documents, on any machine.

The book is sized in invoice lines because that is what export files, and the bridge's load, are
measured in: recurring (RMR) billing takes about 60% of the requested lines, credits about 2%, and
service tickets fill the rest exactly, so a book holds the requested number of lines unless the
request is too small for even one customer's RMR.

Money follows the canonical model: `Decimal`, line amount = quantity × rate rounded half-up to the
cent, line tax = amount × the customer's rate rounded half-up, total = Σ amount + Σ tax. Credits are
positive amounts; their `doc_type` says what they are.

Records are slotted dataclasses but not frozen: a frozen dataclass constructs about ten times slower,
and a million-line book is a few million records. Treat them as read-only.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime as dt
import functools
import gc
import itertools
import operator
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple, Sequence, TypeVar

from bridge_assets.sandbox.kit.money import line_amount, money

FIRST_INVOICE_NUMBER = 100001
FIRST_TICKET_NUMBER = 250001
FIRST_PAYMENT_NUMBER = 500001
FIRST_CUSTOMER_NUMBER = 101

CYCLE_MONTHS: dict[str, int] = {"M": 1, "Q": 3, "S": 6, "A": 12}
TERMS_DAYS: dict[str, int] = {"NET30": 30, "NET15": 15, "DUE": 0}

RMR_SHARE = 0.60
CREDIT_SHARE = 0.02

ZERO = Decimal("0.00")
T = TypeVar("T")


# --- the book ------------------------------------------------------------------------------------

@dataclasses.dataclass(slots=True)
class MasterAccount:
    """Groups several customers billed to one payer (a landlord, a franchise, a family)."""

    code: str
    name: str


@dataclasses.dataclass(slots=True)
class RecurringLine:
    """An RMR line (SedonaOffice `CustomerRecurring`), billed in advance `bill_cycle` at a time.

    `cycle_start` is the first day of a month in which the line bills; it bills every
    `CYCLE_MONTHS[bill_cycle]` months before and after that.
    """

    item_code: str
    description: str
    monthly_amount: Decimal
    bill_cycle: str
    cycle_start: dt.date

    def bills_in(self, month_index: int) -> bool:
        return (month_index - _month_index(self.cycle_start)) % CYCLE_MONTHS[self.bill_cycle] == 0


@dataclasses.dataclass(slots=True)
class Site:
    site_id: int
    name: str
    recurring: tuple[RecurringLine, ...]


@dataclasses.dataclass(slots=True)
class Customer:
    customer_number: str
    customer_name: str
    status: str
    master_account: str          # a MasterAccount code, or "" for none
    state: str
    tax_rate: Decimal            # e.g. 0.0725
    rmr_taxable: bool            # whether the customer's state taxes monitoring
    terms: str
    sites: tuple[Site, ...]


@dataclasses.dataclass(slots=True)
class InvoiceLine:
    line_no: int
    kind: str                    # one of documents.LINE_KINDS
    item_code: str
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal
    taxable: bool
    tax_amount: Decimal
    bill_cycle: str = ""         # M/Q/S/A on RMR lines only
    service_start: dt.date | None = None
    service_end: dt.date | None = None


@dataclasses.dataclass(slots=True)
class Invoice:
    """An invoice or a credit memo: SedonaOffice numbers both from one sequence."""

    number: int
    doc_type: str                # "invoice" or "credit_memo" (the canonical names)
    invoice_date: dt.date
    customer_number: str
    customer_name: str
    master_account: str
    site_name: str
    terms: str
    po_number: str
    lines: tuple[InvoiceLine, ...]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    applies_to: int | None = None        # credits: the invoice number they credit
    ticket_number: int | None = None     # service-ticket invoices and credits against them

    @property
    def period(self) -> str:
        return f"{self.invoice_date.year:04d}-{self.invoice_date.month:02d}"     # strftime is 20x slower

    @property
    def due_date(self) -> dt.date | None:
        if self.terms not in TERMS_DAYS:
            return None
        return self.invoice_date + dt.timedelta(days=TERMS_DAYS[self.terms])


@dataclasses.dataclass(slots=True)
class PaymentApplication:
    invoice_number: int
    amount: Decimal


@dataclasses.dataclass(slots=True)
class Payment:
    """A customer payment; what it does not apply to an invoice stays unapplied cash."""

    payment_number: int
    customer_number: str
    payment_date: dt.date
    method: str
    reference: str
    amount: Decimal
    applications: tuple[PaymentApplication, ...]

    @property
    def unapplied(self) -> Decimal:
        return self.amount - sum((a.amount for a in self.applications), ZERO)


@dataclasses.dataclass(frozen=True)
class Book:
    seed: int
    periods: tuple[str, ...]
    master_accounts: tuple[MasterAccount, ...]
    customers: tuple[Customer, ...]
    invoices: tuple[Invoice, ...]        # invoices and credit memos, in number (= date) order
    payments: tuple[Payment, ...]

    @property
    def line_count(self) -> int:
        return sum(len(doc.lines) for doc in self.invoices)

    def documents_in(self, period: str) -> list[Invoice]:
        return [doc for doc in self.invoices if doc.period == period]

    def to_dict(self) -> dict:
        """Plain JSON types (decimals as strings, dates ISO) for the API emulators."""
        invoices = []
        for doc in self.invoices:
            plain = _plain(doc)
            plain["period"] = doc.period
            plain["due_date"] = _plain(doc.due_date)
            invoices.append(plain)
        payments = []
        for payment in self.payments:
            plain = _plain(payment)
            plain["unapplied"] = str(payment.unapplied)
            payments.append(plain)
        return {
            "seed": self.seed,
            "periods": list(self.periods),
            "master_accounts": _plain(self.master_accounts),
            "customers": _plain(self.customers),
            "invoices": invoices,
            "payments": payments,
        }


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


# --- generation ----------------------------------------------------------------------------------

def generate_book(seed: int, lines: int, first_period: str = "2026-08", months: int = 3) -> Book:
    """The book for `seed`, with about `lines` invoice lines over `months` periods from `first_period`."""
    if lines < 1:
        raise ValueError(f"lines must be at least 1, got {lines}")
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    first_month = _parse_period(first_period)
    month_indexes = list(range(first_month, first_month + months))
    rng = random.Random(seed)
    with cyclic_gc_paused():
        return _generate(rng, seed, lines, month_indexes)


@contextlib.contextmanager
def cyclic_gc_paused():
    """Pause the cyclic garbage collector while millions of records are made or held.

    Book records never form cycles, so reference counting frees them; the collector would only rescan
    them again and again (seconds for a million-line book).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _generate(rng: random.Random, seed: int, lines: int, month_indexes: list[int]) -> Book:
    months = len(month_indexes)
    credit_lines = max(months, round(lines * CREDIT_SHARE))
    master_accounts, customers, rmr_lines = _make_customers(
        rng, month_indexes, target=round(lines * RMR_SHARE), ceiling=max(lines - credit_lines, 1)
    )
    credit_lines = max(0, min(credit_lines, lines - rmr_lines))
    ticket_lines = max(0, lines - rmr_lines - credit_lines)

    billing = _Billing(rng, customers)
    for i, month in enumerate(month_indexes):
        billing.bill_month(month, _share(ticket_lines, months, i), _share(credit_lines, months, i))

    window_end = _month_end(month_indexes[-1])
    return Book(
        seed=seed,
        periods=tuple(f"{_month_start(m):%Y-%m}" for m in month_indexes),
        master_accounts=tuple(master_accounts),
        customers=tuple(customers),
        invoices=tuple(billing.documents),
        payments=tuple(_make_payments(rng, billing.documents, window_end)),
    )


class _Weighted:
    """A weighted choice at a tenth of the cost of `Random.choices` (which rebuilds its table each call)."""

    def __init__(self, items: tuple, weights: tuple[int, ...]):
        self.items = items
        self.cumulative = tuple(itertools.accumulate(weights))

    def draw(self, rng: random.Random):
        return self.items[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


# Draws from `random()` alone: `Random.choice`/`randint` cost five times as much, and a million-line book
# makes millions of draws.

def _pick(rng: random.Random, items: Sequence[T]) -> T:
    return items[int(rng.random() * len(items))]


def _below(rng: random.Random, stop: int) -> int:
    return int(rng.random() * stop)


def _between(rng: random.Random, low: int, high: int) -> int:
    """An integer in [low, high], both included (like `randint`)."""
    return low + int(rng.random() * (high - low + 1))


def _distinct_picks(rng: random.Random, items: Sequence[T], count: int) -> list[T]:
    picked: list[T] = []
    while len(picked) < count:
        item = _pick(rng, items)
        if item not in picked:
            picked.append(item)
    return picked


def _share(total: int, parts: int, index: int) -> int:
    base, extra = divmod(total, parts)
    return base + (1 if index < extra else 0)


# --- months --------------------------------------------------------------------------------------

def _parse_period(period: str) -> int:
    try:
        month = dt.datetime.strptime(period, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"period must look like 2026-08, got {period!r}") from None
    return _month_index(month)


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


@functools.cache
def _month_start(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


@functools.cache
def _month_end(index: int) -> dt.date:
    return _month_start(index + 1) - dt.timedelta(days=1)


def _business_days(index: int) -> list[dt.date]:
    start, end = _month_start(index), _month_end(index)
    days = (start + dt.timedelta(days=n) for n in range((end - start).days + 1))
    return [day for day in days if day.weekday() < 5]


# --- customers -----------------------------------------------------------------------------------

# State -> (sales-tax rate, whether monitoring is taxable there).
STATE_TAX: dict[str, tuple[Decimal, bool]] = {
    "CA": (Decimal("0.0725"), False),
    "FL": (Decimal("0.06"), True),
    "MI": (Decimal("0.06"), False),
}
STATES = tuple(STATE_TAX)

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Susan",
    "William", "Karen", "José", "María", "Zoë", "François", "Renée", "Chloé", "Seán", "Pat",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernández", "Lopez", "Wilson", "Anderson", "Taylor", "Moore", "Jackson", "Nguyen",
    "Patel", "Kim", "Muñoz", "Peña", "Schröder", "O'Brien", "O'Connor", "D'Angelo",
)
BUSINESSES = (
    "Dental Group", "Auto Body", "Pharmacy", "Self Storage", "Hardware", "Bakery", "Animal Hospital",
    "Jewelers", "Liquors", "Law Office", "Property Management", "Daycare", "Fitness", "Dry Cleaners",
)
COMPANY_SUFFIXES = ("LLC", "Inc.", "Co.", "", "")
# Names that test CSV quoting (commas, ampersands, double quotes) and cp1252.
ODD_COMPANY_NAMES = (
    "Smith & Sons Hardware", "Lakeside Animal Hospital, P.C.", 'Joe\'s "Famous" Pizza', "Crème de la Crème Bakery",
)
STREETS = (
    "Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Elm St", "Park Blvd", "Lakeview Rd",
    "Industrial Pkwy", "Commerce Dr", "Church St", "Calle Real",
)
HOME_LABELS = ("Home", "Lake House", "Garage", "Rental")
BUSINESS_LABELS = ("Warehouse", "Office", "Shop", "Clinic", "Store #{n}", "Suite {n}")
MASTER_NAMES = ("{last} Holdings", "{last} Family Trust", "{last} Property Group", "{last} Franchise Group")

# Item code -> (description, monthly amounts seen in price books).
RMR_ITEMS: dict[str, tuple[str, tuple[Decimal, ...]]] = {
    code: (description, tuple(map(Decimal, prices.split())))
    for code, description, prices in (
        ("RMR-MON", "Central station monitoring", "19.95 24.95 29.95 34.95 39.95 44.95 49.95"),
        ("RMR-CELL", "Cellular backup communicator", "19.95 22.50 24.95 29.95"),
        ("RMR-VIDEO", "Video monitoring and cloud storage", "29.95 39.95 49.95 59.00 69.00 89.00"),
        ("RMR-ACCESS", "Hosted access control", "25.00 35.00 45.00 65.00 89.00"),
    )
}
# How often a site carries each RMR item.
BUSINESS_RMR_CHANCES = (("RMR-MON", 0.9), ("RMR-CELL", 0.4), ("RMR-VIDEO", 0.4), ("RMR-ACCESS", 0.3))
HOME_RMR_CHANCES = (("RMR-MON", 1.0), ("RMR-CELL", 0.5), ("RMR-VIDEO", 0.15))
BILL_CYCLES = ("M", "Q", "S", "A")
BILL_CYCLE_DRAW = _Weighted(BILL_CYCLES, (70, 15, 7, 8))
TERMS_DRAW = _Weighted(tuple(TERMS_DAYS), (60, 20, 20))
SITE_COUNT_DRAW = _Weighted((1, 2, 3), (60, 28, 12))


SHOWCASE_NAMES = {1: "Café Olé LLC", 2: "O'Brien, Pat", 3: 'Joe\'s "Famous" Pizza'}


@dataclasses.dataclass
class _MasterGroup:
    code: str
    members_left: int


def _make_customers(
    rng: random.Random, month_indexes: list[int], *, target: int, ceiling: int
) -> tuple[list[MasterAccount], list[Customer], int]:
    """Add customers until their RMR billing in the window reaches `target` lines (never `ceiling`).

    The first customers are fixed showcases so that even a small book has non-ASCII names, an
    apostrophe, double quotes, a master account and every bill cycle.
    """
    masters: list[MasterAccount] = []
    customers: list[Customer] = []
    group: _MasterGroup | None = None
    rmr_lines = 0
    while rmr_lines < target:
        index = len(customers)
        number = f"C{FIRST_CUSTOMER_NUMBER + index:05d}"
        if index == 0:
            customer = _showcase_customer(rng, number, month_indexes[0])
        else:
            if index == 1:
                masters.append(MasterAccount("M0001", "O'Brien Holdings"))
                group = _MasterGroup("M0001", 2)
            elif group is None and rng.random() < 0.06:
                code = f"M{len(masters) + 1:04d}"
                masters.append(MasterAccount(code, _pick(rng, MASTER_NAMES).format(last=_pick(rng, LAST_NAMES))))
                group = _MasterGroup(code, _between(rng, 2, 6))
            master = ""
            if group is not None:
                master, group.members_left = group.code, group.members_left - 1
                if group.members_left == 0:
                    group = None
            name = SHOWCASE_NAMES.get(index)
            customer = _random_customer(rng, number, master, name, month_indexes[0])
        due = sum(_times_billed(line, month_indexes) for site in customer.sites for line in site.recurring)
        if customers and rmr_lines + due > ceiling:
            break
        customers.append(customer)
        rmr_lines += due
    return masters, customers, rmr_lines


def _times_billed(line: RecurringLine, month_indexes: list[int]) -> int:
    cycle, anchor = CYCLE_MONTHS[line.bill_cycle], _month_index(line.cycle_start)
    first_billed = month_indexes[0] + (anchor - month_indexes[0]) % cycle
    return max(0, (month_indexes[-1] - first_billed) // cycle + 1)


def _showcase_customer(rng: random.Random, number: str, first_month: int) -> Customer:
    """Bills every cycle in the first period: monitoring monthly, the rest quarterly to annually."""
    start = _month_start(first_month)
    recurring = tuple(
        RecurringLine(code, RMR_ITEMS[code][0], RMR_ITEMS[code][1][0], cycle, start)
        for code, cycle in zip(RMR_ITEMS, BILL_CYCLES)
    )
    tax_rate, rmr_taxable = STATE_TAX["FL"]
    site = Site(int(number[1:]) * 10 + 1, f"{_between(rng, 100, 9999)} Calle Real - Home", recurring)
    return Customer(number, "Muñoz, José", "AR", "", "FL", tax_rate, rmr_taxable, "NET30", (site,))


def _random_customer(rng: random.Random, number: str, master: str, name: str | None, first_month: int) -> Customer:
    is_business = rng.random() < 0.4 if name is None else "," not in name
    if name is None:
        name = _company_name(rng) if is_business else f"{_pick(rng, LAST_NAMES)}, {_pick(rng, FIRST_NAMES)}"
    state = _pick(rng, STATES)
    tax_rate, rmr_taxable = STATE_TAX[state]
    terms = TERMS_DRAW.draw(rng)
    site_count = SITE_COUNT_DRAW.draw(rng)
    site_base = int(number[1:]) * 10
    sites = tuple(
        Site(site_base + n, _site_name(rng, is_business), _recurring_lines(rng, is_business, first_month))
        for n in range(1, site_count + 1)
    )
    return Customer(number, name, "AR", master, state, tax_rate, rmr_taxable, terms, sites)


def _company_name(rng: random.Random) -> str:
    if rng.random() < 0.05:
        return _pick(rng, ODD_COMPANY_NAMES)
    return " ".join(filter(None, (_pick(rng, LAST_NAMES), _pick(rng, BUSINESSES), _pick(rng, COMPANY_SUFFIXES))))


def _site_name(rng: random.Random, is_business: bool) -> str:
    label = _pick(rng, BUSINESS_LABELS if is_business else HOME_LABELS).format(n=_between(rng, 1, 40))
    return f"{_between(rng, 10, 9999)} {_pick(rng, STREETS)} - {label}"


def _recurring_lines(rng: random.Random, is_business: bool, first_month: int) -> tuple[RecurringLine, ...]:
    chances = BUSINESS_RMR_CHANCES if is_business else HOME_RMR_CHANCES
    codes = [code for code, chance in chances if rng.random() < chance] or ["RMR-MON"]
    lines = []
    for code in codes:
        description, prices = RMR_ITEMS[code]
        cycle = BILL_CYCLE_DRAW.draw(rng)
        # The last month billed at or before the window opens: quarterly lines always bill inside a
        # three-month window, annual ones a quarter of the time, as in a real book.
        cycle_start = _month_start(first_month - _below(rng, CYCLE_MONTHS[cycle]))
        lines.append(RecurringLine(code, description, _pick(rng, prices), cycle, cycle_start))
    return tuple(lines)


# --- invoices and credits ------------------------------------------------------------------------

# Item code -> (description, unit price).
PARTS: dict[str, tuple[str, Decimal]] = {
    "PRT-PIR100": ("PIR motion detector", Decimal("42.50")),
    "PRT-SMK200": ("Photoelectric smoke detector", Decimal("38.75")),
    "PRT-BATT12": ("12V 7Ah backup battery", Decimal("24.95")),
    "PRT-DWC300": ("Door/window contact", Decimal("12.40")),
    "PRT-GLS400": ("Glass-break detector", Decimal("56.80")),
    "PRT-KPD500": ("LCD keypad", Decimal("149.00")),
    "PRT-SRN600": ("Interior siren, 30W", Decimal("31.20")),
    "PRT-CO700": ("Carbon monoxide detector", Decimal("64.00")),
    "PRT-CAM800": ("IP bullet camera, 4MP", Decimal("219.00")),
    "PRT-RDR900": ("Proximity card reader", Decimal("185.00")),
}
LABOR_RATES = {"LAB-STD": Decimal("95.00"), "LAB-OT": Decimal("142.50")}
TRIP_FEES = (Decimal("49.00"), Decimal("75.00"))
QUARTER_HOURS = tuple(Decimal(n) / 4 for n in range(2, 17))     # 0.5 .. 4 hours
TICKET_PROBLEMS = (
    "Troubleshoot trouble condition on zone 3", "Replace low batteries", "False alarm investigation",
    "Panel reprogramming", "Camera offline, replaced and re-aimed", "Smoke detector chirping",
    "Add motion detector to basement", "Keypad unresponsive", "Annual fire inspection",
    "Card reader not granting access", "Communicator failing to report",
)
PART_CODES = tuple(PARTS)
TICKET_LINE_COUNT_DRAW = _Weighted((1, 2, 3, 4, 5, 6, 7), (10, 25, 25, 18, 12, 6, 4))
ONE = Decimal(1)


class _RmrCharge(NamedTuple):
    anchor_month: int
    months: int
    recurring: RecurringLine
    description: str
    quantity: Decimal
    amount: Decimal
    tax: Decimal


class _Billing:
    """Issues documents day by day, so numbers rise with dates and credits follow their invoices."""

    def __init__(self, rng: random.Random, customers: list[Customer]):
        self.rng = rng
        self.customers = customers
        self.documents: list[Invoice] = []
        self._next_number = FIRST_INVOICE_NUMBER
        self._next_ticket = FIRST_TICKET_NUMBER
        self._invoices: list[Invoice] = []          # invoices only, in date order
        self._invoice_dates: list[dt.date] = []
        self._credited: set[int] = set()
        self._customer = {c.customer_number: c for c in customers}
        self._amounts: dict[tuple[Decimal, Decimal], Decimal] = {}
        self._taxes: dict[tuple[Decimal, Decimal], Decimal] = {}
        self._rmr_charges = [(customer, self._charges_of(customer)) for customer in customers]

    def bill_month(self, month: int, ticket_lines: int, credit_lines: int) -> None:
        first_day = _month_start(month)
        self._bill_rmr(month)
        business_days = _business_days(month)
        events = []
        while ticket_lines > 0:
            count = min(ticket_lines, TICKET_LINE_COUNT_DRAW.draw(self.rng))
            ticket_lines -= count
            events.append((_pick(self.rng, business_days), 0, len(events), count))
        # A credit needs an invoice dated before it; the 1st holds only that morning's cycle invoices.
        credit_days = [day for day in business_days if day > first_day] or [_month_end(month)]
        for _ in range(credit_lines):
            events.append((_pick(self.rng, credit_days), 1, len(events), 1))
        for day, is_credit, _, count in sorted(events):
            if is_credit:
                self._credit_something(day)
            else:
                self._ticket_invoice(day, count)

    # RMR ----------------------------------------------------------------------------------------

    def _charges_of(self, customer: Customer) -> tuple[_RmrCharge, ...]:
        """What each RMR line bills whenever it is due: the same amounts every cycle."""
        charges = []
        for site in customer.sites:
            for rmr in site.recurring:
                months = CYCLE_MONTHS[rmr.bill_cycle]
                amount = self._amount(Decimal(months), rmr.monthly_amount)
                tax = self._tax(amount, customer) if customer.rmr_taxable else ZERO
                description = f"{rmr.description} - {site.name}"
                charges.append(_RmrCharge(_month_index(rmr.cycle_start), months, rmr, description,
                                          Decimal(months), amount, tax))
        return tuple(charges)

    def _bill_rmr(self, month: int) -> None:
        """One cycle invoice per customer on the 1st, for every RMR line due that month.

        The invoice carries the customer's first site; each line names its own site in its description.
        """
        start = _month_start(month)
        ends = {months: _month_end(month + months - 1) for months in CYCLE_MONTHS.values()}
        for customer, charges in self._rmr_charges:
            lines = []
            for charge in charges:
                if (month - charge.anchor_month) % charge.months:
                    continue
                rmr = charge.recurring
                lines.append(InvoiceLine(len(lines) + 1, "rmr", rmr.item_code, charge.description, charge.quantity,
                                         rmr.monthly_amount, charge.amount, customer.rmr_taxable, charge.tax,
                                         rmr.bill_cycle, start, ends[charge.months]))
            if lines:
                self._issue("invoice", start, customer, customer.sites[0].name, lines, po_number=self._po_number())

    def _amount(self, quantity: Decimal, rate: Decimal) -> Decimal:
        key = (quantity, rate)
        amount = self._amounts.get(key)
        if amount is None:
            amount = self._amounts[key] = line_amount(quantity, rate)
        return amount

    def _tax(self, amount: Decimal, customer: Customer) -> Decimal:
        key = (amount, customer.tax_rate)
        tax = self._taxes.get(key)
        if tax is None:
            tax = self._taxes[key] = money(amount * customer.tax_rate)
        return tax

    # service tickets ----------------------------------------------------------------------------

    def _ticket_invoice(self, day: dt.date, line_count: int) -> None:
        rng = self.rng
        customer = _pick(rng, self.customers)
        site = _pick(rng, customer.sites)
        ticket = self._next_ticket
        self._next_ticket += 1
        labor_code = "LAB-OT" if rng.random() < 0.2 else "LAB-STD"
        specs = [("ticket_labor", labor_code, f"Ticket {ticket}: {_pick(rng, TICKET_PROBLEMS)}",
                  _pick(rng, QUARTER_HOURS), LABOR_RATES[labor_code])]
        if line_count > 1 and rng.random() < 0.75:
            specs.append(("fee", "TRIP", "Trip charge", ONE, _pick(rng, TRIP_FEES)))
        for code in _distinct_picks(rng, PART_CODES, line_count - len(specs)):
            description, price = PARTS[code]
            quantity = Decimal(_between(rng, 1, 6 if code == "PRT-BATT12" else 3))
            specs.append(("ticket_part", code, description, quantity, price))
        lines = []
        for kind, code, description, quantity, rate in specs:
            amount = self._amount(quantity, rate)
            taxable = kind == "ticket_part"
            lines.append(InvoiceLine(len(lines) + 1, kind, code, description, quantity, rate, amount,
                                     taxable, self._tax(amount, customer) if taxable else ZERO))
        self._issue("invoice", day, customer, site.name, lines, po_number=self._po_number(), ticket=ticket)

    def _po_number(self) -> str:
        return f"PO-{_between(self.rng, 1000, 9999)}" if self.rng.random() < 0.08 else ""

    # credits ------------------------------------------------------------------------------------

    def _credit_something(self, day: dt.date) -> None:
        """Credit one line of an earlier, not yet credited invoice; skip if there is none."""
        invoice = self._uncredited_invoice_before(day)
        if invoice is None:
            return
        self._credited.add(invoice.number)
        customer = self._customer[invoice.customer_number]
        line = _pick(self.rng, invoice.lines)
        credit_line = _credit_line(self.rng, line, customer)
        self._issue("credit_memo", day, customer, invoice.site_name, [credit_line],
                    terms="", applies_to=invoice.number, ticket=invoice.ticket_number)

    def _uncredited_invoice_before(self, day: dt.date) -> Invoice | None:
        earlier = bisect.bisect_left(self._invoice_dates, day)
        if earlier == 0:
            return None
        start = _below(self.rng, earlier)
        for offset in range(earlier):
            invoice = self._invoices[(start + offset) % earlier]
            if invoice.number not in self._credited:
                return invoice
        return None

    # numbering ----------------------------------------------------------------------------------

    def _issue(self, doc_type: str, day: dt.date, customer: Customer, site_name: str, lines: list[InvoiceLine],
               *, po_number: str = "", terms: str | None = None, applies_to: int | None = None,
               ticket: int | None = None) -> None:
        subtotal = tax_total = ZERO
        for line in lines:
            subtotal += line.amount
            tax_total += line.tax_amount
        document = Invoice(
            self._next_number, doc_type, day, customer.customer_number, customer.customer_name,
            customer.master_account, site_name, customer.terms if terms is None else terms, po_number,
            tuple(lines), subtotal, tax_total, subtotal + tax_total, applies_to, ticket,
        )
        self._next_number += 1
        self.documents.append(document)
        if doc_type == "invoice":
            self._invoices.append(document)
            self._invoice_dates.append(day)


def _credit_line(rng: random.Random, line: InvoiceLine, customer: Customer) -> InvoiceLine:
    """A credit for part of `line`: never more than the line, so a credit never exceeds its invoice."""
    start = end = None
    if line.kind == "rmr":
        # An outage or a late start: credit the last days of the first month billed.
        month_end = _month_end(_month_index(line.service_start))
        days_in_month = month_end.day
        days = _between(rng, 1, days_in_month - 1)
        quantity = (Decimal(days) / Decimal(days_in_month)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        start, end = month_end - dt.timedelta(days=days - 1), month_end
        description = f"Partial month credit, {days} of {days_in_month} days - {line.description}"
    elif line.kind == "ticket_part":
        quantity = Decimal(_between(rng, 1, int(line.quantity)))
        description = f"Returned: {line.description}"
    elif line.kind == "fee":
        quantity = line.quantity
        description = "Trip charge waived"
    else:
        quantity = min(line.quantity, Decimal("0.5"))
        description = "Labor adjustment"
    amount = line_amount(quantity, line.rate)
    return InvoiceLine(1, line.kind, line.item_code, description, quantity, line.rate, amount, line.taxable,
                       money(amount * customer.tax_rate) if line.taxable else ZERO, line.bill_cycle, start, end)


# --- payments ------------------------------------------------------------------------------------

PAYMENT_METHODS = ("Check", "ACH", "Credit Card")
PAYMENT_KIND_DRAW = _Weighted(("full", "partial", "over"), (85, 11, 4))


def _make_payments(rng: random.Random, documents: list[Invoice], window_end: dt.date) -> list[Payment]:
    """Most invoices are paid in full, some partly, a few overpaid; some checks pay two invoices.

    Payments dated after the window has closed have not happened yet, so they are left out.
    """
    credited = {doc.applies_to: doc.total for doc in documents if doc.doc_type == "credit_memo"}
    payments: list[Payment] = []
    last_full_by_customer: dict[str, Payment] = {}
    for invoice in documents:
        if invoice.doc_type != "invoice":
            continue
        balance = invoice.total - credited.get(invoice.number, ZERO)
        if balance <= 0 or rng.random() < 0.2:
            continue
        paid_on = invoice.invoice_date + dt.timedelta(days=_between(rng, 2, 40))
        if paid_on > window_end:
            continue
        kind = PAYMENT_KIND_DRAW.draw(rng)
        applied, extra = balance, ZERO
        if kind == "partial":
            applied = max(money(balance * _between(rng, 20, 80) / 100), Decimal("0.01"))
        elif kind == "over":
            extra = Decimal(_between(rng, 100, 5000)) / 100
        application = PaymentApplication(invoice.number, applied)
        previous = last_full_by_customer.get(invoice.customer_number)
        if kind == "full" and previous is not None and rng.random() < 0.3:
            previous.applications += (application,)
            previous.amount += applied
            previous.payment_date = max(previous.payment_date, paid_on)
            del last_full_by_customer[invoice.customer_number]
            continue
        payment = Payment(0, invoice.customer_number, paid_on, _pick(rng, PAYMENT_METHODS),
                          str(_between(rng, 1001, 99999)), applied + extra, (application,))
        payments.append(payment)
        if kind == "full":
            last_full_by_customer[invoice.customer_number] = payment
    payments.sort(key=operator.attrgetter("payment_date"))      # stable: same-day payments keep their order
    for number, payment in enumerate(payments, FIRST_PAYMENT_NUMBER):
        payment.payment_number = number
    return payments
