"""How one QuickFile emulator behaves; what the public material does not confirm is a field here."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    time_scale: float = 1.0
    # Calls a day per account for an app outside the API Partner Programme (facts: 1,000).
    calls_per_day: int = 1000
    # Largest ReturnCount of a search (facts: 200).
    max_return_count: int = 200
    # Methods an app may call unless its manifest says otherwise (the app ticks them in QuickFile).
    default_manifest: tuple[str, ...] = ("Client_Create", "Client_Search", "Invoice_Create", "Invoice_Get",
                                         "Invoice_Search", "Invoice_Delete", "System_GetAccountDetails")
    currency: str = "GBP"
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
