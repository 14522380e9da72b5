"""A local emulator of Oracle Fusion Cloud Financials Receivables REST, as the invoice bridge meets it.

A real HTTP server on loopback holding one pod's receivables in SQLite (surviving restarts): Basic auth with the
privileges of facts §1, receivables invoices and on-account credit memos (Complete / Incomplete), their narrow
PATCH, DELETE of incomplete ones, standard receipts with `applyReceipt` and `reverseReceipt`, closed AR periods.
Routes: rest.py; rules: receivables.py; admin endpoints: admin.py.

    python -m bridge_assets.sandbox.oracle_fusion_receivables --port 0 --state ar.sqlite3
    run_emulator(state_path, settings) / spawn_emulator(...)                  (server.py)

Rules the public material does not settle, each the strictest plausible reading (facts with sources:
../../../../shared/design/platforms/oracle_fusion_receivables.md):

| rule | the emulator's choice |
|---|---|
| customers | customer accounts are not made through this API: an unknown `BillToCustomerNumber` is `AR_BILL_TO_CUST_NOT_FOUND` (the demo's sandbox sets `auto_customers`, standing for a person who made them beforehand) |
| transaction numbers | the source numbers manually; `TransactionNumber` unique within the source, incomplete transactions included: `AR_TRX_NUMBER_NOT_UNIQUE` |
| PATCH | only `InvoiceStatus`, `PaymentTerms`, `TransactionDate`; Incomplete refused once receipts are applied (`AR_TRX_HAS_ACTIVITY`) |
| DELETE | incomplete transactions only (`AR_DELETE_COMPLETE_TRX`) |
| closed AR period | completing, receipting, applying or making incomplete with an accounting date in it: 400 `AR_GL_DATE_CLOSED` (code and text unconfirmed); periods are read by no resource here (the bridge's closing date is configured) |
| credit memos | on account only; no REST action applies one to an invoice (SOAP's ApplyOnAccountCreditMemo is not emulated) |
| receipts | `ReceiptNumber` unique per customer among unreversed receipts; `applyReceipt` takes the invoice's installment id; `reverseReceipt` (26d) undoes the receipt and its applications |
| error body | `{"title", "status", "o:errorDetails": [{"detail", "o:errorCode"}]}` with the message names of the catalogue; 401 is a plain text answer |
| tax | Oracle Tax is not emulated: the bridge carries the source's tax as a line |
| limits | none published: none; 25 a page unless `limit` |
"""

from bridge_assets.sandbox.oracle_fusion_receivables.app import create_app
from bridge_assets.sandbox.oracle_fusion_receivables.server import (
    AdminClient, EmulatorHandle, SpawnedEmulator, run_emulator, spawn_emulator,
)
from bridge_assets.sandbox.oracle_fusion_receivables.settings import EmulatorSettings

__all__ = ["AdminClient", "EmulatorHandle", "EmulatorSettings", "SpawnedEmulator", "create_app", "run_emulator",
           "spawn_emulator"]
