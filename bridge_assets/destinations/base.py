"""The destination boundary: the one small interface the posting code knows.

The posting code never knows which accounting system is on the other side. An adapter says what it
can do (`Capabilities`), turns one planned action into one `Outcome`, finds a document by number when
an earlier attempt has an unknown outcome, and undoes what it did.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence

from bridge_assets.model.document import AccountingDocument
from bridge_assets.model.outcome import Action, Outcome, Status

__all__ = ["Action", "Capabilities", "Destination", "DestinationError", "Outcome", "PostRequest", "Status"]


@dataclasses.dataclass(frozen=True)
class Capabilities:
    supports_update: bool
    supports_void: bool
    honours_request_id: bool
    batch_size: int
    reads_back: bool


@dataclasses.dataclass(frozen=True)
class PostRequest:
    action: Action
    document: AccountingDocument
    request_id: str
    dest_id: str | None = None          # for update / void: the destination's id
    version: str | None = None          # for update / void: the version last seen
    previous: dict | None = None        # for update: what was last sent (from the ledger's events)


class Destination(Protocol):
    name: str
    capabilities: Capabilities

    def begin_run(self, run_id: str, period: str) -> None:
        """Called once per run and period before any post (file adapters pick their file name here)."""

    def end_run(self) -> list[str]:
        """Called once at the end; returns human-readable locations of what was written."""

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        """Customers and items, matched or created per policy. Returns {doc_key: problem} for failures."""

    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        """Send up to `capabilities.batch_size` requests; one Outcome per request, in order."""

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """Look a document up by number (for a `sending` row whose outcome is unknown)."""

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        """Void an invoice, delete a credit memo or payment: VOIDED when done. Reads before it writes, so
        asking again after a lost answer is recognised as already done (revert relies on this)."""

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        """Put a document back as `before` (a state an update event saved): UPDATED when done. A document
        already holding that state is not written again (revert relies on this)."""

    def is_period_open(self, txn_date) -> bool:
        ...

    def book_close_date(self):
        """The date the books are closed through (None: nothing closed). Documents dated on or before it
        are held, not sent; the replay sensor notices when it moves and posts them once."""


class DestinationError(Exception):
    """A destination cannot be used at all (bad configuration, unreachable folder). The message says what to do."""
