"""QuickBooks Online's `read_back(since)`: the invoices, credit memos and payments as the books hold them.

A paged full read per entity (`STARTPOSITION`/`MAXRESULTS 1000`, reading.py's `_paged`), kept to the objects whose
`MetaData.LastUpdatedTime` is at or after `since`. The incremental mirror of mirror.py (change
data capture, deletes, name lists) stays the way the `quickbooks_mirror` asset reads a busy company;
this is the platform-neutral answer the interface promises every platform that reads back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from bridge_assets.destinations.base import BooksDocument, BooksView
from bridge_assets.destinations.qbo.books_view import books_view
from bridge_assets.destinations.qbo.payloads import (
    DOC_TYPE_BY_ENTITY,
    ENTITY_BY_DOC_TYPE,
    NUMBER_FIELD,
    is_voided,
    ref_value,
)



def utc(text: Any) -> dt.datetime | None:
    """A QuickBooks time stamp ("2026-09-01T10:33:39-07:00") as naive UTC; None when absent or unreadable."""
    try:
        moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def _money(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def books_document(entity: str, obj: dict[str, Any]) -> BooksDocument:
    """One QuickBooks transaction in the interface's neutral shape."""
    customer = obj.get("CustomerRef") or {}
    day = str(obj.get("TxnDate") or "")[:10]
    return BooksDocument(
        doc_type=DOC_TYPE_BY_ENTITY[entity],
        doc_number=(str(obj.get(NUMBER_FIELD[entity])) if obj.get(NUMBER_FIELD[entity]) else None),
        dest_id=str(obj["Id"]),
        txn_date=dt.date.fromisoformat(day) if day else None,
        customer=(customer.get("name") if isinstance(customer, dict) else None) or ref_value(customer),
        total=_money(obj.get("TotalAmt")),
        balance=_money(obj.get("UnappliedAmt" if entity == "Payment" else "Balance")),
        status="voided" if is_voided(obj) else "active",
        version=str(obj["SyncToken"]) if obj.get("SyncToken") is not None else None,
        changed_at=utc((obj.get("MetaData") or {}).get("LastUpdatedTime")),
    )


class ReadBackMixin:
    """read_back of QboDestination."""

    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        out: list[BooksDocument] = []
        for entity in ENTITY_BY_DOC_TYPE.values():
            for obj in self._read_all(entity):
                document = books_document(entity, obj)
                if since is None or document.changed_at is None or document.changed_at >= since:
                    out.append(document)
        return out

    def _read_all(self, entity: str) -> list[dict[str, Any]]:
        return self._paged(f"SELECT * FROM {entity} ORDERBY Id", entity,
                           f"QuickBooks Online company {self.realm_id} refused reading its {entity} list back")

    def books_view(self) -> BooksView:
        """How reconciliation reads this company's books: the `qbo_mirror` store (books_view.py)."""
        return books_view(self.name, str(self.realm_id))
