"""How one NetSuite emulator behaves: the account, its OAuth 2.0 app, periods, concurrency.

Every figure the public material leaves open is a field here or a row of the rules table in __init__.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    time_scale: float = 1.0
    account: str = "1234567_SB1"
    clients: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {"bridge-sandbox-integration": "bridge-sandbox-integration-secret"})
    access_token_lifetime_s: float = 3600            # "valid during one hour"
    refresh_token_lifetime_s: float = 7 * 86400      # seven days (unconfirmed)
    concurrent_requests: int = 15                    # a shared account with one SuiteCloud Plus licence: 15
    first_period: str = "2026-01"
    months: int = 24
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
