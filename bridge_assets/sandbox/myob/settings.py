"""How the MYOB Business API emulator behaves, and the choices it makes where MYOB's documentation is silent.

Facts (design/platforms/myob.md): OAuth 2.0 at `/oauth2/v1/authorize` (client id and secret in the form);
every call carries `Authorization: Bearer`, `x-myobapi-key` (the API key) and `x-myobapi-version: v2`;
paths `/accountright/{company file GUID}/...`; entities carry `UID`, `URI`, `RowVersion`; a POST must not
carry `UID`/`RowID`/`RowVersion` (409); a PUT sends the whole entity with the current `RowVersion` (stale:
409 `IncorrectRowVersionSupplied`); `Number` is at most 13 characters, auto-numbered when omitted; a
credit note is a sale invoice with a negative total (status `Credit`), settled against invoices by
`/Sale/CreditSettlement`; a customer payment pays several invoices, and has no PUT; DELETE is refused
with 25003 when the file says transactions must be reversed; a date in the lock period (the lock date
itself included) is refused `BusinessEvent_DateOccured_InLockPeriod`; 8 calls a second and 1,000,000 a
day per API key, answered 403 `RateLimitError`; OData `$filter`, `$top`, `$skip`; lists
`{"Items", "NextPageLink", "Count"}`; errors `{"Errors": [{"Name", "Message", "AdditionalDetails",
"ErrorCode", "Severity", "LearnMore"}]}`.

Unconfirmed, and chosen strictly (the one table of the emulator's choices; the README says so):

| question                                       | the emulator's answer                                       |
|------------------------------------------------|-------------------------------------------------------------|
| token lifetimes, rotation                      | access 20 minutes; refresh rotated on every use, the old one dead |
| the lock date on the API                       | not exposed: set on the admin panel only                    |
| a repeated invoice `Number`                    | refused, 400 `DuplicateNumber` (deleted ones free the number) |
| tax                                            | from the line's TaxCode rate, per line, half-up; never given |
| a payment whose AmountReceived differs from what it applies | refused, 400 `AmountReceivedMismatch`           |
| missing `x-myobapi-version` / wrong API key    | 400 `ApiVersionRequired` / 401 `InvalidApiKey`              |
| a company file the token was not consented for | 403 `CompanyFileAccessDenied`                               |
| `$top` above 1,000                             | cut to 1,000                                                |
| `$filter`                                      | `eq`, `gt`, `lt` on `Number`, `ReceiptNumber`, `CompanyName`, `DisplayID`, `LastModified`, `Customer/UID`, joined by `and` |
| POST without `returnBody=true`                 | 201, `Location` header, empty body                          |
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from bridge_assets.sandbox.kit.cloud_settings import OAuthAppSettings


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(OAuthAppSettings):
    time_scale: float = 1.0
    company_file: str = "7a1c52e0-5b4d-4c7e-9f11-2d5e8a3b6c90"
    clients: Mapping[str, str] = dataclasses.field(default_factory=lambda: {"bridge-myob-key": "myob-secret"})
    access_token_lifetime_s: float = 1200
    calls_per_second: int = 8
    calls_per_day: int = 1_000_000
    must_reverse: bool = False          # Preferences.TransactionsCannotBeChangedMustBeReversed
    tax_codes: Mapping[str, str] = dataclasses.field(default_factory=lambda: {"GST": "10", "FRE": "0", "N-T": "0"})
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
