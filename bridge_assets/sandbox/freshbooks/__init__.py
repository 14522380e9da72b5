"""A local emulator of the FreshBooks accounting API (OAuth 2.0, JSON), as the invoice bridge meets it.

A real HTTP server on loopback holding one account in SQLite (the kit's document store): single-use
refresh tokens, invoices created as drafts and marked sent, taxes as line percentages, one invoice per
payment, credits applied by payment, soft deletion, paging capped at 100, webhook callbacks with the
verifier handshake and signed deliveries (callbacks.py). Its rules are in rules.py, its wire in api.py,
the choices made where FreshBooks is silent in the table of settings.py.

    python -m bridge_assets.sandbox.freshbooks --port 0 --state fb.sqlite3 [--time-scale 60]
"""

from bridge_assets.sandbox.freshbooks.server import (
    AdminClient, EmulatorHandle, SpawnedEmulator, create_app, demo_sandbox, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.freshbooks.settings import EmulatorSettings
