"""How the Zoho Books emulator behaves, and the choices it makes where Zoho's documentation is silent.

Facts (design/platforms/zoho_books.md): OAuth 2.0; the access token lives an hour; the refresh token does
not rotate (a refresh answers only a new access token) and mints at most 10 access tokens per 10 minutes;
`Authorization: Zoho-oauthtoken <token>`; `organization_id` on every request; answers
`{"code": 0, "message": ..., "<entity>": {...}}`, errors `{"code": n, "message": ...}`; a line needs an
`item_id`; tax is Zoho's to compute (an invoice `adjustment` is the one free amount); invoice numbers are
auto-generated unless `ignore_auto_number_generation=true`; invoices start as drafts; `PUT /invoices` with
`X-Unique-Identifier-Key/-Value` and `X-Upsert: true` creates or updates by a unique custom field (invoices,
contacts, items); a payment may pay several invoices; an invoice with payments or credits cannot be
deleted, a voided one has them unassociated; transactions dated BEFORE the lock date are locked (the lock
date itself is open); 100 requests a minute per organization and a daily cap by plan; `per_page` <= 200.

Unconfirmed, and chosen strictly (the one table of the emulator's choices; the README says so):

| question                                    | the emulator's answer                                           |
|---------------------------------------------|-----------------------------------------------------------------|
| a duplicate invoice / credit-note number    | refused, code 1001 (numbers unique per organization, voided too) |
| a number given without the ignore flag      | ignored: the next auto number is used                           |
| a write dated before the lock date          | HTTP 400, code 4096 "...transaction lock date..."               |
| the lock date's endpoint                    | GET /settings/transactionlock -> `transaction_lock_date`        |
| unique-field upsert on credit notes         | not offered (only invoices, contacts, items): code 4 refused    |
| a credit applied to a draft invoice         | refused, code 1012: the invoice must be sent first              |
| paying / crediting more than the balance    | refused, code 1013                                              |
| duplicate contact name                      | refused, code 3062                                              |
| tax ids                                     | none configured: a `tax_id` is refused (code 1008)              |
| daily cap                                   | `requests_per_day` (1,000: the Free plan's), 429 like the minute |
| concurrent calls                            | `concurrent` (10) per organization, 429 beyond                  |
| 429 body                                    | `{"code": 44, "message": "Rate Limit Exceeded (API usage ...)"}`, no Retry-After |
| `last_modified_time` filter                 | modified at or after it; written `YYYY-MM-DDTHH:MM:SS+0000`     |
| deleted documents                           | gone: no tombstones (a voided invoice stays, status `void`)     |
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from bridge_assets.sandbox.kit.cloud_settings import OAuthAppSettings


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(OAuthAppSettings):
    time_scale: float = 1.0
    organization_id: str = "60012345678"
    clients: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {"1000.BRIDGEZOHO": "zoho-secret"})
    unique_field: str = "cf_bridge_key"              # the organization's unique custom field (api name)
    access_token_lifetime_s: float = 3600
    access_tokens_per_window: int = 10               # per refresh token, per 10 minutes
    requests_per_minute: int = 100
    requests_per_day: int = 1000
    concurrent: int = 10
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
