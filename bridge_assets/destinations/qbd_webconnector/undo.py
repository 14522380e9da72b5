"""Look-ups by number, void / delete, restore, the closing date and read-back of QbdWebConnectorDestination."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from bridge_assets.destinations.base import BY_HAND_CODES, BooksDocument, DestinationError, NeutralBooks, Outcome, Status
from bridge_assets.destinations.qbd_webconnector import documents as docs
from bridge_assets.destinations.qbd_webconnector import statuses
from bridge_assets.destinations.qbd_webconnector.qbxml import E, day, get, moment

DOC_TYPE = {"Invoice": "invoice", "CreditMemo": "credit_memo", "ReceivePayment": "payment"}
READ_PAGE = 200                 # documents per message set when reading the books back


class UndoMixin:

    def _ask(self, requests, purpose: str, on_error: str = "continueOnError"):
        """An exchange outside post: a lost answer is a DestinationError the run reports (rows stay as they are)."""
        from bridge_assets.destinations.qbd_webconnector.adapter import MessageRefused, Unanswered
        try:
            return self.exchange(requests, purpose, on_error)
        except (Unanswered, MessageRefused) as problem:
            raise DestinationError(f"QuickBooks Desktop ({self.company}) could not {purpose}: {problem}") from None

    def _held(self, kind: str, txn_id: str) -> dict | None:
        answer = self._ask([docs.query(kind, txn_ids=[txn_id])], f"read {kind} {txn_id}")[0]
        return docs.snapshot(answer.first) if answer.first is not None else None

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """The document with this RefNumber in QuickBooks Desktop (a live one first), or None."""
        kind = docs.TXN_TYPE[doc_type]
        answer = self._ask([docs.query(kind, ref_numbers=[doc_number])], f"find {kind} {doc_number}")[0]
        found = sorted((docs.snapshot(r) for r in answer.rets), key=docs.is_voided)
        if not found or docs.is_voided(found[0]):
            return None
        held = found[0]
        if kind == "CreditMemo" and held["Balance"] == held["Total"] and Decimal(held["Total"] or "0") != 0:
            return None     # in, but not applied yet: sent again, post adopts it and applies it (never a second add)
        # The content is not compared here: an interrupted update is re-sent, and post finds it already there.
        return Outcome(Status.CREATED, dest_id=held["TxnID"], dest_doc_number=held["RefNumber"],
                       version=held["EditSequence"], after={**held, "content_hash": "not compared"},
                       message=f"{docs.LABEL[doc_type]} {doc_number}: found in QuickBooks Desktop (TxnID {held['TxnID']})")

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        kind = docs.TXN_TYPE[doc_type]
        what = f"{docs.LABEL[doc_type]} (TxnID {dest_id})"
        held = self._held(kind, dest_id)
        if held is None:
            return Outcome(Status.VOIDED, dest_id=dest_id, message=f"{what} is no longer in QuickBooks Desktop")
        what = f"{docs.LABEL[doc_type]} {held['RefNumber']} (TxnID {dest_id})"
        if docs.is_voided(held):
            return Outcome(Status.VOIDED, dest_id=dest_id, version=held["EditSequence"], before=held,
                           message=f"{what} was already voided in QuickBooks Desktop")
        requests = []
        if kind == "CreditMemo":          # the $0 payments that apply it go first
            applying = self._ask([docs.query("ReceivePayment", ref_numbers=[
                (docs.CREDIT_APPLICATION_PREFIX + (held["RefNumber"] or ""))[:20]])], "find credit applications")[0]
            requests += [E("TxnDelRq", E("TxnDelType", "ReceivePayment"), E("TxnID", get(r, "TxnID")))
                         for r in applying.rets if get(r, "TotalAmount") == "0.00"]
        if kind == "Invoice":
            requests.append(E("TxnVoidRq", E("TxnVoidType", kind), E("TxnID", dest_id)))
        else:
            requests.append(E("TxnDelRq", E("TxnDelType", kind), E("TxnID", dest_id)))
        answers = self._ask(requests, f"void or delete {what}", on_error="stopOnError")
        last = answers.get(len(requests) - 1)
        failed = next((answers[i] for i in sorted(answers) if not answers[i].ok), None)
        if failed is None and last is not None:
            self._written += 1
            done = "voided" if kind == "Invoice" else "deleted"
            return Outcome(Status.VOIDED, dest_id=dest_id, version=held["EditSequence"], before=held,
                           message=f"{what} {done} in QuickBooks Desktop")
        if failed is not None and statuses.is_closing_date(failed.code, failed.message):
            return Outcome(Status.HELD, dest_id=dest_id, error_code="period_closed",
                           message=f"{what}: {failed.message} It is done once the closing date moves.")
        code = failed.code if failed is not None else 0
        return Outcome(Status.FAILED, dest_id=dest_id, error_code=str(code),
                       message=statuses.sentence(what, code, failed.message if failed else "no answer"))

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        what = f"{docs.LABEL[doc_type]} {before.get('RefNumber')} (TxnID {dest_id})"
        if doc_type != "invoice" or not before.get("Lines"):
            return Outcome(Status.FAILED, error_code=BY_HAND_CODES["restores"],
                           message=f"{what}: the bridge restores only invoices in QuickBooks Desktop; put it back as it "
                                   f"was by hand (total {before.get('Total')}).")
        held = self._held("Invoice", dest_id)
        if held is None or docs.is_voided(held):
            return Outcome(Status.FAILED, error_code="3120", message=statuses.sentence(
                what, 3120, "it is no longer in QuickBooks Desktop" if held is None else "it is voided there"))
        want = {k: before.get(k) for k in ("RefNumber", "Customer", "TxnDate", "DueDate", "PONumber", "Total", "Lines")}
        if not docs.differences(want, held):
            return Outcome(Status.UPDATED, dest_id=dest_id, version=held["EditSequence"], before=held, after=held,
                           message=f"{what} already holds that state; nothing was sent")
        answer = self._ask([docs.invoice_mod(dest_id, held["EditSequence"], want)], f"restore {what}")[0]
        if answer.ok and answer.first is not None:
            self._written += 1
            after = docs.snapshot(answer.first)
            return Outcome(Status.UPDATED, dest_id=dest_id, version=after["EditSequence"], before=held, after=after,
                           message=f"{what} restored in QuickBooks Desktop")
        status = Status.HELD if statuses.is_closing_date(answer.code, answer.message) else (
            Status.RETRY if answer.code in statuses.RETRYABLE else Status.FAILED)
        return Outcome(status, dest_id=dest_id, error_code=str(answer.code),
                       message=statuses.sentence(what, answer.code, answer.message))

    # --- the closing date ------------------------------------------------------------------------------

    def book_close_date(self) -> dt.date | None:
        if self._closing is None:
            answer = self._ask([E("PreferencesQueryRq")], "read the closing date")[0]
            self._closing = (day(answer.first, "AccountingPreferences/ClosingDate"),)
        return self._closing[0]

    def is_period_open(self, txn_date) -> bool:
        closed = self.book_close_date()
        return closed is None or txn_date > closed

    # --- read back -------------------------------------------------------------------------------------

    def read_back(self, since: dt.datetime | None = None) -> list[BooksDocument]:
        """Invoices, credit memos and payments changed since `since` (naive UTC), as QuickBooks Desktop holds them."""
        stamp = f"{since:%Y-%m-%dT%H:%M:%S}+00:00" if since is not None else None
        out = []
        for kind in ("Invoice", "CreditMemo", "ReceivePayment"):
            for ret in self._pages(kind, stamp):
                held = docs.snapshot(ret)
                if kind == "ReceivePayment" and (held["RefNumber"] or "").startswith(docs.CREDIT_APPLICATION_PREFIX) \
                        and held["Total"] == "0.00":
                    continue          # the $0 payment that applies a credit memo: part of the credit, not a document
                out.append(self._books_document(kind, held, ret))
        return out

    def _pages(self, kind: str, stamp: str | None):
        """Every Ret of a modified-since query, a page (READ_PAGE) per message set through its iterator."""
        answer = self._ask([docs.query(kind, since=stamp, page=READ_PAGE)], f"read the {kind}s back")[0]
        while True:
            if answer.code not in (0, 1):
                raise DestinationError(f"QuickBooks Desktop ({self.company}) refused reading {kind}s back "
                                       f"({answer.code}: {answer.message})")
            yield from answer.rets
            if answer.remaining <= 0 or not answer.iterator_id:
                return
            answer = self._ask([docs.query(kind, page=READ_PAGE, iterator_id=answer.iterator_id)],
                               f"read the {kind}s back")[0]

    def _books_document(self, kind: str, held: dict[str, Any], ret) -> BooksDocument:
        voided = docs.is_voided(held)
        return BooksDocument(
            doc_type=DOC_TYPE[kind], doc_number=held["RefNumber"], dest_id=held["TxnID"], txn_date=day(ret, "TxnDate"),
            customer=held["Customer"], total=Decimal(held["Total"]) if held["Total"] is not None else None,
            balance=Decimal(held["Balance"]) if held.get("Balance") is not None else None,
            status="voided" if voided else "active", version=held["EditSequence"],
            changed_at=moment(ret, "TimeModified"), raw=held)

    def books_view(self) -> NeutralBooks:
        """Read back into the neutral store, under the company's name (QBD_COMPANY)."""
        return NeutralBooks(self.company, "QuickBooks Desktop", version_label="EditSequence", what_changed=_what_changed)


def _what_changed(sent: dict, held: dict) -> str:
    """What differs between what the bridge sent (a snapshot) and what QuickBooks Desktop holds now."""
    if not sent or not held or "Customer" not in sent:
        return ""
    fields = docs.differences({k: v for k, v in sent.items() if k in ("Customer", "TxnDate", "Total", "Lines")}, held)
    return ", ".join(fields)
