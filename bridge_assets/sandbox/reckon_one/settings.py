"""How one Reckon One emulator behaves; what the public material does not confirm is a field here."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    time_scale: float = 1.0
    clients: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {"bridge-sandbox-client": "bridge-sandbox-secret"})
    # Azure APIM subscription keys accepted (Profile > subscription key).
    subscription_keys: tuple[str, ...] = ("bridge-sandbox-subscription",)
    access_token_lifetime_s: float = 3600          # unconfirmed
    refresh_token_lifetime_s: float = 30 * 24 * 3600
    requests_per_minute: int = 60                  # APIM rate limiting; the figure is unconfirmed
    max_perpage: int = 100                         # unconfirmed
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
