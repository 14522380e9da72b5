"""A local emulator of the Zoho Books API v3, as the invoice bridge meets it.

A real HTTP server on loopback holding one organization in SQLite (the kit's document store): refresh
tokens that do not rotate and mint at most 10 access tokens per 10 minutes, `Zoho-oauthtoken` headers,
`organization_id` on every call, items on every line, drafts marked sent, the unique-field upsert,
payments of several invoices, credit notes applied to invoices, void that unassociates, the transaction
lock date, 100 calls a minute and a daily cap. Rules in rules.py, wire in api.py, the choices made where
Zoho is silent in the table of settings.py.

    python -m bridge_assets.sandbox.zoho_books --port 0 --state zoho.sqlite3 [--time-scale 60]
"""

from bridge_assets.sandbox.zoho_books.server import (
    AdminClient, EmulatorHandle, SpawnedEmulator, create_app, demo_sandbox, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.zoho_books.settings import EmulatorSettings
