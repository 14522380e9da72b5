"""A local emulator of the FreeAgent API v2, as the invoice bridge meets it.

A real HTTP server on loopback holding one company in SQLite (the kit's document store): HTTP Basic at
the token endpoint, one-hour access tokens, a new refresh token on every refresh and at most 5 refreshes
a minute, a required User-Agent, resources named by URL, money as decimal strings, drafts marked sent and
locked, tax percentages per line, payments as bank transaction explanations of one invoice, a locked
period answering 403 "Invoice is locked.", 120 calls a minute and 3,600 an hour, `Link` paging. Rules in
rules.py, wire in api.py, the choices made where FreeAgent is silent in the table of settings.py.

    python -m bridge_assets.sandbox.freeagent --port 0 --state freeagent.sqlite3 [--time-scale 60]
"""

from bridge_assets.sandbox.freeagent.server import (
    AdminClient, EmulatorHandle, SpawnedEmulator, create_app, demo_sandbox, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.freeagent.settings import EmulatorSettings
