"""A local emulator of Odoo 17's external API (XML-RPC), as the invoice bridge meets it.

A real HTTP server on loopback holding one Odoo database in SQLite (surviving restarts), serving
`/xmlrpc/2/common` and `/xmlrpc/2/object` as Odoo does (rpc.py), with account.move's state machine, the
reversal and payment wizards, lock dates and access rights (account.py, payments.py, models.py). Python's
own `xmlrpc.client.ServerProxy` talks to it unmodified. Admin endpoints: admin.py.

    python -m bridge_assets.sandbox.odoo --port 0 --state odoo.sqlite3
    run_emulator(state_path, settings) / spawn_emulator(...)      context managers (server.py)

Rules the public material does not settle, each chosen as the strictest plausible reading (facts with
sources: ../../../../shared/design/platforms/odoo.md):

| rule | the emulator's choice |
|---|---|
| writing a posted move | refused for every field (Odoo lets a few through, e.g. `ref`): reset to draft or reverse it |
| resetting to draft a move reconciled with a payment or credit | refused ("unreconcile it first") |
| reversing an invoice in full (`refund_moves`, `modify_moves`) | refused once anything is paid or credited on it |
| lock dates | Odoo 17's two: `fiscalyear_lock_date` binds everyone, `period_lock_date` binds all but Advisers; checked on post, reset to draft, reversal, payment and credit application, never on a draft's create |
| lock-date error text | "You cannot add/modify entries prior to and inclusive of the lock date MM/DD/YYYY." (+ the Adviser sentence for the period lock) |
| taxes | no `account.tax` records: a line with `tax_ids` is refused (the bridge carries the source's tax as a line) |
| access rights | Billing (`account.group_account_invoice`) for every accounting model and for creating products; internal users create contacts; Adviser to change lock dates |
| payments | one payment per partner (`group_payment`), allocated oldest due first; the rest stays open on the payment (`amount_unapplied`, the emulator's name for its outstanding credit) |
| payment cancel | `action_draft` (undoes its reconciliations) then `action_cancel`; a posted payment is never deleted |
| XML-RPC fault codes | 1 application error (traceback), 2 UserError/ValidationError, 3 access denied (bad login or key), 4 AccessError |
| rate limits | none published: none enforced; 429/5xx come only from injected faults (nginx pages) |
| numbering | per prefix and year (INV/2026/00001, RINV/2026/00001, PBNK1/2026/00001), assigned on first post, kept on reset |
"""

from bridge_assets.sandbox.odoo.app import create_app
from bridge_assets.sandbox.odoo.server import AdminClient, EmulatorHandle, SpawnedEmulator, run_emulator, spawn_emulator
from bridge_assets.sandbox.odoo.settings import ADVISER, BILLING, INTERNAL, EmulatorSettings

__all__ = ["ADVISER", "AdminClient", "BILLING", "EmulatorHandle", "EmulatorSettings", "INTERNAL", "SpawnedEmulator",
           "create_app", "run_emulator", "spawn_emulator"]
