"""Reading one platform's settings from the environment (a mapping), with sentences naming the variable.

    env = Env(os.environ, "FreshBooks")
    env.require("FRESHBOOKS_CLIENT_ID", "FRESHBOOKS_CLIENT_SECRET", where="the app's keys from ...")
    env.text("FRESHBOOKS_API_URL", default)   env.flag("..._AUTO_CREATE_CUSTOMERS", True)   env.number(...)

Every refusal is a `DestinationError` saying which variable is wrong and what it should hold. Values are
never echoed for names that hold secrets (`SECRET`, `TOKEN`, `KEY`, `PASSWORD` in the name).
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping

from bridge_assets.destinations.base import DestinationError

SECRET_WORDS = ("SECRET", "TOKEN", "KEY", "PASSWORD")


class Env:
    def __init__(self, environ: Mapping[str, str], platform: str) -> None:
        self.environ, self.platform = environ, platform

    def _shown(self, name: str, value: str) -> str:
        return "(hidden)" if any(word in name for word in SECRET_WORDS) else repr(value)

    def text(self, name: str, default: str | None = None) -> str | None:
        value = (self.environ.get(name) or "").strip()
        return value or default

    def require(self, *names: str, where: str) -> None:
        missing = [name for name in names if not self.text(name)]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise DestinationError(f"{self.platform} is configured as a destination but {' and '.join(missing)} "
                                   f"{verb} not set; set {where}")

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise DestinationError(f"{name} must be true or false, not {self._shown(name, value)}")

    def number(self, name: str, default: float) -> float:
        value = self.text(name)
        try:
            return default if value is None else float(value)
        except ValueError:
            raise DestinationError(f"{name} must be a number, not {self._shown(name, value)}") from None

    def date(self, name: str) -> dt.date | None:
        value = self.text(name)
        try:
            return None if value is None else dt.date.fromisoformat(value)
        except ValueError:
            raise DestinationError(f"{name} must be a date written YYYY-MM-DD, not {value!r}") from None
