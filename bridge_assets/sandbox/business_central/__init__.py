"""A local emulator of Dynamics 365 Business Central's API v2.0, as the invoice bridge meets it.

A real HTTP server on loopback holding one environment and company in SQLite (surviving restarts):
Entra-style client-credentials tokens (the kit's OAuth provider), OData v4 entity sets with ETags and
`If-Match`, the `Microsoft.NAV.post` and `Microsoft.NAV.cancel` actions, customer payment journals,
`$batch`, the allowed posting range, and the limits of facts §9. Routes: api.py; rules: documents.py,
payments.py; admin endpoints: admin.py.

    python -m bridge_assets.sandbox.business_central --port 0 --state bc.sqlite3
    run_emulator(state_path, settings) / spawn_emulator(...)                  (server.py)

Rules the public material does not settle, each the strictest plausible reading (facts with sources:
../../../../shared/design/platforms/business_central.md):

| rule | the emulator's choice |
|---|---|
| manual document numbers | refused (No. Series without Manual Nos.): our number goes in `externalDocumentNumber` |
| a client-chosen `id` sent again | 400 `Internal_EntityWithSameKeyExists` (never a second document) |
| stale `If-Match` | 409 `Request_EntityChanged`; none at all: 400 `BadRequest_InvalidToken` (PATCH, DELETE) |
| bound actions (post, cancel) | need no `If-Match` |
| posting outside the allowed range | 400 `Application_DialogException` "The Posting Date is not within your range of allowed posting dates." (post, cancel, journal post) |
| cancel of an invoice | refused once anything is paid or credited on it; posts a corrective credit memo (status `Corrective`) dated the invoice's posting date |
| cancel of a credit memo | unapplies it and posts a corrective invoice |
| editing a posted document or its lines | refused (400 `Application_DialogException`) |
| tax | no tax setup: `taxCode` is kept, tax is 0; the bridge carries the source's tax as an item line |
| payment amount sign | negative (`payment_amount_sign`), else `The "amount" should be a negative number.` |
| posting the payment journal | `journals({id})/Microsoft.NAV.post` on the customer payment journal's batch id; posted lines leave the journal and become general ledger entries (documentType Payment) |
| reversing a posted payment | not in the API (a page action): none |
| $batch | at most 100 operations; each its own transaction unless `Isolation: snapshot` (then any failure rolls all back, the others answered 424) |
| limits | 6,000 requests per 5 minutes and 100 at once per client (429 with Retry-After: 5) |
"""

from bridge_assets.sandbox.business_central.app import create_app
from bridge_assets.sandbox.business_central.server import (
    AdminClient, EmulatorHandle, SpawnedEmulator, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.business_central.settings import SCOPE, EmulatorSettings

__all__ = ["AdminClient", "EmulatorHandle", "EmulatorSettings", "SCOPE", "SpawnedEmulator", "create_app",
           "run_emulator", "spawn_emulator"]
