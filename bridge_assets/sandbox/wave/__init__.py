"""A local emulator of Wave's public GraphQL API, as the invoice bridge meets it.

A real HTTP server on loopback holding businesses in SQLite (surviving restarts), following
../shared/design/platforms/wave.md. Every request's document is parsed and validated against the
emulator's schema (`schema.py`, graphql-core) before anything runs.

API
    POST /graphql/public        {query, variables?, operationName?} with `Authorization: Bearer <token>`
        query    business(id) { accounts salesTaxes customers customer(id) products invoices(page, pageSize,
                 status, customerId, invoiceDateStart, invoiceDateEnd, modifiedAtAfter, modifiedAtBefore) invoice(id) }
        mutation customerCreate productCreate invoiceCreate invoicePatch invoiceApprove invoiceDelete
    GET  /oauth2/authorize/     client_id, redirect_uri, response_type=code, scope (with invoice:write),
                                businessId, state: auto-approved, redirects with code
    POST /oauth2/token/         form: authorization_code | refresh_token, client_id + client_secret in the form

Admin (kit/admin.py; plain JSON, no auth): health, settings, reset, faults, journal, clients, and
    POST /_emulator/businesses {name, sales_tax_rate?}   a business with account "Sales" and sales tax "Sales Tax"
    POST /_emulator/oauth/tokens {business_id, client_id?}  a token pair without the consent page
    POST /_emulator/expire {refresh_tokens?}     GET /_emulator/invoices?business_id=
    POST /_emulator/invoices/{id}/payments {amount}       a payment recorded in Wave's UI

RULES (u = unconfirmed in the facts; the strictest plausible behaviour chosen)

| rule | behaviour here |
|---|---|
| document | parsed and validated against the schema: syntax or validation error -> 400 `errors`, nothing runs |
| auth | bearer token of the business it was granted for; none/expired -> 401, `extensions.code` UNAUTHENTICATED (u: status) |
| tokens | access 2 h; refresh token rotates on every use, the old one is then invalid_grant (u) |
| limits | 60 a minute per access token, 5,000 a day per app (Apideck, u) -> 429 RATE_LIMITED, `Retry-After` |
| invoice state | created DRAFT; `invoiceApprove` makes it SAVED; approving a non-draft is refused (u) |
| invoice number | optional (next number when absent); a number in use in the business is refused, DUPLICATE (u) |
| items | at least one; each names a product of the business; quantity not zero; items given to a patch replace all (u) |
| taxes | per item, a sales tax of the business; `amount` given is kept, else rate x line (u) |
| patch | refused once a payment is recorded on the invoice (u) |
| delete | `invoiceDelete` only of a DRAFT invoice (u); there is no void, no credit note, no invoice payment mutation |
| products | need an income account (INCOME subtype) (u); a second product with the same name is refused (u) |
| paging | pageSize 1..100 (u), else the field errors |
| dates | dueDate not before invoiceDate (u) |
| lock date | none exposed (facts): the bridge's closing date is configured |
"""

from bridge_assets.sandbox.wave.app import create_app
from bridge_assets.sandbox.wave.server import AdminClient, EmulatorHandle, SpawnedEmulator, run_emulator, spawn_emulator
from bridge_assets.sandbox.wave.settings import EmulatorSettings
