"""A local emulator of the Sage Business Cloud Accounting API v3.1, as the invoice bridge meets it.

A real HTTP server on loopback holding one business in SQLite (the kit's document store): five-minute
access tokens and refresh tokens rotated on every use, `X-Business`, the `$items` lists with
`attributes=all` and a last page that repeats, ledger accounts and tax amounts on every line, void with
a reason, credit allocations and receipts of several invoices, `idempotency_id` replays, the year-end
lockdown date, 100 calls a minute and 2,500 a day. Rules in rules.py, wire in api.py, the choices made
where Sage is silent in the table of settings.py.

    python -m bridge_assets.sandbox.sage --port 0 --state sage.sqlite3 [--time-scale 60]
"""

from bridge_assets.sandbox.sage.server import (
    AdminClient, EmulatorHandle, SpawnedEmulator, create_app, demo_sandbox, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.sage.settings import EmulatorSettings
