"""A local emulator of the Reckon One API v2, as the invoice bridge meets it.

A real HTTP server on loopback holding books in SQLite (surviving restarts), following
../shared/design/platforms/reckon_one.md. Every call carries `Authorization: Bearer <token>` (OAuth 2 at
`/connect/token`, client by HTTP Basic) and the Azure APIM subscription key.

API (camelCase JSON; api.py)
    GET|POST /r1/v2/{bookId}/customers        ?filter=name eq '...'&page&perpage
    GET|POST /r1/v2/{bookId}/invoices         ?filter=reference eq '...'&page&perpage  (X-Total-Count)
    GET|PUT|DELETE /r1/v2/{bookId}/invoices/{invoiceId}
Admin (kit/admin.py; plain JSON): health, settings, reset, faults, journal, clients, and
    POST /_emulator/books {id?, name?}   GET /_emulator/books   POST /_emulator/oauth/tokens {book_id, client_id?}
    GET /_emulator/invoices?book=        POST /_emulator/invoices/{id}/paid   (a payment recorded in Reckon)

RULES (u = unconfirmed in the facts; the strictest plausible behaviour chosen)

| rule | behaviour here |
|---|---|
| keys | subscription key missing/unknown -> 401 `{statusCode, message}` (APIM); bearer invalid -> 401 `{code, message}` |
| book | a token reaches the book it was granted for; another -> 403 |
| limit | 60 a minute per subscription key (u) -> 429 with Retry-After |
| invoice | `customer` (id or exact name), `invoiceDate` (date-time), `amountTaxStatus` required; at least one line |
| number | assigned by Reckon (no input field); the bridge's number travels in `reference`, which is NOT unique (u) |
| lines | `accountDetails {ledgerAccount, quantity, amount}` only (item lines not served); `taxRate` a code of the book |
| tax | `taxIsModified: true` keeps `taxAmount` as sent (u), else rate x amount |
| status | created Approved (u: v2 has no approve call); PUT replaces everything but number and status; a Paid invoice is refused |
| delete | Draft only, else 400 "The invoice could not be deleted." (u); there is no void |
| filter | `field eq 'value' [and ...]`, case-sensitive; anything else 400 (u) |
| paging | page from 1, perpage 1..100 (u) |
| customers | a second customer with the same name is refused (u) |
| not served | credit notes, receipts, items, lock dates (none in v2) |
"""

from bridge_assets.sandbox.reckon_one.app import create_app
from bridge_assets.sandbox.reckon_one.server import (AdminClient, EmulatorHandle, SpawnedEmulator, bridge_environment,
                                                     run_emulator, spawn_emulator)
from bridge_assets.sandbox.reckon_one.settings import EmulatorSettings
