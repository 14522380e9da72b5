"""SedonaAPI settings and errors: what the client needs to reach one tenant, read from SEDONA_API_*.

The settings are listed in `client.py`'s docstring; an invalid one is refused here with the name of
the variable to fix. Secrets (password, key) are never part of `repr` or of any message.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping

ENV = {
    "base_url": "SEDONA_API_BASE_URL",
    "username": "SEDONA_API_USERNAME",
    "password": "SEDONA_API_PASSWORD",
    "api_key": "SEDONA_API_KEY",
    "auth_scheme": "SEDONA_API_AUTH",
    "token_path": "SEDONA_API_TOKEN_PATH",
    "api_key_header": "SEDONA_API_KEY_HEADER",
    "paging": "SEDONA_API_PAGING",
    "page_size": "SEDONA_API_PAGE_SIZE",
    "timeout_s": "SEDONA_API_TIMEOUT_S",
    "max_attempts": "SEDONA_API_MAX_ATTEMPTS",
}
AUTH_SCHEMES = ("token", "basic", "api_key")
PAGING_STYLES = ("page", "skip")


# --- errors --------------------------------------------------------------------------------------

class SedonaApiError(Exception):
    """A SedonaAPI call failed; the message says which call and what to do."""


class SedonaApiConfigError(SedonaApiError):
    pass


class SedonaApiAuthError(SedonaApiError):
    pass


class SedonaApiUnavailable(SedonaApiError):
    """Still failing after every retry."""


class SedonaApiAnswerError(SedonaApiError):
    """An answer the client cannot read (shape, paging, time stamps)."""


# --- configuration -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SedonaApiConfig:
    base_url: str
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    api_key: str = dataclasses.field(default="", repr=False)
    auth_scheme: str = "token"
    token_path: str = "token"
    api_key_header: str = "X-API-Key"
    paging: str = "page"
    page_size: int = 200
    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_s: float = 0.5
    backoff_max_s: float = 20.0

    def __post_init__(self) -> None:
        if not self.base_url:
            raise SedonaApiConfigError(f"no SedonaAPI address: set {ENV['base_url']} to the tenant's API base URL, "
                                       "e.g. https://<tenant>api.sedonaoffice.com/api/")
        if self.auth_scheme not in AUTH_SCHEMES:
            raise SedonaApiConfigError(f"{ENV['auth_scheme']} is {self.auth_scheme!r}; use one of {', '.join(AUTH_SCHEMES)}")
        if self.paging not in PAGING_STYLES:
            raise SedonaApiConfigError(f"{ENV['paging']} is {self.paging!r}; use one of {', '.join(PAGING_STYLES)}")
        if self.auth_scheme in ("token", "basic") and not (self.username and self.password):
            raise SedonaApiConfigError(f"SedonaAPI {self.auth_scheme} authentication needs {ENV['username']} and "
                                       f"{ENV['password']}; set both (the password is never logged)")
        if self.auth_scheme == "api_key" and not self.api_key:
            raise SedonaApiConfigError(f"SedonaAPI api_key authentication needs {ENV['api_key']}")
        if self.page_size < 1 or self.max_attempts < 1:
            raise SedonaApiConfigError(f"{ENV['page_size']} and {ENV['max_attempts']} must be at least 1")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/") + "/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "SedonaApiConfig":
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field, name in ENV.items():
            text = environ.get(name, "").strip()
            if text:
                values[field] = text
        try:
            for field, kind in (("page_size", int), ("max_attempts", int), ("timeout_s", float)):
                if field in values:
                    values[field] = kind(values[field])
        except ValueError as problem:
            raise SedonaApiConfigError(f"a numeric SEDONA_API_* setting is not a number: {problem}") from None
        values.setdefault("base_url", "")
        return cls(**{**values, **overrides})

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.api_key) if s)

