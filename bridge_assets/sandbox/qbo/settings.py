"""How one emulator instance behaves: limits, token lifetimes, time scale, company defaults.

Every number here is QuickBooks Online's published value by default (API_FACTS.md). Tests shrink
time rather than the rules: `time_scale=60` makes an emulated minute last one real second, so the
500-requests-per-minute window, the one-hour access token and the 24-hour refresh-token rotation can
be exercised in a test run without changing what the client is told (`expires_in` stays 3600).

Calendar rules are *not* scaled: the CDC 30-day look-back and book-close dates compare real dates,
because they are about bookkeeping, not about waiting.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, Mapping

from bridge_assets.sandbox.kit.faults import DROP_MODES
from bridge_assets.sandbox.kit.settings import SettingsBase

REFRESH_TOKEN_ROTATION_POLICIES = ("always", "daily", "never")


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    # Emulated seconds per real second. 1.0 is real time.
    time_scale: float = 1.0

    # developer.intuit.com "limits and throttles": per company (realm) and per company+app.
    requests_per_minute: int = 500
    concurrent_requests: int = 10
    batch_requests_per_minute: int = 40
    # The facts also quote "10 requests/second"; Intuit's current page does not. Off unless set.
    requests_per_second: int | None = None
    batch_max_items: int = 30

    # OAuth 2.0 (emulated seconds, divided by time_scale when enforced).
    access_token_lifetime_s: int = 3600
    refresh_token_lifetime_s: int = 100 * 24 * 3600
    authorization_code_lifetime_s: int = 600
    # "always": every refresh issues a new refresh token (the old one is then invalid_grant).
    # "daily": the same value comes back until it is a day old (what Intuit documents).
    # "never": the refresh token value never changes.
    refresh_token_rotation: str = "always"
    refresh_token_rotation_period_s: int = 24 * 3600
    # How long a superseded refresh token still refreshes (a lost answer forgiven). Intuit: not at all.
    refresh_token_grace_s: float = 0
    clients: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {"bridge-sandbox-client": "bridge-sandbox-secret"}
    )

    # The company created at start-up so the emulator is usable with no set-up call.
    default_realm_id: str = "9341453000000000"
    create_default_company: bool = True
    company_name: str = "Sandbox Alarm Company"
    # Flat rate standing in for US automated sales tax (applied to lines with TaxCodeRef "TAX").
    sales_tax_rate: Decimal = Decimal("0.0825")
    custom_txn_numbers: bool = True
    warn_duplicate_doc_number: bool = True

    # requestid: whether a business fault (400) is replayed like a success. Intuit: "the service
    # sends the same response as it did for the original request", so yes by default.
    requestid_replays_faults: bool = True
    # How long a requestid is remembered (emulated seconds); None = for ever (undocumented upstream).
    requestid_ttl_s: float | None = None

    # Dropped responses: "reset" closes the socket with no byte sent, "502" answers like a gateway,
    # "timeout" holds the connection for request_timeout_s (Intuit: 120 s) and then closes it.
    drop_mode: str = "reset"
    request_timeout_s: float = 120.0
    # Initial fault plan for every company (same keys as POST /_emulator/faults).
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    # Webhooks (webhooks.py): where to POST signed change notifications, and the app's verifier
    # token they are signed with. No URL = no webhooks, as for an app that has not set them up.
    # Without a token here, QBO_WEBHOOK_VERIFIER_TOKEN is read from the environment (so a spawned
    # emulator never carries it on its command line).
    webhook_url: str | None = None
    webhook_verifier_token: str | None = None
    webhook_max_tries: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.refresh_token_rotation not in REFRESH_TOKEN_ROTATION_POLICIES:
            raise ValueError(
                f"refresh_token_rotation must be one of {REFRESH_TOKEN_ROTATION_POLICIES}, "
                f"not {self.refresh_token_rotation!r}"
            )
        if self.drop_mode not in DROP_MODES:
            raise ValueError(f"drop_mode must be one of {DROP_MODES}, not {self.drop_mode!r}")
        object.__setattr__(self, "sales_tax_rate", Decimal(str(self.sales_tax_rate)))
