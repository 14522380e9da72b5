"""A local emulator of QuickFile's JSON API v1.2, as the invoice bridge meets it.

A real HTTP server on loopback holding accounts in SQLite (surviving restarts), following
../shared/design/platforms/quickfile.md. Every call is `POST /1_2/<category>/<method>` with
`{"payload": {"Header": {"MessageType": "Request", "SubmissionNumber", "Authentication": {"AccNumber",
"MD5Value", "ApplicationID"}}, "Body": {...}}}` and answers `{"<Method>": {"Header", "Body"}}`, or
`{"Errors": {"Error": [...]}}` with a 4xx.

Methods: Client_Create, Client_Search, Invoice_Create (create, or replace with InvoiceID), Invoice_Get,
Invoice_Search, Invoice_Delete, System_GetAccountDetails (methods.py).
Admin (kit/admin.py; plain JSON): health, settings, reset, faults, journal, and
    POST /_emulator/accounts {api_key, application_id, account_number?, manifest?, name?}   GET /_emulator/accounts
    GET  /_emulator/invoices?account=            every invoice as held, deleted ones too

RULES (u = unconfirmed in the facts; the strictest plausible behaviour chosen)

| rule | behaviour here |
|---|---|
| signature | MD5Value = md5(AccNumber + APIKey + SubmissionNumber), hex; wrong -> 401 |
| app | ApplicationID registered on the account, the method ticked in its manifest -> else 403 |
| submission number | one use per account: a reuse is refused (400, u: wording) even for a retry of the same request |
| limit | 1,000 calls a day per account -> 429 (u: status) |
| invoice number | 1-20 characters, optional (next number); one in use in the account is refused (u), deleted ones too (u) |
| lines | at least one ItemLine; ItemName 1-50 (u); Qty greater than zero (u) |
| tax | `Tax1.TaxAmount` given is kept (u), else TaxPercentage x line |
| description | InvoiceDescription 2-35 characters; absent: the first line's name |
| update | Invoice_Create with InvoiceID replaces the data supplied; refused once a payment is allocated (u) |
| search | SearchParameters ReturnCount 1-200, Offset, OrderResultsBy, OrderDirection (ASC/DESC), InvoiceType required (u) |
| delete | Invoice_Delete marks DELETED; search shows it with ShowDeleted only |
| not served | credit notes (CreditNotes block), payments (Payment_Create), lock dates (none documented) |
"""

from bridge_assets.sandbox.quickfile.app import create_app
from bridge_assets.sandbox.quickfile.server import (AdminClient, EmulatorHandle, SpawnedEmulator, bridge_environment,
                                                    run_emulator, spawn_emulator)
from bridge_assets.sandbox.quickfile.settings import EmulatorSettings
