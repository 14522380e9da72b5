"""How one Wave emulator behaves; every number the public material does not confirm is a field here.

Tests shrink time rather than the rules: `time_scale=60` makes an emulated minute last one second.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    time_scale: float = 1.0
    # OAuth apps present after start-up and after every reset (client id -> secret).
    clients: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {"bridge-sandbox-client": "bridge-sandbox-secret"})
    # Access tokens: "the connection expires after ~2 hours" without offline_access (facts); refresh
    # tokens rotate on every use (unconfirmed: the strictest reading).
    access_token_lifetime_s: float = 7200
    refresh_token_lifetime_s: float = 90 * 24 * 3600
    # Limits (Apideck's figures, unconfirmed from Wave): per access token per minute, per application per day.
    requests_per_minute: int = 60
    requests_per_day: int = 5000
    retry_after_s: int = 60
    # Connections: largest pageSize accepted (unconfirmed; above it the query is refused).
    max_page_size: int = 100
    currency: str = "USD"
    # Initial fault plan (same keys as POST /_emulator/faults).
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.requests_per_minute < 1 or self.requests_per_day < 1 or self.max_page_size < 1:
            raise ValueError("limits and max_page_size must be at least 1")
