"""A local emulator of a SedonaAPI 2.0 tenant (SedonaOffice), serving the sandbox's sample book.

Not a mock: a real HTTP server on loopback that keeps the company in SQLite (a restart loses
nothing) and serves the same invoices the generator writes as "Export Invoice Detail" files, so the
bridge's export path and API path can be compared document for document.

Start it
    python -m bridge_assets.sandbox.sedona_api --port 0 --state sedona.sqlite3 [--seed 7 --lines 2000]
        prints "SedonaAPI emulator listening on http://127.0.0.1:PORT" as its first stdout line
    create_app(state_path, settings=EmulatorSettings(...))        the ASGI app
    run_emulator(state_path, settings) / spawn_emulator(...)      context managers (server.py)
    seed_from_book(book)                                          a Book as SedonaAPI records (seed.py)

Tenant API (base path /api/, like https://<tenant>api.sedonaoffice.com/api/)
    POST /api/token                    grant_type=password&username=&password= (auth_scheme "token")
    GET  /api/{Model}                  lists in (ModifiedDate, Id) order, paged; filters startDate,
                                       endDate (MM/DD/YYYY), modifiedSince (>=), customerId,
                                       customerNumber (CustomerPayment needs customerNumber + dates)
    GET  /api/{Model}/{id}
    Models: Customer, CustomerSite, CustomerRecurring, CustomerInvoice, CustomerCredit,
            CustomerPayment, ServiceTicket, AccountingPeriod (fields in models.py)

Admin (no auth, no faults; JSON in and out)
    GET    /_emulator/health | /_emulator/settings (credentials masked) | /_emulator/journal
    POST   /_emulator/reset                         forget everything (tokens too)
    POST   /_emulator/seed     {"book": Book.to_dict()} or {"seed", "lines", "first_period", "months"},
                               "open_periods"?      replace the company with that sample book
    GET    /_emulator/records/{Model}               every record, plus deleted ones under "deleted"
    POST   /_emulator/records/{Model}[?force=true]  create;  PATCH|POST .../{id} edit;  DELETE .../{id}
    POST   /_emulator/invoices                      create an invoice; PATCH|POST|DELETE
           /_emulator/invoices/{InvoiceNumber}      edit or delete one (a source cancellation)
                               edits take "ModifiedDate" to pin the stamp; invoices, credits and
                               payments change only in an Open / Re-Open period unless ?force=true
    GET    /_emulator/periods; POST /_emulator/periods/{YYYY-MM} {"Status": Future|Open|Closed|Re-Open}
    POST   /_emulator/tokens/expire                 every issued token expires now
    GET|POST|DELETE /_emulator/faults               5xx on the Nth data request or at a rate, latency,
                                                    token expiry on the Nth request (faults.py)

Unconfirmed upstream, so configurable (settings.py): the auth scheme, the error body, paging and
its envelope, the ModifiedDate format and name, whether CustomerInvoice.Amount includes tax, and
the field names marked in models.py. The bridge's client copes with every setting.
"""

from bridge_assets.sandbox.sedona_api.app import create_app
from bridge_assets.sandbox.sedona_api.seed import SeedData, seed_from_book
from bridge_assets.sandbox.sedona_api.server import (
    AdminCallFailed, AdminClient, EmulatorHandle, SpawnedEmulator, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings
