"""A local emulator of BILL's (Bill.com) AR API v3, as the invoice bridge meets it.

A real HTTP server on loopback holding organizations in SQLite (surviving restarts), following
../shared/design/platforms/bill_com.md. `POST /connect/v3/login {username, password, organizationId, devKey}`
gives a `sessionId`; every other call carries the `devKey` and `sessionId` headers.

API (api.py): login, logout; GET|POST /customers; GET|POST /invoices (`filters=field:op:"value"`, `max`, `page`);
GET|PATCH /invoices/{id}; POST /invoices/{id}/archive | /restore. Errors: `[{timestamp, code, severity,
category, message}]`.
Admin (kit/admin.py; plain JSON): health, settings, reset, faults, journal, and
    POST /_emulator/organizations {username, password, name?}   GET /_emulator/organizations
    POST /_emulator/sessions/expire      GET /_emulator/invoices?organization=

RULES (u = unconfirmed in the facts; the strictest plausible behaviour chosen)

| rule | behaviour here |
|---|---|
| login | wrong user or password BDC_1101, wrong devKey BDC_1102 (401); 200 logins an hour per devKey |
| session | idle 35 minutes (scaled) -> BDC_1109 "Session is invalid. Please log in." (401, u: status and code) |
| limits | 20,000 requests an hour per devKey (BDC_1144), 3 at once per devKey and organization (BDC_1322), 429 (u) |
| invoice | `customer.id` of the organization, at least one line with `quantity`; `invoiceNumber` 1-100, optional |
| number | NOT unique (u): a second invoice with the same number is accepted |
| idempotency | no `X-Idempotent-Key` on invoices (u) |
| tax | no field for an amount: the bridge sends the source's tax as its own line |
| patch | fields given replace; lines given replace every line (u); an archived invoice is refused until restored |
| void | none: archive (idempotent) / restore |
| filters | `field:op:"value"` with eq gt gte lt lte on invoiceNumber, updatedTime, createdTime, name, archived, customerId (u) |
| paging | `max` 1..100 (u), `page` from 0, `nextPage` |
| not served | credit memos, record-payment, webhooks, lock dates (none documented) |
"""

from bridge_assets.sandbox.bill_com.app import create_app
from bridge_assets.sandbox.bill_com.server import (AdminClient, EmulatorHandle, SpawnedEmulator, bridge_environment,
                                                   run_emulator, spawn_emulator)
from bridge_assets.sandbox.bill_com.settings import EmulatorSettings
