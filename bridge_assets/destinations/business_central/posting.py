"""Posting into Business Central: drafts created and posted in $batch requests, corrections by cancel and
re-issue, payments as payment journal lines posted with the journal.

Creates (invoices first, then credit memos, which name their posted invoice): one $batch of look-ups by
`externalDocumentNumber`; a posted document with our number and the same content is adopted, one with other
content refused; a draft left by an interrupted attempt is posted if it holds this content, else deleted
(with its `If-Match` ETag) and made again. One $batch creates the drafts (deep insert, each with the GUID
`client_id_for(request id)`, so one sent again is refused as a duplicate key, never doubled), one $batch
posts them (`Microsoft.NAV.post`); a draft refused for the posting range is deleted and the document held.

An update of a posted document is BC's own correction: `Microsoft.NAV.cancel` (a corrective credit memo is
posted and the document is `Canceled`) and a new document with our number, posted; the ledger keeps the new
id, the event's `before` the cancelled one and `after.correction` the corrective document.

A payment is one journal line per invoice it pays (`appliesToInvoiceNumber`, amount with BC's sign) plus a
line for what is left, then `journals({id})/Microsoft.NAV.post`; it is found again by its general ledger
entries (`documentNumber`, documentType Payment). A posted payment cannot be changed or reversed through
the API: an update or void is left to a person, with the sentence.
"""

from __future__ import annotations

from typing import Any, Sequence

from bridge_assets.destinations.base import Action, DestinationError, Outcome, PostRequest, Status, by_hand
from bridge_assets.destinations.business_central.client import BcAuthError, BcError, BcUnavailable
from bridge_assets.destinations.business_central.payloads import (
    ENTITY, LABEL, LINES, LIVE, OUTSIDE_RANGE, client_id_for, decimal, differences, document_body, literal,
    refusal, summary,
)
from bridge_assets.destinations.kit.erp import document_label
from bridge_assets.model.document import AccountingDocument, money


class _Work:
    def __init__(self, request: PostRequest) -> None:
        self.request, self.document = request, request.document
        self.label = document_label(self.document, LABEL)
        self.outcome: Outcome | None = None
        self.body: dict[str, Any] | None = None
        self.draft: dict[str, Any] | None = None


