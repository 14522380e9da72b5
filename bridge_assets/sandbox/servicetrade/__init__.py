"""A local emulator of the ServiceTrade API, as the invoice bridge meets it.

Not a mock: a real HTTP server on loopback that holds an account in SQLite (surviving restarts) and
follows API_FACTS.md, so the bridge's ServiceTrade client runs its real code path with no account
anywhere. Only the base URL and credentials differ from production.

Start it
    python -m bridge_assets.sandbox.servicetrade --port 0 --state st.sqlite3 [--seed 7 --lines 300]
        prints "ServiceTrade emulator listening on http://127.0.0.1:PORT" as its first stdout line;
        the API is http://127.0.0.1:PORT/api (SERVICETRADE_BASE_URL)
    create_app(state_path, settings=EmulatorSettings(...))       the ASGI app
    run_emulator(state_path, settings) / spawn_emulator(...)     context managers (server.py)
    seed_from_book(book, store)                                  load the sample book (seed.py)

API (ServiceTrade's own paths; every answer in the envelope {"messages": {...}, "data": ...}, see wire.py)
    POST   /api/auth {username, password}   -> data.authToken, also cookie PHPSESSID   (auth.py)
    GET    /api/auth                        the current session
    DELETE /api/auth                        log out
    POST   /api/oauth2/token                form: client_credentials | refresh_token | password
    POST   /api/oauth2/revoke               form: refresh_token (or token)
    GET    /api/invoice                     status (comma list), createdAfter/Before, updatedAfter/Before,
                                            transactionDateAfter/Before (Unix s, inclusive), customerId, jobId,
                                            page (from 1), limit (default and max 2000; above: settings)
                                            -> data {invoices, totalPages, page, totalCount}, ordered by id
    GET    /api/invoice/{id}                with its items
    PUT    /api/invoice/{id}                {status?, invoiceNumber?}; status through statuses.py
    POST   /api/comment                     {entityType: "invoice", entityId, content, visibility: []=private}
    GET    /api/comment?entityType=&entityId=   -> data.comments
    anything else under /api                404 {"messages": {"error": ["Not found"]}, "data": null}

Admin (no auth, no faults, not journaled; plain JSON)                           (admin.py)
    GET  /_emulator/health | /_emulator/settings
    POST /_emulator/reset                        forget everything; back to the start-up accounts and faults
    POST /_emulator/seed {seed, lines, first_period, months, status?, credit_style?, replace?} | {book}
    POST /_emulator/users {username, password}   POST /_emulator/clients {client_id, client_secret}
    POST /_emulator/oauth/tokens {client_id?}    a token pair without the token endpoint
    POST /_emulator/expire {username?, client_id?, sessions?, access_tokens?, refresh_tokens?}
    GET  /_emulator/sessions | /_emulator/tokens  live and ended, with why they ended
    GET  /_emulator/invoices?status=             every invoice as the API renders it
    POST /_emulator/invoices {invoices: [spec]}  create invoices directly (internal names, records.py)
    GET|POST /_emulator/invoices/{id}            read / edit any field or status, no rules (void one,
                                                 edit one to play an update; bumps `updated`)
    GET  /_emulator/comments?entityId=&entityType= | /_emulator/customers | /locations | /jobs
    GET|POST|DELETE /_emulator/faults            latency, fail_requests (Nth), fail_next, error_rate (faults.py)
    GET  /_emulator/journal?since=seq            every API request: method, path, query, status,
                                                 outcome (processed|refused|unauthorized|injected|error), principal
    GET  /_emulator/webhooks                     webhook messages delivered and discarded, and how many wait

Webhooks: with `EmulatorSettings(webhook_url=...)` every invoice created or changed (API or admin) is
followed by one message POSTed to that URL as ServiceTrade sends them: ids only, no signature, 5 s to
answer, three tries, then discarded (webhooks.py has the rules table and its sources).

Unconfirmed behaviour is configurable in one place each: wire field names in the emulator's own
`fields.WireFields` (overridable by `EmulatorSettings.field_map`; the bridge's map is not imported),
status transitions in `statuses.py` (+ `extra_transitions`/`removed_transitions`), everything else
(session cap, lifetimes, limit handling, line tax, items in lists) in `settings.py`.
"""

from bridge_assets.sandbox.servicetrade.app import create_app
from bridge_assets.sandbox.servicetrade.seed import seed_from_book
from bridge_assets.sandbox.servicetrade.server import (
    AdminCallFailed, AdminClient, EmulatorHandle, SpawnedEmulator, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.servicetrade.settings import EmulatorSettings
from bridge_assets.sandbox.servicetrade.statuses import DEFAULT_TRANSITIONS, STATUSES
