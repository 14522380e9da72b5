"""A local emulator of Oracle NetSuite's SuiteTalk REST web services, as the invoice bridge meets it.

A real HTTP server on loopback holding one account in SQLite (surviving restarts): OAuth 2.0 (authorization
code and seven-day refresh tokens, the kit's provider), the Record Service for customers, service items,
invoices, credit memos, customer payments and accounting periods, `eid:` upserts, sublist replace, the
invoice-to-credit-memo transform, closed periods and the account's concurrency limit. Routes: rest.py;
rules: records.py; admin endpoints: admin.py.

    python -m bridge_assets.sandbox.netsuite --port 0 --state ns.sqlite3
    run_emulator(state_path, settings) / spawn_emulator(...)                  (server.py)

Rules the public material does not settle, each the strictest plausible reading (facts with sources:
../../../../shared/design/platforms/netsuite.md):

| rule | the emulator's choice |
|---|---|
| refresh tokens | a refresh grant answers a new access token and the same refresh token, which dies seven days after consent (not extended by use) |
| a transaction in a closed period | not saved, changed or deleted: 400 `USER_ERROR` "The accounting period Sep 2026 is closed; ..." (text unconfirmed) |
| a duplicate `tranId` of the same type | refused (400 `USER_ERROR`), as with "Allow Override" and duplicate warnings on |
| a second record with the same `externalId` | 400 `DUP_RCRD` "This record already exists." |
| `PUT .../eid:` on an existing record | replaces its sublists as given (no lines appended) |
| PATCH with sublist lines | unkeyed lines appended unless `?replace=<sublist>` |
| collection GET | links and ids only; a record's sublists are links unless `expandSubResources=true` |
| void | no REST void action: an invoice is credited in full (`!transform/creditMemo`) |
| deleting an invoice something is applied to | refused: "This record cannot be deleted because it has dependent records." |
| tax | none (legacy tax is not in REST; SuiteTax not emulated): the bridge carries the source's tax as a line |
| limits | 15 requests at once per account (429 `CONCURRENCY_LIMIT_EXCEEDED`); no per-minute limit |
"""

from bridge_assets.sandbox.netsuite.app import create_app
from bridge_assets.sandbox.netsuite.server import AdminClient, EmulatorHandle, SpawnedEmulator, run_emulator, spawn_emulator
from bridge_assets.sandbox.netsuite.settings import EmulatorSettings

__all__ = ["AdminClient", "EmulatorHandle", "EmulatorSettings", "SpawnedEmulator", "create_app", "run_emulator",
           "spawn_emulator"]
