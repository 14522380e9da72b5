"""How one Business Central emulator behaves: tenant, environment, company, the Entra app, the limits.

Every figure or choice the public material leaves open is a field here or a row of the rules table in
__init__.py. `time_scale` shrinks the rate-limit windows and token lifetimes, never the rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase

SCOPE = "https://api.businesscentral.dynamics.com/.default"


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    time_scale: float = 1.0
    tenant: str = "contoso.onmicrosoft.com"
    environment: str = "Production"
    company: str = "CRONUS USA, Inc."
    # Entra applications registered in Business Central (client id -> secret), granted API.ReadWrite.All.
    clients: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {"bridge-sandbox-app": "bridge-sandbox-app-secret"})
    access_token_lifetime_s: float = 3599
    # Per user / service principal: 6,000 requests in a sliding 5 minutes, 100 at once (facts §9).
    requests_per_5_minutes: int = 6000
    concurrent_requests: int = 100
    batch_max_operations: int = 100
    # The sign a customer payment journal line's amount must have (facts §5: unconfirmed; the error text
    # "The "amount" should be a negative number." exists, so negative is the strict default).
    payment_amount_sign: str = "negative"
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.payment_amount_sign not in ("negative", "positive"):
            raise ValueError("payment_amount_sign is negative or positive")
