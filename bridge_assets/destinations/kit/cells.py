"""Spreadsheet-safe cells for every file a platform imports: text one line, formulas defused, exact numbers.

Formula injection (OWASP "CSV injection"): any text cell that a spreadsheet could read as a formula
gets a leading `'`. Numeric cells are written by the number formatters here and never pass through
the neutraliser (a quoted number is text to an importer). `row_cells` applies both rules to one row,
so a file format only names its numeric columns and its own text rule.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Callable, Mapping, Sequence

from bridge_assets.model.document import decimal_text, money

# OWASP "CSV injection": =, +, -, @ start a formula, and so do tab and CR in some importers.
# The full-width forms are included because some spreadsheet locales fold them to ASCII.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")

_LINE_BREAKS = re.compile(r"[\t\r\n\v\f\x85\u2028\u2029]+")


def neutralise_formula(text: str) -> str:
    """Prefix `'` to text a spreadsheet would evaluate (`=`, `+`, `-`, `@`, tab, CR ...).

    Leading spaces are looked through ("  =HYPERLINK(...)" is caught too). Use it on text cells
    only: numbers are formatted by `amount_text` / `quantity_text` and must not get a quote.
    """
    if text.lstrip(" ").startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def single_line(text: str) -> str:
    """Tabs and line breaks inside a cell become one space, so a record is always one line."""
    return _LINE_BREAKS.sub(" ", text)


def amount_text(value: Decimal | int | str) -> str:
    """Money as a plain string with two places ("-12.50"), never exponent form, never "-0.00"."""
    amount = money(Decimal(value))
    if amount == 0:
        amount = abs(amount)
    return format(amount, "f")


# Quantities and rates with up to 4 places, trailing zeros removed (as in `canonical_dict`).
quantity_text = decimal_text


def parse_amount(text: object) -> Decimal | None:
    """A money value from a ledger dict or a file cell, or None when it is missing or not a number."""
    if text is None or text == "":
        return None
    try:
        return money(Decimal(str(text)))
    except (InvalidOperation, ValueError):
        return None


def text_cell(value: object) -> str:
    """A text cell as a file holds it: one line, formula starts neutralised."""
    return neutralise_formula(single_line("" if value is None else str(value)))


def row_cells(row: Mapping[str, str], columns: Sequence[str], numeric: frozenset[str],
              text: Callable[[object], str] = text_cell) -> list[str]:
    """One row's cells in `columns` order: numeric columns as formatted, every other through `text`."""
    return [row.get(column, "") if column in numeric else text(row.get(column, "")) for column in columns]