class PostingMixin:
    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        works = [_Work(r) for r in requests]
        if len(works) > self.capabilities.batch_size:
            raise ValueError(f"at most {self.capabilities.batch_size} requests per post, got {len(works)}")
        try:
            for phase in ("invoice", "credit_memo", "payment"):
                mine = [w for w in works if w.document.doc_type == phase]
                self._guarded(mine, lambda: self._phase(phase, mine))
        except (BcAuthError, DestinationError) as problem:
            raise DestinationError(str(problem)) from None
        for w in works:
            if w.outcome is None:
                w.outcome = Outcome(Status.FAILED, error_code="action_unsupported",
                                    message=f"{w.label}: {w.request.action} of a {w.document.doc_type} is not sent to "
                                            f"Business Central; nothing was sent.")
        self._written += sum(1 for w in works if w.outcome.status in (Status.CREATED, Status.UPDATED))
        return [w.outcome for w in works]

    def _guarded(self, works: list[_Work], run) -> None:
        try:
            run()
        except BcUnavailable as failure:
            for w in works:
                if w.outcome is None:
                    w.outcome = Outcome(Status.RETRY, error_code="unavailable", http_status=failure.http_status,
                                        message=f"{w.label}: {failure}; whether it reached Business Central is unknown, "
                                                f"so it is looked up and finished (never sent twice) on the next run")

    def _phase(self, doc_type: str, works: list[_Work]) -> None:
        for w in works:
            problem = self._references(w.document)
            if problem:
                w.outcome = Outcome(Status.FAILED, error_code="reference_unresolved", message=f"{w.label}: {problem}.")
        live = [w for w in works if w.outcome is None]
        if doc_type == "payment":
            for w in live:
                self._guarded([w], lambda w=w: self._payment(w))
            return
        creates = [w for w in live if w.request.action == Action.CREATE]
        for w in [w for w in live if w.request.action == Action.UPDATE]:
            self._guarded([w], lambda w=w: self._update(w))
        self._creates(creates)

    def _failed(self, w: _Work, error: BcError) -> Outcome:
        if OUTSIDE_RANGE in error.message:
            return Outcome(Status.HELD, error_code="posting_range", message=self._held_message(w))
        code, sentence = refusal(error.code, error.message, error.call)
        return Outcome(Status.FAILED, error_code=code, http_status=error.status, message=f"{w.label}: {sentence}.")

    def _held_message(self, w: _Work) -> str:
        close = self.book_close_date()
        when = f" (closed through {close:%m/%d/%Y})" if close else ""
        return (f"{w.label}: dated {w.document.txn_date:%m/%d/%Y}, outside Business Central's allowed posting "
                f"range{when}; it is held and posts once the range includes its date")

    # --- creates ----------------------------------------------------------------------------------

    def _by_number(self, entity: str, number: str) -> str:
        return f"{entity}?$filter=externalDocumentNumber eq {literal(number)} and status ne 'Canceled'" \
               f"&$expand={LINES[entity]}"

    def _creates(self, works: list[_Work]) -> None:
        if not works:
            return
        found = self.client.batch([{"method": "GET", "url": self._by_number(ENTITY[w.document.doc_type],
                                                                           w.document.doc_number)} for w in works])
        for w, answer in zip(works, found):
            self._decide(w, answer)
        to_create = [w for w in works if w.outcome is None and w.draft is None]
        if to_create:
            created = self.client.batch([{"method": "POST", "url": ENTITY[w.document.doc_type], "body": w.body}
                                         for w in to_create])
            for w, answer in zip(to_create, created):
                self._created(w, answer)
        drafts = [w for w in works if w.outcome is None and w.draft is not None]
        if drafts:
            posted = self.client.batch([{"method": "POST", "url": f"{ENTITY[w.document.doc_type]}({w.draft['id']})/"
                                                                  f"Microsoft.NAV.post"} for w in drafts])
            for w, answer in zip(drafts, posted):
                self._posted(w, answer)

    def _decide(self, w: _Work, answer: dict[str, Any]) -> None:
        if answer.get("status") != 200:
            raise BcUnavailable(f"a look-up answered {answer.get('status')}", "$batch", sent=False)
        document, entity = w.document, ENTITY[w.document.doc_type]
        invoice_number = None
        if document.doc_type == "credit_memo" and document.applies_to:
            invoice = self._live(ENTITY["invoice"], document.applies_to[0].doc_number)
            if invoice is None:
                w.outcome = Outcome(Status.FAILED, error_code="invoice_not_posted",
                                    message=f"{w.label}: it applies to invoice {document.applies_to[0].doc_number}, "
                                            f"which is not in Business Central yet; it is tried again on the next run")
                return
            invoice_number = invoice["number"]
        w.body = document_body(document, client_id_for(w.request.request_id), self.tax_item, invoice_number)
        records = answer["body"]["value"]
        for record in [r for r in records if r["status"] in LIVE]:
            if not differences(w.body, record, record[LINES[entity]]):
                w.outcome = self._done(w, Status.CREATED, record, note="it was already in Business Central (an earlier "
                                                                       "attempt had landed), so nothing was sent")
                return
        live = [r for r in records if r["status"] in LIVE]
        if live:
            w.outcome = Outcome(Status.FAILED, error_code="number_taken",
                                message=f"{w.label}: Business Central already has external document number "
                                        f"{document.doc_number} ({summary(live[0])}) with other content "
                                        f"({', '.join(differences(w.body, live[0], live[0][LINES[entity]]))}); cancel or "
                                        f"renumber it there if it is this document. Nothing was sent.")
            return
        for draft in [r for r in records if r["status"] == "Draft"]:
            if draft["id"] == w.body["id"] and not differences(w.body, draft, draft[LINES[entity]]):
                w.draft = draft               # an earlier attempt made it: post it
            else:                             # not this content (or made by hand): remove it, with its ETag
                self.client.call("DELETE", f"{self.client.company_path}/{entity}({draft['id']})",
                                 headers={"If-Match": draft["@odata.etag"]})

    def _created(self, w: _Work, answer: dict[str, Any]) -> None:
        body = answer.get("body") or {}
        if answer.get("status") == 201:
            w.draft = body
        elif (body.get("error") or {}).get("code") == "Internal_EntityWithSameKeyExists":
            w.draft = self.client.get(f"{self.client.company_path}/{ENTITY[w.document.doc_type]}({w.body['id']})")
        elif answer.get("status") and answer["status"] >= 400:
            error = body.get("error") or {}
            w.outcome = self._failed(w, BcError(answer["status"], str(error.get("code")), str(error.get("message")),
                                                f"POST {ENTITY[w.document.doc_type]}"))
        else:
            raise BcUnavailable("no answer for this create in the $batch", "$batch", sent=True)

    def _posted(self, w: _Work, answer: dict[str, Any]) -> None:
        entity = ENTITY[w.document.doc_type]
        if answer.get("status") == 204:
            record = self.client.get(f"{self.client.company_path}/{entity}({w.draft['id']})")
            w.outcome = self._done(w, Status.CREATED, record)
            return
        error = (answer.get("body") or {}).get("error") or {}
        if not answer.get("status"):
            raise BcUnavailable("no answer for this post in the $batch", "$batch", sent=True)
        w.outcome = self._failed(w, BcError(answer["status"], str(error.get("code")), str(error.get("message")),
                                            f"POST {entity}/Microsoft.NAV.post"))
        if w.outcome.status is Status.HELD:   # the draft is not in the books: removed, made afresh once it may post
            current = self.client.get(f"{self.client.company_path}/{entity}({w.draft['id']})")
            self.client.call("DELETE", f"{self.client.company_path}/{entity}({w.draft['id']})",
                             headers={"If-Match": current["@odata.etag"]})

    def _live(self, entity: str, number: str) -> dict[str, Any] | None:
        records = self.client.get(f"{self.client.company_path}/{self._by_number(entity, number)}")["value"]
        live = [r for r in records if r["status"] in LIVE]
        return live[-1] if live else None

    # --- updates: cancel and re-issue -------------------------------------------------------------

    def _update(self, w: _Work) -> None:
        entity, document = ENTITY[w.document.doc_type], w.document
        path = f"{self.client.company_path}/{entity}"
        try:
            current = self.client.get(f"{path}({w.request.dest_id})")
        except BcError as error:
            w.outcome = self._failed(w, error)
            return
        lines = self.client.get(f"{path}({w.request.dest_id})/{LINES[entity]}")["value"]
        invoice_number = current.get("invoiceNumber") or None
        w.body = document_body(document, client_id_for(w.request.request_id, "re-issue"), self.tax_item, invoice_number)
        if current["status"] in LIVE and not differences(w.body, current, lines):
            w.outcome = self._done(w, Status.UPDATED, current, before=w.request.previous or current,
                                   note="Business Central already holds this version, so nothing was sent")
            return
        try:
            if current["status"] in LIVE:
                self.client.call("POST", f"{path}({current['id']})/Microsoft.NAV.cancel")
            self._creates_one(w)
        except BcError as error:
            w.outcome = self._failed(w, error)
            return
        if w.outcome is not None and w.outcome.status is Status.CREATED:
            new = w.outcome.after
            corrective = [r for r in self.client.get(f"{self.client.company_path}/{self._corrective(entity)}?$filter="
                                                     f"externalDocumentNumber eq {literal(document.doc_number)} and "
                                                     f"status eq 'Corrective'")["value"]]
            correction = {"canceled": current["number"], "canceled_id": current["id"],
                          "corrective": corrective[-1]["number"] if corrective else None}
            w.outcome = self._done(w, Status.UPDATED, new, before=current, after={**new, "correction": correction},
                                   note=f"Business Central does not change a posted document, so {current['number']} was "
                                        f"canceled (corrective {correction['corrective']}) and re-issued as {new['number']}")

    @staticmethod
    def _corrective(entity: str) -> str:
        return "salesCreditMemos" if entity == "salesInvoices" else "salesInvoices"

    def _creates_one(self, w: _Work) -> None:
        """The re-issue, exactly as a create (its look-up adopts a re-issue an earlier attempt posted)."""
        w.request = PostRequest(Action.CREATE, w.document, w.request.request_id + "|re-issue",
                                dest_id=w.request.dest_id, previous=w.request.previous)
        self._creates([w])

    # --- payments ---------------------------------------------------------------------------------

    def _payment(self, w: _Work) -> None:
        document = w.document
        if w.request.action == Action.UPDATE:
            w.outcome = by_hand("supports_update", self._payment_by_hand(document, "changed in the source"))
            return
        entries = self._payment_entries(document.doc_number)
        if entries:
            w.outcome = self._paid(w, entries, note="it was already in Business Central, so nothing was sent")
            return
        sign = -1 if self.payment_sign == "negative" else 1
        lines, left = [], money(document.total)
        for index, application in enumerate(document.applies_to):
            invoice = self._live(ENTITY["invoice"], application.doc_number)
            if invoice is None:
                w.outcome = Outcome(Status.FAILED, error_code="invoice_not_posted",
                                    message=f"{w.label}: it pays invoice {application.doc_number}, which is not in "
                                            f"Business Central yet; it is tried again on the next run")
                return
            amount = min(money(application.amount), left)
            left -= amount
            lines.append({"id": client_id_for(w.request.request_id, str(index)), "appliesToInvoiceNumber": invoice["number"],
                          "amount": float(sign * amount)})
        if left > 0 or not lines:
            lines.append({"id": client_id_for(w.request.request_id, "rest"), "amount": float(sign * left)})
        journal = f"{self.client.company_path}/customerPaymentJournals({self.journal_id})/customerPayments"
        answers = self.client.batch([{"method": "POST", "url": journal.split("/", 1)[1], "body": {
            **line, "customerNumber": document.customer_key, "postingDate": document.txn_date.isoformat(),
            "documentNumber": document.doc_number, "description": f"Payment {document.doc_number}"}} for line in lines])
        for answer in answers:
            code = ((answer.get("body") or {}).get("error") or {}).get("code")
            if answer.get("status") != 201 and code != "Internal_EntityWithSameKeyExists":
                error = (answer.get("body") or {}).get("error") or {}
                w.outcome = self._failed(w, BcError(answer.get("status") or 0, str(code), str(error.get("message")),
                                                    "POST customerPayments"))
                return
        try:
            self.client.call("POST", f"{self.client.company_path}/journals({self.journal_id})/Microsoft.NAV.post")
        except BcError as error:
            w.outcome = self._failed(w, error)
            return
        w.outcome = self._paid(w, self._payment_entries(document.doc_number))

    def _payment_entries(self, number: str) -> list[dict[str, Any]]:
        return self.client.get(f"{self.client.company_path}/generalLedgerEntries?$filter=documentNumber eq "
                               f"{literal(number)} and documentType eq 'Payment'")["value"]

    def _payment_by_hand(self, document: AccountingDocument | None, what: str, number: str | None = None) -> str:
        number = number or (document.doc_number if document else "")
        return (f"Payment {number} {what}, but Business Central's API cannot change or reverse a posted payment: in "
                f"Business Central, open the customer's ledger entries, Reverse Transaction on payment {number}, and "
                f"enter it again as it should be.")

    # --- outcomes ---------------------------------------------------------------------------------

    def _done(self, w: _Work, status: Status, record: dict[str, Any], *, before: dict | None = None,
              after: dict | None = None, note: str | None = None) -> Outcome:
        return Outcome(status, dest_id=str(record["id"]), dest_doc_number=str(record.get("number") or ""),
                       version=str(record.get("@odata.etag") or ""), http_status=200,
                       message=f"{w.label}: {note}" if note else None,
                       before=before if status is Status.UPDATED else None, after=after or record)

    def _paid(self, w: _Work, entries: list[dict[str, Any]], note: str | None = None) -> Outcome:
        total = sum((decimal(e.get("creditAmount")) for e in entries), money(0))
        first = entries[0]
        return Outcome(Status.CREATED, dest_id=str(first["id"]), dest_doc_number=str(first.get("documentNumber")),
                       version=str(first.get("@odata.etag") or ""), http_status=200,
                       message=f"{w.label}: {note}" if note else None,
                       after={"entries": [e["id"] for e in entries], "total": str(total), **first})
