"""How one Oracle Fusion Receivables emulator behaves: the pod's users and privileges, business unit,
transaction source. Choices public material leaves open are fields here or rows of the table in __init__.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase

INVOICE_PRIV = "AR_CREATE_RECEIVABLES_INVOICE_PRIV"
CREDIT_PRIV = "AR_CREATE_RECEIVABLES_TRANSACTION_PRIV"
RECEIPT_PRIV = "AR_CREATE_RECEIPT_PRIV"
PRIVILEGES = (INVOICE_PRIV, CREDIT_PRIV, RECEIPT_PRIV)


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    time_scale: float = 1.0
    # user -> {"password": ..., "privileges": [...]}
    users: Mapping[str, Any] = dataclasses.field(default_factory=lambda: {
        "bridge.integration": {"password": "bridge-sandbox-password", "privileges": list(PRIVILEGES)}})
    business_unit: str = "US1 Business Unit"
    transaction_source: str = "Manual-NES"
    page_limit: int = 25
    # The demo's convenience: an unknown BillToCustomerNumber is made as an account on first use, as if a person
    # had made it beforehand (off in tests: the real pod refuses it).
    auto_customers: bool = False
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
