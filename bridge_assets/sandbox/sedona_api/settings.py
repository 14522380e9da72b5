"""How one SedonaAPI emulator behaves, including every choice the public material leaves open.

API_FACTS.md: "Auth scheme, error body and paging are not public." So each of them is a setting
here, with a plausible default, and the bridge's client (`bridge_assets/sources/sedona_api/client.py`) is
written to cope with every value. Nothing below is confirmed against a real tenant:

    auth_scheme          "token"   POST {token_path} with grant_type=password, username, password
                                   (an OWIN-style bearer token endpoint, as ASP.NET Web API hosts use)
                         "basic"   HTTP Basic on every request, no tokens
                         "api_key" a key in the `api_key_header` header on every request
    token_requires_api_key         the token request must also carry the API key header
    paging               "page"    ?page=1&pageSize=100  (1-based)
                         "skip"    ?skip=0&take=100
    max_page_size                  a larger request is silently cut to this (servers do that)
    envelope             "array"   a list answer is a bare JSON array
                         "object"  {"Items": [...], "Page"/"Skip": .., "PageSize"/"Take": .., "TotalCount": n}
    error_style          "webapi"  {"Message": "..."} (ASP.NET Web API's default error body)
                         "problem" RFC 7807 {"type", "title", "status", "detail"}
                         "text"    plain text
    timestamp_format     "sedona"  ModifiedDate as "MM/DD/YYYY HH:MM:SS"
                         "iso"     ModifiedDate as "YYYY-MM-DDTHH:MM:SS"
    invoice_amount_includes_tax    CustomerInvoice.Amount is the total (True) or the pre-tax amount
                                   (False). CustomerCredit.Amount excludes tax (a fact), always.

Dates (`MM/DD/YYYY`, `12/30/1899` for none) and the accounting-period statuses are facts, not settings.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from bridge_assets.sandbox.kit.settings import SettingsBase

AUTH_SCHEMES = ("token", "basic", "api_key")
PAGING_STYLES = ("page", "skip")
ENVELOPES = ("array", "object")
ERROR_STYLES = ("webapi", "problem", "text")
TIMESTAMP_FORMATS = ("sedona", "iso")


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    # Credentials the emulated tenant accepts (sandbox values; nothing real).
    auth_scheme: str = "token"
    username: str = "bridge"
    password: str = "sandbox-password"
    api_key: str = "sandbox-api-key"
    api_key_header: str = "X-API-Key"
    token_path: str = "/api/token"
    token_requires_api_key: bool = False
    token_lifetime_s: int = 1800

    paging: str = "page"
    default_page_size: int = 100
    max_page_size: int = 500
    envelope: str = "array"
    error_style: str = "webapi"
    timestamp_format: str = "sedona"
    invoice_amount_includes_tax: bool = False

    # When a book is seeded: how many of its latest periods are Open (earlier ones Closed, the month
    # after the book Future). Several periods may be open at once in SedonaOffice.
    open_periods: int = 2

    # Initial fault plan (same keys as POST /_emulator/faults).
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, value, choices in (
            ("auth_scheme", self.auth_scheme, AUTH_SCHEMES),
            ("paging", self.paging, PAGING_STYLES),
            ("envelope", self.envelope, ENVELOPES),
            ("error_style", self.error_style, ERROR_STYLES),
            ("timestamp_format", self.timestamp_format, TIMESTAMP_FORMATS),
        ):
            if value not in choices:
                raise ValueError(f"{name} must be one of {choices}, not {value!r}")
        if not self.token_path.startswith("/api/"):
            raise ValueError(f"token_path must live under the tenant base path /api/, not {self.token_path!r}")
        if self.default_page_size < 1 or self.max_page_size < 1:
            raise ValueError("page sizes must be at least 1")
        if self.open_periods < 0:
            raise ValueError("open_periods cannot be negative")

    def public_mapping(self) -> dict[str, Any]:
        """What GET /_emulator/settings shows: the credentials stay out of answers and logs."""
        values = self.to_mapping()
        for secret in ("password", "api_key"):
            values[secret] = "***"
        return values
