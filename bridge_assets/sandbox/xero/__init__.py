"""A faithful local emulator of the Xero Accounting API 2.0 and Xero's identity server (OAuth 2.0).

A real HTTP server on loopback holding organisations in SQLite and enforcing the rules of
`../shared/design/platforms/xero.md`; where Xero's behaviour is unconfirmed the strictest plausible
choice is made, and every such choice is one row of `RULES.md` beside this file.

Start it
    python -m bridge_assets.sandbox.xero --host 127.0.0.1 --port 0 --state xero.sqlite3 [--time-scale 60]
    run_emulator(state_path, settings) / spawn_emulator(...)        context managers (server.py)

API (Xero's own paths; base URL + /api.xro/2.0 replaces https://api.xero.com/api.xro/2.0)
    POST /connect/token   POST /connect/revocation   GET /identity/connect/authorize (auto-consent)
    GET  /connections                                         the organisations a token reaches
    GET  /Organisation | /TaxRates | /Accounts
    GET  /Invoices | /CreditNotes | /Payments | /BatchPayments | /BankTransactions | /Contacts | /Items
         ?where= &IDs= &InvoiceNumbers= &Statuses= &ContactIDs= &page= &pageSize=, If-Modified-Since
    GET  /{collection}/{id or number}
    PUT  /{collection}                create (`{"Invoices": [...]}`), ?summarizeErrors=false ?unitdp=4
    POST /{collection}                update (by id or number) or create;  POST /{collection}/{id}: update one
         (Status VOIDED / DELETED: void or delete; Payments and BatchPayments: Status DELETED)
    PUT  /CreditNotes/{id}/Allocations      DELETE /CreditNotes/{id}/Allocations/{AllocationID}
    PUT  /BankTransactions (Type RECEIVE-OVERPAYMENT: an Overpayment)   GET /Overpayments
    Every call: `Authorization: Bearer`, `xero-tenant-id`; JSON with `Accept: application/json`,
    else XML. Writes may carry `Idempotency-Key`.

Admin (no auth, no throttle; JSON)
    GET    /_emulator/health | /_emulator/settings | /_emulator/faults
    POST   /_emulator/reset  {"tenantId"?}        POST /_emulator/clients {"client_id", "client_secret"}
    POST   /_emulator/organisations {"tenantId"?, "name"?, "connect"?: [client_id]}
    POST   /_emulator/organisations/{tenantId}/lock-dates {"PeriodLockDate"?, "EndOfYearLockDate"?}
    GET    /_emulator/organisations/{tenantId}/{Invoices|CreditNotes|Payments|...|journal}
    POST   /_emulator/custom-connections {"client_id", "tenantId"}
    POST   /_emulator/oauth/authorization-code {"tenantId"?, "client_id"?, "redirect_uri"?} -> {"code"}
    POST   /_emulator/oauth/tokens {"tenantId"?, "client_id"?}     a fresh token pair (no browser)
    POST   /_emulator/oauth/expire {"tenantId"?, "kinds"?}
    POST   /_emulator/faults {"tenantId"?, latency_ms, error_rate, error_statuses, fail_next, throttle_next,
                              drop_next_writes, drop_rate, drop_mode, drop_entities, methods, paths, seed}
    POST   /_emulator/webhooks/intent-to-receive {"url"?}      Xero's check of a webhook receiver
"""

from bridge_assets.sandbox.xero.app import create_app
from bridge_assets.sandbox.xero.server import (
    AdminClient, EmulatorHandle, SpawnedEmulator, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.xero.settings import DEFAULT_TENANT_ID, EmulatorSettings

__all__ = ["AdminClient", "DEFAULT_TENANT_ID", "EmulatorHandle", "EmulatorSettings", "SpawnedEmulator", "create_app",
           "run_emulator", "spawn_emulator"]
