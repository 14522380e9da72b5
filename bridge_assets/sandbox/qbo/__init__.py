"""A faithful local emulator of the QuickBooks Online Accounting API v3 and Intuit's OAuth server.

Not a mock: a real HTTP server on loopback that holds books in SQLite and enforces the rules in
`API_FACTS.md`, so the bridge's adapter runs its real code path with no Intuit account anywhere.
Only the base URL and credentials differ from production.

Start it
    python -m bridge_assets.sandbox.qbo --host 127.0.0.1 --port 0 --state qbo.sqlite3 [--time-scale 60]
        prints "QBO emulator listening on http://127.0.0.1:PORT" as its first stdout line
    create_app(state_path, settings=EmulatorSettings(...))        the ASGI app
    run_emulator(state_path, settings) / spawn_emulator(...)      context managers (server.py)

API (QuickBooks' own paths, under /v3/company/{realmId})
    POST /invoice | /creditmemo | /payment | /customer | /item | /account     create, or update with Id
         ?operation=delete                 transactions only (name lists: set Active false)
         /invoice?operation=void           void an invoice
         /payment?operation=update&include=void  (sparse) void a payment
         ?include=allowduplicatedocnum     bypass 6140;  ?requestid=...  idempotent replay
    POST /vendor                           Vendor shares the Customer name space (6240 both ways)
    GET  /{entity}/{Id}   GET|POST /preferences   GET /companyinfo/{realmId}
         also Term, TaxCode, TaxRate, Estimate, SalesReceipt (read and query only; lists.py)
    GET  /{entity}/{Id}/pdf   POST /{entity}/{Id}/send?sendTo=   (documents.py)
    GET  /reports/CustomerBalance | /reports/AgedReceivables   ?report_date=&customer=   (reports.py)
    GET|POST /query       POST /batch            GET /cdc?entities=...&changedSince=...
         MAXRESULTS above 1000 or below 1: 4001; `SELECT *, Sku FROM Item` accepted (query.py)
    minorversion: below 75 read as 75; one that is no number refused (2010); any other path: a JSON fault
    GET /.well-known/openid_sandbox_configuration/   the OpenID discovery document (intuit-oauth reads it)
    POST /oauth2/v1/tokens/bearer   POST /v2/oauth2/tokens/revoke   GET /connect/oauth2 (auto-consent)

Admin (no auth, no throttle; JSON in and out)
    GET    /_emulator/health                              {"status": "ok", "companies": [...]}
    GET    /_emulator/settings                            the EmulatorSettings in force
    POST   /_emulator/reset               {"realmId"?}    forget everything, or one company's books
    POST   /_emulator/clients             {"client_id", "client_secret"}   register an OAuth app
    GET    /_emulator/companies
    POST   /_emulator/companies           {"realmId"?, "CompanyName"?, "sales_tax_rate"?,
                                           "warn_duplicate_doc_number"?, "Preferences"?}
    POST   /_emulator/companies/{realmId}/config          {"sales_tax_rate"?, "warn_duplicate_doc_number"?}
    POST   /_emulator/companies/{realmId}/preferences     partial Preferences, deep-merged (as in the UI:
                                                          no SyncToken needed, SyncToken still bumps)
    POST   /_emulator/companies/{realmId}/book-close-date {"BookCloseDate": "YYYY-MM-DD" | null}
    GET    /_emulator/companies/{realmId}/entities/{Entity}  every object, inactive/voided included,
                                                          plus "Deleted" tombstones
    POST   /_emulator/companies/{realmId}/entities/{Entity}  enter an Estimate, SalesReceipt, Term, TaxCode
                                                          or TaxRate as a person would in QuickBooks
    GET    /_emulator/companies/{realmId}/journal         every API request: path, status, requestid,
                                                          outcome (processed|replayed|throttled|
                                                          injected|unauthorized|dropped:<mode>)
    POST   /_emulator/oauth/authorization-code {"realmId"?, "client_id"?, "redirect_uri"?} -> {"code"}
    POST   /_emulator/oauth/tokens        {"realmId"?, "client_id"?}  -> a fresh token pair (no browser)
    POST   /_emulator/oauth/expire        {"realmId"?, "access_token"?}  expire access tokens now
    GET    /_emulator/faults
    POST   /_emulator/faults              {"realmId"?, latency_ms, latency_jitter_ms, error_rate,
                                           error_statuses, fail_next, throttle_next, drop_next_writes,
                                           drop_rate, drop_mode, drop_entities, seed}   (faults.py)
    DELETE /_emulator/faults?realmId=

Webhooks: with `EmulatorSettings(webhook_url=..., webhook_verifier_token=...)` every API write that
changes an Invoice, CreditMemo, Payment, Customer or Item is followed by a signed legacy change
notification POSTed to that URL, as Intuit does (webhooks.py).

Companies named by a token mint or a consent are created on first use, seeded like a new QuickBooks
company (Services item, A/R, Undeposited Funds, ...). The default company is
`EmulatorSettings.default_realm_id`.
"""

from bridge_assets.sandbox.qbo.app import create_app
from bridge_assets.sandbox.qbo.server import (
    AdminCallFailed, AdminClient, EmulatorHandle, SpawnedEmulator, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.qbo.settings import EmulatorSettings
