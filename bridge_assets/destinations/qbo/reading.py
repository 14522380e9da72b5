"""Reading QuickBooks: look-ups by number or Id, single reads, and the company's preferences (closing date)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Iterable

from bridge_assets.destinations.base import DestinationError, Outcome, Status
from bridge_assets.destinations.qbo.client import QboUnavailable
from bridge_assets.destinations.qbo.payloads import LABEL, NUMBER_FIELD, entity_for, is_voided, query_literal

QUERY_CHUNK = 100
QUERY_PAGE = 1000


class ReadingMixin:
    """find, the closing date and the query helpers of QboDestination."""

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        entity = entity_for(doc_type)
        rows = [r for r in self._query_in(entity, NUMBER_FIELD[entity], [doc_number]) if not is_voided(r)]
        if not rows:
            return None
        row = rows[0]
        return Outcome(Status.CREATED, dest_id=str(row["Id"]), dest_doc_number=str(row.get(NUMBER_FIELD[entity])),
                       version=str(row.get("SyncToken")), http_status=200, after=row,
                       message=f"{LABEL[entity]} {doc_number} found in QuickBooks (Id {row['Id']})")

    def is_period_open(self, txn_date) -> bool:
        close = self._book_close_date()
        if close is None:
            return True
        day = txn_date.date() if isinstance(txn_date, dt.datetime) else txn_date
        if isinstance(day, str):
            day = dt.date.fromisoformat(day[:10])
        return day > close

    def book_close_date(self) -> dt.date | None:
        """QuickBooks' closing date (Preferences.AccountingInfoPrefs.BookCloseDate), read now: the replay
        sensor watches it move. Raises QboUnavailable when QuickBooks does not answer."""
        return self._book_close_date(fresh=True)

    def _book_close_date(self, fresh: bool = False) -> dt.date | None:
        raw = (self._company_preferences(fresh).get("AccountingInfoPrefs") or {}).get("BookCloseDate")
        return dt.date.fromisoformat(str(raw)[:10]) if raw else None

    def _close_date_for_message(self) -> dt.date | None:
        try:
            return self._book_close_date(fresh=True)
        except QboUnavailable:
            return None

    def _company_preferences(self, fresh: bool = False) -> dict[str, Any]:
        if self._preferences is None or fresh:
            answer = self.client.get("/preferences")
            if not answer.ok:
                raise DestinationError(
                    f"QuickBooks Online company {self.realm_id} did not give its preferences: "
                    f"{answer.faults[0].text() if answer.faults else answer.status}")
            self._preferences = answer.body.get("Preferences") or {}
            self._preferences_read_at = time.monotonic()
        return self._preferences

    def _read(self, entity: str, entity_id: str) -> dict[str, Any] | None:
        answer = self.client.get(f"/{entity.lower()}/{entity_id}")
        if answer.ok and isinstance(answer.body, dict):
            return answer.body.get(entity)
        if any(f.code == "610" for f in answer.faults):
            return None
        fault = answer.faults[0] if answer.faults else None
        raise DestinationError(f"QuickBooks Online could not read {LABEL.get(entity, entity)} Id {entity_id}: "
                               f"{fault.text() if fault else answer.status}")

    def _query_in(self, entity: str, field: str, values: Iterable[str], also: str | None = None) -> list[dict[str, Any]]:
        """Every object whose `field` is one of `values` (quoted and escaped), in pages."""
        values = sorted({str(v) for v in values if str(v)})
        rows: list[dict[str, Any]] = []
        for start in range(0, len(values), QUERY_CHUNK):
            where = f"{field} IN ({', '.join(query_literal(v) for v in values[start:start + QUERY_CHUNK])})"
            if also:
                where += f" AND {also}"
            rows.extend(self._paged(f"SELECT * FROM {entity} WHERE {where}", entity,
                                    f"QuickBooks Online refused a look-up of {entity} by {field}"))
        return rows

    def _paged(self, select: str, entity: str, refused: str) -> list[dict[str, Any]]:
        """Every page of one query (`select` without its STARTPOSITION/MAXRESULTS); DestinationError
        starting with `refused` when QuickBooks does not answer it."""
        rows: list[dict[str, Any]] = []
        position = 1
        while True:
            answer = self.client.query(f"{select} STARTPOSITION {position} MAXRESULTS {QUERY_PAGE}")
            if not answer.ok or not isinstance(answer.body, dict):
                fault = answer.faults[0].text() if answer.faults else f"HTTP {answer.status}"
                raise DestinationError(f"{refused}: {fault}")
            page = (answer.body.get("QueryResponse") or {}).get(entity) or []
            rows.extend(page)
            if len(page) < QUERY_PAGE:
                return rows
            position += QUERY_PAGE

    def _ids(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The current objects for (entity, Id) pairs, one query per entity; deleted ones are absent."""
        wanted = list(wanted)
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for entity in sorted({entity for entity, _ in wanted}):
            for row in self._query_in(entity, "Id", [i for e, i in wanted if e == entity]):
                found[(entity, str(row["Id"]))] = row
        return found
