"""Tax carried as a percentage, for platforms that compute the tax money themselves (FreshBooks, FreeAgent).

`percent_for(amount, tax, places)`: the percentage with at most `places` decimals that, applied to the
line's amount and rounded half-up to the cent, gives exactly the source's tax; `None` for no tax.
When none does, `Refused` with a sentence: the document is not posted with another tax.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from bridge_assets.destinations.kit.cloud import Refused
from bridge_assets.model.document import money


def percent_for(amount: Decimal, tax: Decimal, *, places: int, platform: str, line_no: int) -> Decimal | None:
    tax, amount = money(tax), money(amount)
    if tax == 0:
        return None
    step = Decimal(1).scaleb(-places)
    if amount != 0:
        guess = (tax / amount * 100).quantize(step, rounding=ROUND_HALF_UP)
        for offset in sorted(range(-5, 6), key=abs):      # the nearest to the plain ratio first
            percent = guess + offset * step
            if 0 < percent <= 100 and (amount * percent / 100).quantize(Decimal("0.01"), ROUND_HALF_UP) == tax:
                return percent.normalize()
    raise Refused(f"line {line_no} carries tax {tax} on {amount}, and {platform} computes tax from a percentage with "
                  f"at most {places} decimals, none of which gives exactly {tax}; enter this document in {platform} by "
                  f"hand (or correct its tax at the source)", code="tax_not_representable")
