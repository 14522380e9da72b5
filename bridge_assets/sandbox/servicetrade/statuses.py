"""Invoice statuses and which changes ServiceTrade accepts through `PUT /api/invoice/{id}`.

The statuses are confirmed (API_FACTS.md). The transition table is NOT: ServiceTrade documents the
integration path (`pending_accounting` -> `processed` or `failed`) and that `void` is final; the rest
is our reading of how invoices move in the product (review, send, pay). It lives here, in one table,
and an emulator can add or remove edges through `EmulatorSettings.extra_transitions` /
`removed_transitions` (e.g. let accounting re-queue a processed invoice).

Setting an invoice to the status it already has is always accepted and changes nothing but the
fields sent with it (so a retried "processed" write-back is harmless).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

STATUSES: tuple[str, ...] = (
    "ok", "internal_review", "pending_accounting", "processed", "paid", "sent", "failed", "void",
)

# from -> the statuses it may move to. Confirmed: pending_accounting -> processed | failed, and
# nothing leaves void. Unconfirmed: everything else.
DEFAULT_TRANSITIONS: dict[str, frozenset[str]] = {
    "ok": frozenset({"internal_review", "pending_accounting", "sent", "void"}),
    "internal_review": frozenset({"ok", "pending_accounting", "void"}),
    "pending_accounting": frozenset({"processed", "failed", "ok", "internal_review", "void"}),
    # A failed invoice is fixed by a person and sent to accounting again (or accepted by hand).
    "failed": frozenset({"pending_accounting", "ok", "internal_review", "processed", "void"}),
    # Once accounting has it, ServiceTrade only moves it forward; re-queueing needs configuration.
    "processed": frozenset({"sent", "paid", "void"}),
    "sent": frozenset({"paid", "void"}),
    "paid": frozenset(),
    "void": frozenset(),
}


@dataclasses.dataclass(frozen=True)
class TransitionTable:
    allowed: dict[str, frozenset[str]]

    @classmethod
    def with_changes(cls, extra: Iterable[tuple[str, str]] = (),
                     removed: Iterable[tuple[str, str]] = ()) -> TransitionTable:
        allowed = {status: set(targets) for status, targets in DEFAULT_TRANSITIONS.items()}
        for source, target in extra:
            allowed[source].add(target)
        for source, target in removed:
            allowed[source].discard(target)
        return cls({status: frozenset(targets) for status, targets in allowed.items()})

    def permits(self, source: str, target: str) -> bool:
        return source == target or target in self.allowed.get(source, frozenset())

    def refusal(self, source: str, target: str) -> str:
        targets = sorted(self.allowed.get(source, frozenset()))
        if not targets:
            return f"An invoice in status '{source}' cannot change status"
        return f"Cannot change invoice status from '{source}' to '{target}'; allowed: {', '.join(targets)}"
