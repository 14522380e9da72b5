"""What the bridge asks a destination to do (Action) and what came of it (Status, Outcome).

Shared by the ledger, posting and every destination; `destinations.base` uses them in the interface.
"""

from __future__ import annotations

import dataclasses
import enum


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"
    VOID = "void"
    HOLD = "hold"


class Status(str, enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    VOIDED = "voided"
    HELD = "held"          # the destination's period is closed; post again when it reopens
    FAILED = "failed"      # permanent: a person must act (the message says what)
    RETRY = "retry"        # transient: throttled, unavailable, outcome unknown; safe to send again


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: Status
    dest_id: str | None = None
    dest_doc_number: str | None = None
    version: str | None = None          # SyncToken / EditSequence / file generation
    http_status: int | None = None
    error_code: str | None = None
    message: str | None = None          # a sentence a bookkeeper can act on
    before: dict | None = None          # the destination's state before this action
    after: dict | None = None           # what the destination holds (or was sent) afterwards


# The error codes of outcomes a destination can never produce itself: the ledger records them once as
# `by_hand` (a person enters the change), never retries them. One per capability a platform may lack.
BY_HAND_CODES = {
    "supports_update": "update_unsupported",
    "links_payments": "payment_unsupported",
    "supports_void": "void_unsupported",
    "restores": "restore_unsupported",
}
