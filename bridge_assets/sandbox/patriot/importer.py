"""Patriot's customer import, and a person keying the keying sheets in, as checks on the files.

Patriot has no API (../shared/design/platforms/patriot.md); this is what stands in for it in tests. `Patriot`
keeps the customers imported so far and the documents keyed so far, and refuses a file whole (Patriot's review
screen lists the row errors before "Save Customers") when any row breaks a rule below.

RULES (source: Patriot help pages cited in patriot.md; (u) = unconfirmed there, the strictest plausible choice
taken):

| rule | behaviour here |
|---|---|
| file type | `.csv` (`.xls`/`.xlsx` too in Patriot; the bridge writes CSV), UTF-8, header in row 1 |
| columns | only Patriot's customer fields, each at most once (unknown columns (u): refused) |
| rows per file | at most 200 customers |
| name | Business Name, or First Name and Last Name; Business Name at most 50 characters |
| address | Address 1 / Address 2 at most 50 characters; US only: State a US state code, Zip 5 or 9 digits |
| email, phone | one email per cell; phone without an extension |
| duplicates (u) | a Business Name already imported, or twice in one file: refused |
| keying (u) | an invoice, credit or payment is keyed once: the same type and number on two sheets is refused |
| keying | the customer must exist first; a document's lines plus tax make its total; a payment or credit names invoices already keyed |
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

FIELDS = ("Business Name", "First Name", "Last Name", "Address 1", "Address 2", "City", "State", "Zip", "Email",
          "Phone", "Notes")
MAX_ROWS = 200
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP".split())
_ZIP = re.compile(r"^\d{5}(-?\d{4})?$")
_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_EXTENSION = re.compile(r"(ext|x|#)\s*\.?\s*\d+\s*$", re.IGNORECASE)


class Refused(Exception):
    """The file was refused; `problems` lists each row's errors as Patriot's review screen would."""

    def __init__(self, path: Path, problems: list[str]):
        super().__init__(f"{path.name}: " + "; ".join(problems))
        self.problems = problems


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    if path.suffix.lower() != ".csv":
        raise Refused(path, [f"not a .csv file ({path.suffix or 'no suffix'})"])
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise Refused(path, [f"not UTF-8 text ({error})"]) from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise Refused(path, ["empty file: no header row"])
    return rows[0], rows[1:]


class Patriot:
    """One Patriot company: its customers (by Business Name) and the documents keyed in."""

    def __init__(self) -> None:
        self.customers: dict[str, dict[str, str]] = {}
        self.keyed: dict[tuple[str, str], dict[str, str]] = {}

    def import_customers(self, path: Path) -> int:
        """Import one customer file whole, or refuse it (`Refused`) and import nothing. Returns the count."""
        header, rows = _read(path)
        problems = [f"column {name!r} is not a Patriot customer field" for name in header if name not in FIELDS]
        problems += [f"column {name!r} appears twice" for name in set(header) if header.count(name) > 1]
        if len(rows) > MAX_ROWS:
            problems.append(f"{len(rows)} customers: Patriot imports at most {MAX_ROWS} per file")
        records, seen = [], set()
        for number, cells in enumerate(rows, start=2):
            if len(cells) != len(header):
                problems.append(f"row {number}: {len(cells)} cells under {len(header)} columns")
                continue
            record = {field: "" for field in FIELDS} | dict(zip(header, cells))
            problems += [f"row {number}: {p}" for p in _customer_problems(record)]
            name = record["Business Name"].strip() or f"{record['First Name']} {record['Last Name']}".strip()
            if name.casefold() in seen or name.casefold() in self.customers:
                problems.append(f"row {number}: customer {name!r} already exists")
            seen.add(name.casefold())
            records.append((name, record))
        if problems:
            raise Refused(path, problems)
        for name, record in records:
            self.customers[name.casefold()] = record
        return len(records)

    def key_in(self, path: Path) -> int:
        """Key every document of a keying sheet, or refuse the sheet and key nothing. Returns the count."""
        header, rows = _read(path)
        documents: dict[tuple[str, str], list[dict[str, str]]] = {}
        problems = []
        for number, cells in enumerate(rows, start=2):
            if len(cells) != len(header):
                problems.append(f"row {number}: {len(cells)} cells under {len(header)} columns")
                continue
            record = dict(zip(header, cells))
            documents.setdefault((record["Type"], record["Number"]), []).append(record)
        for key, records in documents.items():
            problems += [f"{key[0]} {key[1]}: {p}" for p in self._document_problems(key, records, documents)]
        if problems:
            raise Refused(path, problems)
        for key, records in documents.items():
            self.keyed[key] = records[0]
        return len(documents)

    def _document_problems(self, key, records, sheet) -> list[str]:
        first = records[0]
        problems = []
        if key in self.keyed:
            problems.append("already keyed from an earlier sheet")
        if first["Customer"].casefold() not in self.customers:
            problems.append(f"customer {first['Customer']!r} does not exist in Patriot (import the customer file first)")
        if len(records) != max(1, int(first["Lines In Document"] or "0")):
            problems.append(f"{len(records)} rows but Lines In Document says {first['Lines In Document']}")
        try:
            lines = sum((Decimal(r["Amount"]) for r in records if r["Line"]), Decimal("0"))
            subtotal, tax, total = (Decimal(first[c]) for c in ("Subtotal", "Tax", "Total"))
        except (InvalidOperation, KeyError):
            return problems + ["an amount is not a number"]
        if first["Type"] != "Payment" and (lines != subtotal or subtotal + tax != total):
            problems.append(f"lines {lines} plus tax {tax} do not make the total {total}")
        for applied in filter(None, (part.strip() for part in first["Applies To"].split(";"))):
            invoice = applied.rsplit(":", 1)[0].strip()
            if ("Invoice", invoice) not in self.keyed and ("Invoice", invoice) not in sheet:
                problems.append(f"applies to invoice {invoice}, which is not in Patriot")
        return problems


def _customer_problems(record: dict[str, str]) -> list[str]:
    problems = []
    business, first, last = (record[f].strip() for f in ("Business Name", "First Name", "Last Name"))
    if not business and not (first and last):
        problems.append("needs a Business Name, or a First Name and a Last Name")
    if len(business) > 50:
        problems.append(f"Business Name has {len(business)} characters (at most 50)")
    for field in ("Address 1", "Address 2"):
        if len(record[field]) > 50:
            problems.append(f"{field} has {len(record[field])} characters (at most 50)")
    if record["State"] and record["State"].strip().upper() not in US_STATES:
        problems.append(f"State {record['State']!r} is not a US state (US addresses only)")
    if record["Zip"] and not _ZIP.match(record["Zip"].strip()):
        problems.append(f"Zip {record['Zip']!r} is not a US ZIP code")
    if record["Email"] and not _EMAIL.match(record["Email"].strip()):
        problems.append(f"Email {record['Email']!r} is not one email address")
    if record["Phone"] and _EXTENSION.search(record["Phone"]):
        problems.append(f"Phone {record['Phone']!r} has an extension")
    return problems
