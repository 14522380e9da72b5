"""A local emulator of the MYOB Business API (AccountRight), as the invoice bridge meets it.

A real HTTP server on loopback holding one company file in SQLite (the kit's document store): the API
key and version headers on every call, the company-file GUID in the path and the token's consent, row
versions, 13-character numbers, credit notes as negative invoices settled against invoices, payments of
several invoices, the lock period, 8 calls a second per API key answered 403 RateLimitError, OData
filters and paging. Rules in rules.py, wire in api.py, the choices made where MYOB is silent in the table
of settings.py.

    python -m bridge_assets.sandbox.myob --port 0 --state myob.sqlite3 [--time-scale 60]
"""

from bridge_assets.sandbox.myob.server import (
    AdminClient, EmulatorHandle, SpawnedEmulator, create_app, demo_sandbox, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.myob.settings import EmulatorSettings
