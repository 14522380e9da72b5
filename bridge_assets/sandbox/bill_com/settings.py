"""How one BILL emulator behaves; what the public material does not confirm is a field here."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    time_scale: float = 1.0
    dev_keys: tuple[str, ...] = ("bridge-sandbox-devkey",)
    session_idle_s: float = 35 * 60                 # "expires after 35 minutes of inactivity"
    requests_per_hour: int = 20_000                 # per devKey -> BDC_1144
    logins_per_hour: int = 200                      # per devKey
    concurrent_per_org: int = 3                     # per devKey and organization -> BDC_1322
    max_page: int = 100                             # largest `max` of a list (unconfirmed)
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
