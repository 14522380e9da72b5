"""How one Xero emulator behaves: limits, token lifetimes, time scale, the organisation made at start.

Every number is Xero's published value by default (../shared/design/platforms/xero.md). Tests shrink
time, not the rules: `time_scale=60` makes an emulated minute last a real second, so the 60-a-minute
window, the 30-minute access token and the 30-minute refresh grace can be crossed in a test. Calendar
rules (lock dates) are not scaled.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, Mapping

from bridge_assets.sandbox.kit.faults import DROP_MODES
from bridge_assets.sandbox.kit.settings import SettingsBase

DEFAULT_TENANT_ID = "7d2c4f1e-5b3a-4c8d-9e6f-0a1b2c3d4e5f"


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    time_scale: float = 1.0

    # developer.xero.com/faq/limits: per organisation (tenant) and app.
    requests_per_minute: int = 60
    requests_per_day: int = 5000
    concurrent_requests: int = 5
    app_requests_per_minute: int = 10000

    # OAuth 2.0 (developer.xero.com/faq/oauth2), emulated seconds.
    access_token_lifetime_s: int = 1800
    refresh_token_lifetime_s: int = 60 * 24 * 3600
    refresh_token_grace_s: float = 1800
    authorization_code_lifetime_s: int = 300
    clients: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {"bridge-sandbox-client": "bridge-sandbox-secret"})

    default_tenant_id: str = DEFAULT_TENANT_ID
    organisation_name: str = "Sandbox Alarm Company (Xero)"
    create_default_organisation: bool = True
    # Tax rates of the organisation (GET /TaxRates): TaxType -> effective rate.
    tax_rates: Mapping[str, Decimal] = dataclasses.field(
        default_factory=lambda: {"OUTPUT": Decimal("0.0825"), "NONE": Decimal("0"), "EXEMPTOUTPUT": Decimal("0")})

    page_size: int = 100
    # How long an Idempotency-Key is remembered (emulated seconds); None = for ever (unconfirmed upstream).
    idempotency_ttl_s: float | None = None

    drop_mode: str = "reset"
    request_timeout_s: float = 120.0
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    # Webhooks: where to POST signed events, and the webhook key (else XERO_WEBHOOK_KEY from the
    # environment, so a spawned emulator never carries it on its command line).
    webhook_url: str | None = None
    webhook_key: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.drop_mode not in DROP_MODES:
            raise ValueError(f"drop_mode must be one of {DROP_MODES}, not {self.drop_mode!r}")
        object.__setattr__(self, "tax_rates", {k: Decimal(str(v)) for k, v in dict(self.tax_rates).items()})
