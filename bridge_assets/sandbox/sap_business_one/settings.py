"""How one SAP Business One Service Layer emulator behaves: the company database, users, session timeout,
page size. Choices public material leaves open are fields here or rows of the rules table in __init__.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    time_scale: float = 1.0
    company_db: str = "SBODEMOUS"
    users: Mapping[str, str] = dataclasses.field(default_factory=lambda: {"manager": "bridge-sandbox-password"})
    session_timeout_min: int = 30          # SessionTimeout: idle minutes, renewed by every call
    page_size: int = 20                    # without Prefer: odata.maxpagesize
    max_page_size: int = 1000
    first_period: str = "2026-01"
    months: int = 24
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
