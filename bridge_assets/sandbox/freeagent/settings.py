"""How the FreeAgent (API v2) emulator behaves, and the choices it makes where FreeAgent is silent.

Facts (design/platforms/freeagent.md): OAuth 2.0 with HTTP Basic at `/v2/token_endpoint`; access tokens
live an hour; a refresh answers a new refresh token and `refresh_token_expires_in`; at most 5 token
refreshes a minute; a `User-Agent` is required; resources are named by URL; money and quantities are
decimal strings; an invoice needs `contact`, `dated_on`, `payment_terms_in_days`; `reference` is unique
(422) and the next in sequence when omitted; invoices start as Draft and move by
`PUT /v2/invoices/:id/transitions/mark_as_sent|mark_as_draft|mark_as_cancelled`; a sent invoice's items
are locked (422 "... is locked and cannot be changed"); tax is a percentage per line; payments are bank
transaction explanations naming one `paid_invoice`, with no sales tax; a locked period answers 403
"Invoice is locked."; 120 requests a minute and 3,600 an hour per user, 429 "You must not exceed 120
requests per 60 seconds"; pages of 25 (at most 100) with a `Link` header; errors `{"errors": [{"message"}]}`.

Unconfirmed, and chosen strictly (the one table of the emulator's choices; the README says so):

| question                                    | the emulator's answer                                          |
|---------------------------------------------|----------------------------------------------------------------|
| the old refresh token after a refresh       | dead at once (no grace)                                        |
| refresh token lifetime                      | 7 days (`refresh_token_expires_in` says so)                    |
| a lock-date endpoint                        | none: the locked period is set on the admin panel only         |
| what a locked period refuses                | every write to a document dated on or before it: 403 "Invoice is locked." |
| tax percentage precision                    | at most 3 decimals (422 beyond); tax per line, half-up         |
| credit notes                                | `/v2/credit_notes` shaped like invoices (`credit_note_items`); not netted against invoices by the API |
| `updated_since` filter                      | not offered: lists sort by `updated_at` (`sort=-updated_at` newest first) |
| a request without User-Agent                | 400 {"errors": [{"message": "User-Agent header is required"}]} |
| deleting a sent invoice                     | refused (422): cancel it (`mark_as_cancelled`) instead          |
| cancelling an invoice with payments         | refused (422): delete the explanations first                    |
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from bridge_assets.sandbox.kit.cloud_settings import OAuthAppSettings


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(OAuthAppSettings):
    time_scale: float = 1.0
    company: str = "bridge-sandbox"                 # the one company the emulator keeps (the token's subject)
    clients: Mapping[str, str] = dataclasses.field(default_factory=lambda: {"bridge-freeagent": "freeagent-secret"})
    access_token_lifetime_s: float = 3600
    refresh_token_lifetime_s: float = 7 * 86400
    refreshes_per_minute: int = 5
    requests_per_minute: int = 120
    requests_per_hour: int = 3600
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
