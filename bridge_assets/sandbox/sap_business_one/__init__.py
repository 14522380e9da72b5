"""A local emulator of the SAP Business One Service Layer (`/b1s/v1`), as the invoice bridge meets it.

A real HTTP server on loopback holding one company database in SQLite (surviving restarts): `Login` sessions
(`B1SESSION`, `ROUTEID` cookies, idle `SessionTimeout`), business partners, items, A/R invoices and credit notes
that post on add, their `Cancel` action, incoming payments, posting periods, server-driven paging. Routes:
service.py; rules: documents.py; admin endpoints: admin.py.

    python -m bridge_assets.sandbox.sap_business_one --port 0 --state b1.sqlite3
    run_emulator(state_path, settings) / spawn_emulator(...)                  (server.py)

Rules the public material does not settle, each the strictest plausible reading (facts with sources:
../../../../shared/design/platforms/sap_business_one.md):

| rule | the emulator's choice |
|---|---|
| session timeout | idle minutes (`SessionTimeout`, 30), renewed by every call; then 401 code 301 "Invalid session or session already timeout." |
| failed login | 401 code 100000027 "Login failed" |
| changing an added document | only `Comments`, `NumAtCard`, `JournalMemo` and user fields `U_*`; anything else -5002 |
| `Cancel` | adds a cancellation document (CancelStatus csCancellation) dated as the original; refused while payments or credits are applied |
| posting periods | entity `FinancePeriods` (name from the DI API); only `ltUnlocked` takes A/R documents and payments: -4013 "Posting period locked; specify an alternative date" |
| applying a standalone credit note | through an incoming payment listing it (`InvoiceType` it_CredItnote, negative `SumApplied`) with the invoice |
| payments | each listed invoice gets `SumApplied`; the rest of the transfer/cash sum stays on account |
| tax | no tax codes: `TaxCode` kept, tax 0; the bridge carries the source's tax as an item line |
| paging | 20 a page unless `Prefer: odata.maxpagesize=N` (at most 1000), `odata.nextLink` relative to `/b1s/v1/` |
| rate limits | none published: none |
"""

from bridge_assets.sandbox.sap_business_one.app import create_app
from bridge_assets.sandbox.sap_business_one.server import (
    AdminClient, EmulatorHandle, SpawnedEmulator, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.sap_business_one.settings import EmulatorSettings

__all__ = ["AdminClient", "EmulatorHandle", "EmulatorSettings", "SpawnedEmulator", "create_app", "run_emulator",
           "spawn_emulator"]
