"""ServiceTrade's wire field names, as this emulator writes them: the emulator's own table.

The bridge reads ServiceTrade through its own map (`sources/servicetrade/mapping.ServiceTradeFieldMap`);
the emulator deliberately does not import it, so a misread field cannot be wrong on both sides and
pass. API_FACTS.md confirms only `id`, `status`, `invoiceNumber`, `transactionDate`, `totalPrice`,
`customer.id`, `type` and `notes`; every other name here is a best reading of public material. A test
renames them through `EmulatorSettings.field_map` (same keys as below) to prove nothing else
hard-codes a name, on either side.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge_assets.sandbox.kit.settings import settings_from_mapping

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class WireFields:
    """Where each fact sits in a ServiceTrade invoice on the wire. Confirmed names first."""

    id: str = "id"
    status: str = "status"
    invoice_number: str = "invoiceNumber"
    transaction_date: str = "transactionDate"      # Unix seconds
    total: str = "totalPrice"
    customer: str = "customer"                     # {"id", "name", "uri"}
    type: str = "type"
    notes: str = "notes"

    # Unconfirmed: the invoice header.
    created: str = "created"                       # Unix seconds
    updated: str = "updated"                       # Unix seconds
    location: str = "location"                     # {"id", "name", "uri"}
    job: str = "job"                               # {"id", "number", "uri"}
    ref_id: str = "id"                             # inside customer / location / job
    ref_name: str = "name"                         # inside customer / location
    tax_total: str = "taxAmount"
    subtotal: str = "subtotal"
    po_number: str = "poNumber"
    due_date: str = "dueDate"                      # Unix seconds
    uri: str = "uri"

    # Unconfirmed: line items.
    items: str = "items"
    item_id: str = "id"
    item_code: str = "name"                        # the item-library name
    item_description: str = "description"
    item_quantity: str = "quantity"
    item_price: str = "price"
    item_total: str = "totalPrice"
    item_taxable: str = "taxable"
    item_tax: str = "taxAmount"                    # per-line tax, when the account shows it

    # Unconfirmed: what the numbers mean, and the account's zone for calendar days.
    total_includes_tax: bool = True
    timezone: str = "America/New_York"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> WireFields:
        return settings_from_mapping(cls, values, "ServiceTrade field names")

    def to_mapping(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def zone(self) -> dt.tzinfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):  # a system without tz data still works, in UTC
            logger.warning("time zone %r is unknown here; the emulator dates in UTC", self.timezone)
            return dt.UTC


FIELDS = WireFields()


def day_start(day: dt.date, zone: dt.tzinfo) -> int:
    """Unix seconds of local midnight that starts `day` in the account's zone."""
    return int(dt.datetime.combine(day, dt.time(), zone).timestamp())
