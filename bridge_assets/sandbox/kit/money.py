"""Money as the emulated platforms round it: Decimal, half-up to the cent.

The sandbox's own copy, not the product's: an emulator that borrowed the bridge's arithmetic could
not catch the bridge getting it wrong.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(value: Decimal | int | str) -> Decimal:
    """A Decimal rounded half-up to the cent (never "-0.00")."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP) + 0


def line_amount(quantity: Decimal, price: Decimal) -> Decimal:
    """quantity x price, rounded half-up to the cent: what a line's amount is on every platform emulated."""
    return money(Decimal(quantity) * Decimal(price))
