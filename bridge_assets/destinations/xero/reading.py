"""Looking documents up, the lock dates, and reading the books back (`read_back`, `books_view`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import time
from typing import Any, Sequence

from bridge_assets.destinations.base import BooksDocument, BooksView, Outcome, Status, neutral_books_view
from bridge_assets.destinations.xero.payloads import (INVOICE, KINDS, PAYMENT, Kind, books_document, decimal,
                                                      xero_date)

LOCK_TTL_S = 60.0          # emulated seconds a read of the lock dates is trusted
NUMBERS_PER_CALL = 50


class ReadingMixin:
    def _by_number(self, kind: Kind, numbers: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Documents holding these numbers, with their lines (voided and deleted too)."""
        found: dict[str, list[dict[str, Any]]] = {}
        numbers = sorted(set(numbers))
        for start in range(0, len(numbers), NUMBERS_PER_CALL):
            chunk = numbers[start:start + NUMBERS_PER_CALL]
            if kind is PAYMENT:
                rows = [r for refs in self._batch_payments_by_reference(set(chunk)).values() for r in refs]
            else:
                rows = self._read_all(kind.collection, {f"{kind.number_field}s": ",".join(chunk)})
            for row in rows:
                found.setdefault(str(row.get(kind.number_field)), []).append(row)
        return found

    def _by_ids(self, kind: Kind, ids: Sequence[str]) -> list[dict[str, Any]]:
        ids = sorted(set(ids))
        rows = []
        for start in range(0, len(ids), NUMBERS_PER_CALL):
            if kind is PAYMENT:
                for ref in ids[start:start + NUMBERS_PER_CALL]:
                    answer = self.client.get(f"/BatchPayments/{ref}")
                    rows.extend(answer.body.get("BatchPayments") or [] if answer.ok else [])
            else:
                rows.extend(self._read_all(kind.collection, {"IDs": ",".join(ids[start:start + NUMBERS_PER_CALL])}))
        return rows

    def _one(self, kind: Kind, dest_id: str) -> dict[str, Any] | None:
        found = self._by_ids(kind, [dest_id])
        return found[0] if found else None

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        kind = KINDS[doc_type]
        held = [d for d in self._by_number(kind, [doc_number]).get(doc_number, []) if d.get("Status") != "DELETED"]
        if not held:
            return None
        row = held[-1]
        return Outcome(Status.CREATED, dest_id=str(row[kind.id_field]), dest_doc_number=doc_number, http_status=200,
                       version=str(row.get("UpdatedDateUTC") or ""), after=row)

    # --- lock dates --------------------------------------------------------------------------------

    def book_close_date(self, fresh: bool = False) -> dt.date | None:
        """The later of Xero's PeriodLockDate and EndOfYearLockDate (None: nothing locked)."""
        if fresh or self._lock_read_at is None or time.monotonic() - self._lock_read_at > self.limits.seconds(LOCK_TTL_S):
            answer = self.client.get("/Organisation")
            if not answer.ok:
                raise self._refused_read("Organisation", answer)
            organisation = (answer.body.get("Organisations") or [{}])[0]
            dates = [xero_date(organisation.get(f)) for f in ("PeriodLockDate", "EndOfYearLockDate")]
            self._lock_date = max((d for d in dates if d), default=None)
            self._lock_read_at = time.monotonic()
        return self._lock_date

    def is_period_open(self, txn_date) -> bool:
        close = self.book_close_date()
        return close is None or txn_date > close

    # --- reading back ------------------------------------------------------------------------------

    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        headers = None
        if since is not None:
            stamp = since.replace(tzinfo=dt.timezone.utc).timestamp()
            headers = {"If-Modified-Since": email.utils.formatdate(stamp, usegmt=True)}
        documents = []
        for kind in (INVOICE, KINDS["credit_memo"], PAYMENT):
            page = 1
            while True:
                answer = self.client.get(f"/{kind.collection}", {"page": page, "pageSize": 100}, headers=headers)
                rows = answer.body.get(kind.collection) if answer.ok else None
                if rows is None:
                    raise self._refused_read(kind.collection, answer)
                documents.extend(books_document(kind, row) for row in rows)
                if len(rows) < 100:
                    break
                page += 1
        return self._with_overpayments(documents)

    def _with_overpayments(self, documents: list[BooksDocument]) -> list[BooksDocument]:
        """A payment's total in the books: its batch payment and what it left as the contact's overpayment."""
        payments = [d for d in documents if d.doc_type == "payment" and d.status == "active"]
        if not payments:
            return documents
        over = self._overpayments_by_reference({d.doc_number for d in payments if d.doc_number})
        extra = {number: sum((decimal(o.get("Total")) for o in rows), decimal(0)) for number, rows in over.items()}
        return [dataclasses.replace(d, total=d.total + extra[d.doc_number])
                if d in payments and d.doc_number in extra and d.total is not None else d for d in documents]

    def books_view(self) -> BooksView:
        return neutral_books_view(self.name, self.tenant_id, "Xero", "UpdatedDateUTC", what_changed)


def what_changed(sent: dict, held: dict) -> str:
    """What differs between what the bridge sent and what Xero holds: total, contact, lines."""
    found = []
    if "Total" in sent and decimal(sent.get("Total")) != decimal(held.get("Total")):
        found.append(f"total {sent.get('Total')} sent, {held.get('Total')} in Xero")
    if (sent.get("Contact") or {}).get("ContactID") != (held.get("Contact") or {}).get("ContactID"):
        found.append(f"contact {(held.get('Contact') or {}).get('Name')} in Xero")
    if len(sent.get("LineItems") or []) != len(held.get("LineItems") or []):
        found.append(f"{len(held.get('LineItems') or [])} lines in Xero, {len(sent.get('LineItems') or [])} sent")
    return "; ".join(found)
