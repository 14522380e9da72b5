"""What every emulator's `EmulatorSettings` shares: built from JSON-ish values, handed back as JSON.

    @dataclasses.dataclass(frozen=True)
    class EmulatorSettings(SettingsBase):
        time_scale: float = 1.0
        ...

`from_mapping` refuses a key it does not know (a typo in a test's settings fails loudly instead of
silently testing the default); `to_mapping` is its inverse, JSON-serialisable, which is how settings
reach an emulator started as its own process (`--settings-json`) and what GET /_emulator/settings
shows. `real_seconds` is how long an emulated duration lasts on the wall clock: tests shrink time
(`time_scale=60` makes a minute last a second), never the rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

S = TypeVar("S")


def refuse_unknown(values: Mapping[str, Any], known: Iterable[str], what: str) -> None:
    """ValueError naming the unknown keys of `values` and the known ones (`what`: "fault settings")."""
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; known: {sorted(known)}")


def settings_from_mapping(settings_type: type[S], values: Mapping[str, Any] | None,
                          what: str = "emulator settings") -> S:
    """A settings dataclass from JSON-ish values; an unknown key is a ValueError naming the known ones."""
    values = dict(values or {})
    refuse_unknown(values, [f.name for f in dataclasses.fields(settings_type)], what)
    return settings_type(**values)


def plain(value: Any) -> Any:
    """`value` as JSON can carry it: mappings as dicts, tuples as lists, Decimals as their text."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


class SettingsBase:
    """Mixed into each emulator's frozen settings dataclass."""

    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive (60 makes a minute last one second)")

    @classmethod
    def from_mapping(cls: type[S], values: Mapping[str, Any] | None) -> S:
        """Build from JSON-ish values (the CLI's --settings-json); unknown keys are an error."""
        return settings_from_mapping(cls, values)

    def to_mapping(self) -> dict[str, Any]:
        """The inverse of from_mapping, JSON-serialisable (used to hand settings to a subprocess)."""
        return plain({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    def real_seconds(self, emulated_seconds: float) -> float:
        """How long an emulated duration lasts on the wall clock."""
        return emulated_seconds / self.time_scale
