"""How one ServiceTrade emulator behaves. Every number or name that public material does not confirm is
a field here (or in the field map / transition table it points to), so a test can try the other reading.

Tests shrink time rather than the rules: `time_scale=60` makes an emulated minute last one second, so a
one-hour session or token dies in a minute of emulated time, while the API keeps telling the client
`expires_in: 3600`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bridge_assets.sandbox.kit.settings import SettingsBase
from bridge_assets.sandbox.servicetrade.statuses import STATUSES, TransitionTable
from bridge_assets.sandbox.servicetrade.fields import WireFields

LIMIT_POLICIES = ("cap", "refuse")


@dataclasses.dataclass(frozen=True)
class EmulatorSettings(SettingsBase):
    # Emulated seconds per real second. 1.0 is real time.
    time_scale: float = 1.0

    # Accounts present after start-up and after every reset.
    users: Mapping[str, str] = dataclasses.field(default_factory=lambda: {"bridge": "bridge-sandbox-password"})
    clients: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {"bridge-sandbox-client": "bridge-sandbox-secret"})

    # Sessions (POST /api/auth). The facts say a user has "a limited number" of sessions and the oldest
    # are dropped; the number and the idle timeout are unconfirmed.
    max_sessions_per_user: int = 5
    session_idle_timeout_s: float = 3600

    # OAuth2 (POST /api/oauth2/token). Lifetimes unconfirmed.
    access_token_lifetime_s: float = 3600
    refresh_token_lifetime_s: float = 30 * 24 * 3600
    # Whether a refresh_token grant returns a new refresh token and retires the old one.
    rotate_refresh_tokens: bool = True
    # How long a rotated refresh token still refreshes (a lost answer forgiven); unconfirmed, so none.
    refresh_token_grace_s: float = 0

    # GET /api/invoice paging: default and maximum `limit` are 2000 (facts). What happens above the
    # maximum is not documented: "cap" answers with at most `max_limit` records per page (and pages
    # counted on that), "refuse" answers 400 with a validation message for `limit`.
    default_limit: int = 2000
    max_limit: int = 2000
    limit_over_max: str = "cap"
    # Whether list answers carry each invoice's items (unconfirmed; GET /api/invoice/{id} always does).
    list_includes_items: bool = True
    # Whether each item carries its own tax amount besides the invoice's (unconfirmed).
    line_tax_amounts: bool = False

    # Status changes beyond the default table in statuses.py, as [from, to] pairs; e.g.
    # [["processed", "pending_accounting"]] for an account that lets accounting re-queue an invoice.
    extra_transitions: tuple[tuple[str, str], ...] = ()
    removed_transitions: tuple[tuple[str, str], ...] = ()

    # Overrides of the wire names in `WireFields` (fields.py), e.g. {"item_code": "itemName"}.
    field_map: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    # Webhooks (webhooks.py, which has the rules table and sources): where to POST a message for every
    # invoice created or changed; `{SERVICETRADE_WEBHOOK_SECRET}` in it is filled from the environment.
    # No URL = no messages, as for an account with no webhook registered.
    webhook_url: str | None = None
    webhook_max_tries: int = 3                 # then discarded for good
    webhook_timeout_s: float = 5.0             # real seconds to answer
    webhook_retry_pause_s: float = 60.0        # emulated seconds between tries (unconfirmed)
    webhook_include_changesets: bool = True
    webhook_duplicates: bool = False           # send every message twice (ServiceTrade may)

    # Initial fault plan (same keys as POST /_emulator/faults).
    faults: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_sessions_per_user < 1:
            raise ValueError("max_sessions_per_user must be at least 1")
        if self.limit_over_max not in LIMIT_POLICIES:
            raise ValueError(f"limit_over_max must be one of {LIMIT_POLICIES}, not {self.limit_over_max!r}")
        if not 1 <= self.default_limit <= self.max_limit:
            raise ValueError("default_limit must be between 1 and max_limit")
        for name in ("extra_transitions", "removed_transitions"):
            pairs = tuple(tuple(pair) for pair in getattr(self, name))
            for pair in pairs:
                if len(pair) != 2 or any(status not in STATUSES for status in pair):
                    raise ValueError(f"{name}: {list(pair)} is not a [from, to] pair of statuses {STATUSES}")
            object.__setattr__(self, name, pairs)
        WireFields.from_mapping(self.field_map)  # fail early on a typo
        if self.webhook_max_tries < 1 or self.webhook_timeout_s <= 0:
            raise ValueError("webhook_max_tries must be at least 1 and webhook_timeout_s positive")

    @property
    def fields(self) -> WireFields:
        return WireFields.from_mapping(self.field_map)

    @property
    def transitions(self) -> TransitionTable:
        return TransitionTable.with_changes(self.extra_transitions, self.removed_transitions)
