"""How one KashFlow emulator behaves."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    time_scale: float = 1.0
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
