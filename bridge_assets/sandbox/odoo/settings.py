"""How one Odoo emulator behaves: the database, its users and what each may do, its clock.

Every choice public material does not settle is a field here or a row of RULES.md, so a test can try
the other reading. `time_scale` only speeds up the emulator's clock (write_date), never the rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase

# The groups an Odoo 17 user can hold that the emulator checks (res.groups xml ids).
BILLING = "account.group_account_invoice"        # Invoicing / Billing: invoices, credit notes, payments
ADVISER = "account.group_account_manager"        # Accounting / Adviser: lock dates, posts past period_lock_date
INTERNAL = "base.group_user"
GROUPS = (INTERNAL, BILLING, ADVISER)


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    time_scale: float = 1.0
    database: str = "bridge-sandbox"
    company: str = "Sample Alarm Co (sandbox)"
    # login -> {"password": ..., "groups": [...]}: users present after start-up and after every reset.
    # The password doubles as the API key (Odoo accepts either in `authenticate` and `execute_kw`).
    users: Mapping[str, Any] = dataclasses.field(default_factory=lambda: {
        "bridge@example.com": {"password": "bridge-sandbox-api-key", "groups": [INTERNAL, BILLING]},
        "admin": {"password": "admin-sandbox-password", "groups": [INTERNAL, BILLING, ADVISER]},
    })
    server_version: str = "17.0"
    # Initial fault plan (same keys as POST /_emulator/faults).
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        for login, user in self.users.items():
            if not isinstance(user, Mapping) or not user.get("password"):
                raise ValueError(f"user {login!r} needs a password")
            unknown = set(user.get("groups") or ()) - set(GROUPS)
            if unknown:
                raise ValueError(f"user {login!r}: unknown groups {sorted(unknown)}; known: {list(GROUPS)}")
