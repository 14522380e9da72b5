"""post(): invoices first, then credit notes (allocated to their invoices), then payments (batch payments).

Per phase one request per kind of write, up to 50 documents, `summarizeErrors=false`, its
`Idempotency-Key` the ledger's request id (one document) or a uuid5 of the items' ids and this run
(several), the same on every retry of that call. A create refused because its number is taken is the
only moment a document is looked up by number: the same content there means an earlier attempt landed
(adopted, nothing sent); other content is failed with a sentence, never duplicated.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Sequence

from bridge_assets.destinations.base import Action, Outcome, PostRequest, Status
from bridge_assets.destinations.kit.http import PlatformUnavailable
from bridge_assets.destinations.xero.client import XeroUnavailable
from bridge_assets.destinations.xero.payloads import (CREDIT_NOTE, INVOICE, KINDS, PAYMENT, Kind, decimal,
                                                      differences, label, sales_body, summary)
from bridge_assets.model.document import money

TAKEN = "must be unique"
LOCKED = "lock date"


@dataclasses.dataclass
class _Work:
    request: PostRequest
    kind: Kind
    body: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    outcome: Outcome | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def document(self):
        return self.request.document

    @property
    def label(self) -> str:
        return label(self.request.document)


class PostingMixin:
    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        if len(requests) > self.capabilities.batch_size:
            raise ValueError(f"at most {self.capabilities.batch_size} requests per post, got {len(requests)}")
        works = [_Work(r, KINDS[r.document.doc_type]) for r in requests]
        for w in works:
            action = Action(w.request.action)
            if action not in (Action.CREATE, Action.UPDATE):
                w.outcome = Outcome(Status.FAILED, error_code="action_unsupported",
                                    message=f"{w.label}: Xero is sent creates and updates through post; {action.value} "
                                            f"is not one of them, nothing was sent.")
            elif action is Action.UPDATE and not w.request.dest_id:
                w.outcome = Outcome(Status.FAILED, error_code="update_without_id",
                                    message=f"{w.label}: an update needs the Xero id and the ledger has none.")
        for kind in (INVOICE, CREDIT_NOTE, PAYMENT):
            phase = [w for w in works if w.outcome is None and w.kind is kind]
            if not phase:
                continue
            try:
                problems = self.resolve_references([w.document for w in phase])
                for w in phase:
                    if w.document.doc_key in problems:
                        w.outcome = Outcome(Status.FAILED, error_code="reference_unresolved",
                                            message=f"{w.label}: {problems[w.document.doc_key]}.")
                phase = [w for w in phase if w.outcome is None]
                if phase:
                    (self._post_payments if kind is PAYMENT else self._post_sales)(kind, phase)
            except (XeroUnavailable, PlatformUnavailable) as failure:
                for w in phase:
                    if w.outcome is None:
                        w.outcome = self._retry(w, failure)
        self._written += sum(1 for w in works if w.outcome.status in (Status.CREATED, Status.UPDATED))
        return [w.outcome for w in works]

    def _key(self, works: list[_Work], what: str) -> str:
        if len(works) == 1 and what == "write":
            return works[0].request.request_id
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self._run_nonce}|{what}|" +
                              "|".join(w.request.request_id for w in works)))

    def _retry(self, w: _Work, failure: Exception) -> Outcome:
        return Outcome(Status.RETRY, error_code="unavailable", http_status=getattr(failure, "http_status", None),
                       message=f"{w.label}: {failure}; whether it reached Xero is unknown, so it is looked up and sent "
                               f"again on the next run")

    # --- invoices and credit notes -----------------------------------------------------------------

    def _post_sales(self, kind: Kind, works: list[_Work]) -> None:
        invoices = self._invoices_applied(works) if kind is CREDIT_NOTE else {}
        for w in works:
            blocked = self._application_problem(w, invoices) if kind is CREDIT_NOTE else None
            if blocked:
                w.outcome = Outcome(Status.FAILED, error_code="invoice_not_posted", message=blocked)
            else:
                w.body = sales_body(w.document, self.contact_id(w.document), self._items, self.codes)
        creates = [w for w in works if w.outcome is None and w.request.action == Action.CREATE]
        updates = [w for w in works if w.outcome is None and w.request.action == Action.UPDATE]
        if creates:
            self._send(kind, "PUT", creates)
        if updates:
            self._prepare_updates(kind, updates)
            self._send(kind, "POST", [w for w in updates if w.outcome is None])
        if kind is CREDIT_NOTE:
            self._allocate([w for w in works if w.outcome is not None and w.outcome.status is Status.CREATED], invoices)
        for w in works:
            if w.notes and w.outcome.status in (Status.CREATED, Status.UPDATED):
                w.outcome = dataclasses.replace(w.outcome, message=f"{w.label}: {'; '.join(w.notes)}")

    def _send(self, kind: Kind, method: str, works: list[_Work]) -> None:
        if not works:
            return
        answer = self.client.write(method, f"/{kind.collection}", {kind.collection: [w.body for w in works]},
                                   self._key(works, "write"), {"summarizeErrors": "false"})
        rows = answer.body.get(kind.collection) if answer.ok else None
        if not isinstance(rows, list) or len(rows) != len(works):
            for w in works:
                w.outcome = self._refused(w, answer.messages(), answer.status)
            return
        taken = []
        for w, row in zip(works, rows):
            messages = [str(e.get("Message")) for e in row.get("ValidationErrors") or []]
            if not messages:
                status = Status.CREATED if method == "PUT" else Status.UPDATED
                w.outcome = Outcome(status, dest_id=str(row[kind.id_field]), dest_doc_number=row.get(kind.number_field),
                                    version=str(row.get("UpdatedDateUTC") or ""), http_status=200,
                                    before=w.current if status is Status.UPDATED else None, after=row)
            elif method == "PUT" and any(TAKEN in m for m in messages):
                taken.append(w)
            else:
                w.outcome = self._refused(w, messages, 400)
        if taken:
            self._number_taken(kind, taken)

    def _number_taken(self, kind: Kind, works: list[_Work]) -> None:
        """Xero says the number is taken: an earlier attempt landed (adopt it) or another document has it."""
        held = self._by_number(kind, [w.document.doc_number for w in works])
        for w in works:
            found = [d for d in held.get(w.document.doc_number, []) if d.get("Status") != "DELETED"]
            same = [d for d in found if not differences(w.body, d)]
            if same:
                w.notes.append("it was already in Xero (an earlier attempt had landed), so nothing new was created")
                w.outcome = Outcome(Status.CREATED, dest_id=str(same[0][kind.id_field]),
                                    dest_doc_number=w.document.doc_number, http_status=200,
                                    version=str(same[0].get("UpdatedDateUTC") or ""), after=same[0])
            else:
                other = found[0] if found else {}
                what = ", ".join(differences(w.body, other)) if other else "content"
                w.outcome = Outcome(
                    Status.FAILED, error_code="number_taken", http_status=400,
                    message=f"{w.label}: Xero already has {kind.label.lower()} number {w.document.doc_number} "
                            f"({summary(other) if other else 'deleted'}) and it differs from the source in {what}. If "
                            f"it is this document (entered by hand, or an earlier version), void or renumber it in "
                            f"Xero; nothing was sent, and it is tried again on the next run.")

    def _prepare_updates(self, kind: Kind, works: list[_Work]) -> None:
        current = {str(d[kind.id_field]): d for d in self._by_ids(kind, [str(w.request.dest_id) for w in works])}
        for w in works:
            held = current.get(str(w.request.dest_id))
            if held is None or held.get("Status") in ("VOIDED", "DELETED"):
                state = "no longer there" if held is None else held["Status"].lower()
                w.outcome = Outcome(Status.FAILED, error_code="gone",
                                    message=f"{w.label}: it changed in the source, but in Xero it is {state} "
                                            f"({kind.id_field} {w.request.dest_id}); enter the new version by hand or "
                                            f"revert it in the bridge.")
                continue
            w.current = held
            if not differences(w.body, held):
                w.outcome = Outcome(Status.UPDATED, dest_id=str(held[kind.id_field]),
                                    dest_doc_number=held.get(kind.number_field), http_status=200,
                                    version=str(held.get("UpdatedDateUTC") or ""),
                                    before=w.request.previous or held, after=held,
                                    message=f"{w.label}: Xero already holds this version (an earlier attempt had "
                                            f"landed), so nothing was sent")
                continue
            w.body = {kind.id_field: held[kind.id_field], **w.body}

    def _refused(self, w: _Work, messages: list[str], http_status: int | None) -> Outcome:
        text = "; ".join(messages)
        if any(LOCKED in m for m in messages):
            close = self.book_close_date(fresh=True)
            when = f" ({close:%d %b %Y})" if close else ""
            return Outcome(Status.HELD, error_code="locked", http_status=http_status,
                           message=f"{w.label}: dated {w.document.txn_date:%m/%d/%Y}, on or before Xero's lock date"
                                   f"{when}; it is held and posts once the lock date moves ({text})")
        if "payment or credit note allocated" in text:
            return Outcome(Status.FAILED, error_code="allocated", http_status=http_status,
                           message=f"{w.label}: it changed in the source, but Xero keeps it unchanged while a payment "
                                   f"or credit is allocated to it ({text}). Remove the allocation in Xero, or enter the "
                                   f"change by hand.")
        return Outcome(Status.FAILED, error_code="refused", http_status=http_status,
                       message=f"{w.label}: Xero refused it: {text}. Correct it in the source (or in Xero); nothing "
                               f"was posted.")

    # --- credits applied, and what they apply to ---------------------------------------------------

    def _invoices_applied(self, works: list[_Work]) -> dict[str, dict[str, Any]]:
        numbers = sorted({a.doc_number for w in works for a in w.document.applies_to})
        held = self._by_number(INVOICE, numbers) if numbers else {}
        out = {}
        for number, docs in held.items():
            live = [d for d in docs if d.get("Status") not in ("VOIDED", "DELETED")]
            out[number] = (live or docs)[0]
        return out

    def _application_problem(self, w: _Work, invoices: dict[str, dict[str, Any]]) -> str | None:
        kind = "pays" if w.kind is PAYMENT else "applies to"
        for application in w.document.applies_to:
            invoice = invoices.get(application.doc_number)
            if invoice is None:
                return (f"{w.label}: it {kind} invoice {application.doc_number}, which is not in Xero yet (not "
                        f"posted, held or failed); it is tried again on the next run")
            if invoice.get("Status") in ("VOIDED", "DELETED"):
                return (f"{w.label}: it {kind} invoice {application.doc_number}, which is {invoice['Status'].lower()} "
                        f"in Xero; correct the source or the invoice in Xero")
            if (invoice.get("Contact") or {}).get("ContactID") != self.contact_id(w.document):
                return (f"{w.label}: it {kind} invoice {application.doc_number}, which belongs to another contact in "
                        f"Xero ({(invoice.get('Contact') or {}).get('Name')}); correct the customer")
        return None

    def _allocate(self, works: list[_Work], invoices: dict[str, dict[str, Any]]) -> None:
        for w in works:
            credit = w.outcome.after or {}
            if credit.get("Allocations"):
                continue                                   # adopted with its allocations already made
            remaining = decimal(credit.get("RemainingCredit", credit.get("Total")))
            rows = []
            for application in sorted(w.document.applies_to, key=lambda a: a.doc_key):
                invoice = invoices.get(application.doc_number)
                amount = min(money(application.amount), remaining, decimal((invoice or {}).get("AmountDue")))
                if invoice is None or amount <= 0:
                    w.notes.append(f"nothing was allocated to invoice {application.doc_number} (nothing is due on it); "
                                   f"the credit stays on the contact")
                    continue
                rows.append({"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": amount,
                             "Date": w.document.txn_date.isoformat()})
                remaining -= amount
                invoice["AmountDue"] = decimal(invoice.get("AmountDue")) - amount
            if rows:
                self._allocate_one(w, rows)

    def _allocate_one(self, w: _Work, rows: list[dict[str, Any]]) -> None:
        try:
            answer = self.client.write("PUT", f"/CreditNotes/{w.outcome.dest_id}/Allocations", {"Allocations": rows},
                                       self._key([w], "allocate"), {"summarizeErrors": "false"})
        except (XeroUnavailable, PlatformUnavailable) as failure:
            w.outcome = dataclasses.replace(
                w.outcome, status=Status.RETRY, error_code="allocation_unknown",
                message=f"{w.label}: the credit note is in Xero ({w.outcome.dest_id}) but allocating it could not be "
                        f"confirmed ({failure}); it is checked and allocated on the next run")
            return
        for row in (answer.body or {}).get("Allocations") or [] if answer.ok else []:
            errors = [str(e.get("Message")) for e in row.get("ValidationErrors") or []]
            target = (row.get("Invoice") or {}).get("InvoiceID")
            if errors:
                w.notes.append(f"it could not be allocated to invoice {target} ({'; '.join(errors)}); allocate it in "
                               f"Xero")
            else:
                w.notes.append(f"{row.get('Amount')} allocated to invoice {(row.get('Invoice') or {}).get('InvoiceNumber') or target}")
        if not answer.ok:
            w.notes.append(f"it could not be allocated ({'; '.join(answer.messages())}); allocate it in Xero")
