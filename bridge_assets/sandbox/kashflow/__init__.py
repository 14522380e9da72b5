"""A local emulator of KashFlow's SOAP API (namespace `KashFlowAPI`, SOAP 1.1 document/literal), as the bridge
meets it: a real server on loopback, accounts in SQLite, following ../shared/design/platforms/kashflow.md.

    GET  /api/service.asmx?WSDL      the WSDL (wsdl.py), with this server as the service address
    POST /api/service.asmx           InsertCustomer, GetCustomer, InsertInvoice, UpdateInvoice, GetInvoice,
                                     DeleteInvoice; UserName and Password in every call (methods.py)
Admin (kit/admin.py; plain JSON): health, settings, reset, faults, journal, and
    POST /_emulator/accounts {username, password, api_enabled?}   GET /_emulator/accounts
    GET  /_emulator/invoices?account=

RULES (u = unconfirmed in the facts; the strictest plausible behaviour chosen)

| rule | behaviour here |
|---|---|
| credentials | UserName + Password on every call; wrong, or API not enabled -> soap:Fault, HTTP 500 (u: wording) |
| refusals | Status NO with StatusDetail, HTTP 200 |
| invoice number | unique per account ("must be unique"); 0 asks for the next number; a reuse is refused (u: wording) |
| lines | at least one; VatAmount kept as sent (u) |
| amounts | NetAmount, VatAmount, AmountPaid computed from the lines, whatever is sent |
| update | UpdateInvoice replaces the whole invoice (lines too); refused once payments are recorded (u) |
| customers | Code unique, at most 20 characters (u); Name required |
| no | void state (DeleteInvoice only), credit note operation, limits (none published), invoice modified-since |
"""

from bridge_assets.sandbox.kashflow.app import create_app
from bridge_assets.sandbox.kashflow.server import (AdminClient, EmulatorHandle, SpawnedEmulator, bridge_environment,
                                                   run_emulator, spawn_emulator)
from bridge_assets.sandbox.kashflow.settings import EmulatorSettings
