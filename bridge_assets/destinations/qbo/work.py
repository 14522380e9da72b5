"""What one write to QuickBooks is made of: request ids, the write, its result, one request on its way."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Sequence

from bridge_assets.destinations.base import Outcome, PostRequest
from bridge_assets.destinations.qbo.client import QboFault
from bridge_assets.destinations.qbo.payloads import label
from bridge_assets.model.document import AccountingDocument

REQUEST_ID_NAMESPACE = uuid.UUID("3b6f0a52-2d7e-4c8e-9f0e-5a1c7d4b9e21")


def request_id_for(item_id: str) -> str:
    """A requestid (36 characters) for one write: the ledger's own id when the item id is one."""
    try:
        if len(item_id) == 36 and str(uuid.UUID(item_id)) == item_id:
            return item_id
    except ValueError:
        pass
    return str(uuid.uuid5(REQUEST_ID_NAMESPACE, item_id))


def batch_request_id(item_ids: Sequence[str]) -> str:
    """One requestid for a batch: deterministic in its items and their order, 36 characters."""
    return str(uuid.uuid5(REQUEST_ID_NAMESPACE, "batch|" + "|".join(item_ids)))

@dataclasses.dataclass
class _Write:
    entity: str
    operation: str               # create | update | delete | void
    body: dict[str, Any]
    item_id: str                 # what the requestid is derived from
    include: tuple[str, ...] = ()


@dataclasses.dataclass
class _Result:
    entity: dict[str, Any] | None = None
    faults: list[QboFault] = dataclasses.field(default_factory=list)
    http_status: int | None = None


@dataclasses.dataclass
class _Work:
    """One PostRequest on its way through a phase."""

    request: PostRequest
    entity: str
    write: _Write | None = None
    current: dict[str, Any] | None = None     # what QuickBooks held before an update
    outcome: Outcome | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def document(self) -> AccountingDocument:
        return self.request.document

    @property
    def label(self) -> str:
        return label(self.request.document)
