"""How the Sage Business Cloud Accounting (API v3.1) emulator behaves, and its choices where Sage is silent.

Facts (design/platforms/sage_business_cloud.md): OAuth 2.0 authorization code; form-encoded token calls;
`resource_owner_id` in the token answer; `X-Business` names the business (default: the lead one); bodies
wrapped in the singular name; lists `{"$total","$page","$next","$back","$itemsPerPage","$items"}` with
fields only on `attributes=all`; `items_per_page` <= 200 and a page past the end answers the last page;
a line needs `description`, `ledger_account_id`, `unit_price`, and `tax_amount` unless its tax rate is of
a no-tax type; `DELETE /sales_invoices/{id}` voids (`void_reason` required unless DRAFT); credits are
allocated by `POST /contact_allocations`; a receipt `POST /contact_payments` may pay several invoices,
the rest on account; `idempotency_id` (32 hex characters) in the body answers a repeat with the first
answer; `financial_settings.year_end_lockdown_date`; `updated_or_created_since` (inclusive) and
`deleted_since`; 429 when throttled.

Unconfirmed, and chosen strictly (the one table of the emulator's choices; the README says so):

| question                                     | the emulator's answer                                         |
|----------------------------------------------|---------------------------------------------------------------|
| token lifetimes, rotation                    | access 5 minutes; refresh 31 days, rotated on every use, the old one dead at once |
| the lockdown date itself                     | closed: a write dated on or before it is refused (422 `RecordInvalid`, source `date`) |
| a caller's `invoice_number`                  | ignored: Sage numbers invoices (SI-1...); `reference` is free and not unique |
| the tax amount given                         | kept as given (not re-validated against the rate)             |
| new invoices                                 | issued (UNPAID) unless `status_id` is DRAFT                   |
| `invoice_lines` on PUT                       | replace every line; refused once not `editable` (payments allocated or void) |
| voiding with allocations                     | refused (422): remove the payments and allocations first      |
| idempotency retention                        | 24 hours; a repeat within it answers the first answer, byte for byte |
| limits                                       | 100 a minute and 2,500 a day per business; 429 with no Retry-After |
| error body                                   | `[{"$severity": "error", "$dataCode", "$message", "$source"}]` |
| duplicate contact `reference`                | refused (422)                                                 |
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from bridge_assets.sandbox.kit.cloud_settings import OAuthAppSettings


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(OAuthAppSettings):
    time_scale: float = 1.0
    business_id: str = "4b7c1e0d2f3a4b5c6d7e8f9012345678"
    resource_owner_id: str = "9a8b7c6d5e4f30211203f4e5d6c7b8a9"
    clients: Mapping[str, str] = dataclasses.field(default_factory=lambda: {"bridge-sage": "sage-secret"})
    access_token_lifetime_s: float = 300
    refresh_token_lifetime_s: float = 31 * 86400
    requests_per_minute: int = 100
    requests_per_day: int = 2500
    idempotency_window_s: float = 86400
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
