"""Posting: one post call, phase by phase (invoices first), deciding per request what to send."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

from bridge_assets.destinations.base import Action, DestinationError, Outcome, PostRequest, Status
from bridge_assets.destinations.qbo.client import QboUnavailable
from bridge_assets.destinations.qbo.payloads import (
    NUMBER_FIELD,
    differences,
    entity_for,
    is_voided,
    payment_body,
    ref_value,
    sales_body,
)
from bridge_assets.destinations.qbo.work import _Work, _Write


class PostingMixin:
    """post() of QboDestination and the decisions before anything is sent."""

    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        requests = list(requests)
        if len(requests) > self.capabilities.batch_size:
            raise ValueError(f"at most {self.capabilities.batch_size} requests per post, got {len(requests)}")
        works = []
        for request in requests:
            try:
                works.append(_Work(request, entity_for(request.document.doc_type)))
            except ValueError as problem:
                works.append(_Work(request, "", outcome=Outcome(Status.FAILED, error_code="doc_type_unsupported",
                                                                message=f"{request.document.doc_number}: {problem}")))
        live = [w for w in works if w.outcome is None]
        for w in live:
            action = Action(w.request.action)
            if action not in (Action.CREATE, Action.UPDATE):
                w.outcome = Outcome(Status.FAILED, error_code="action_unsupported",
                                    message=f"{w.label}: QuickBooks Online is sent creates and updates through post; "
                                            f"{action.value} is not one of them, nothing was sent.")
            elif action is Action.UPDATE and not w.request.dest_id:
                w.outcome = Outcome(Status.FAILED, error_code="update_without_id",
                                    message=f"{w.label}: an update needs the QuickBooks Id of the document and the "
                                            f"ledger has none; nothing was sent.")
        try:
            self._check_company()
        except QboUnavailable as failure:
            return [w.outcome or self._retry(w, failure) for w in works]
        # Invoices first: credit memos and payments link to them by Id, and the items of one batch
        # cannot see each other's creations.
        for phase in ([w for w in live if w.outcome is None and w.entity == "Invoice"],
                      [w for w in live if w.outcome is None and w.entity != "Invoice"]):
            try:
                unresolved = [w.document for w in phase if not self._has_references(w.document)]
                problems = self.resolve_references(unresolved) if unresolved else {}
                for w in phase:
                    if w.document.doc_key in problems:
                        w.outcome = Outcome(Status.FAILED, error_code="reference_unresolved",
                                            message=f"{w.label}: {problems[w.document.doc_key]}.")
                phase = [w for w in phase if w.outcome is None]
                if phase:
                    self._post_phase(phase)
            except QboUnavailable as failure:
                for w in phase:
                    if w.outcome is None:
                        w.outcome = self._retry(w, failure)
        outcomes = [w.outcome for w in works]
        self._written += sum(1 for o in outcomes if o is not None and o.status in (Status.CREATED, Status.UPDATED))
        return outcomes  # type: ignore[return-value]

    def _check_company(self) -> None:
        """Documents keep their source numbers only with custom transaction numbers on; the numbers are
        also how an interrupted attempt is found again, so posting without them is refused."""
        sales_forms = self._company_preferences().get("SalesFormsPrefs") or {}
        if sales_forms.get("CustomTxnNumbers") is False:
            raise DestinationError(
                f"QuickBooks Online company {self.realm_id} has custom transaction numbers turned off, so it would "
                f"renumber every document (and an interrupted post could not be found again by its number). Turn on "
                f"Account and Settings > Sales > Custom transaction numbers, then run again.")

    def _post_phase(self, works: list[_Work]) -> None:
        creates = [w for w in works if w.request.action == Action.CREATE]
        updates = [w for w in works if w.request.action == Action.UPDATE]
        holders = self._by_number(creates)
        currents = self._by_id(updates)
        invoices = self._linked_invoices([w for w in works if w.entity != "Invoice"])
        for w in works:
            self._prepare(w, holders, currents, invoices)
        self._send([w for w in works if w.outcome is None and w.write is not None], second_try=False)
        self._apply_credits([w for w in works if w.entity == "CreditMemo" and w.outcome is not None
                             and w.outcome.status in (Status.CREATED, Status.UPDATED)], invoices)

    def _by_number(self, works: list[_Work]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        found: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for entity in sorted({w.entity for w in works}):
            field = NUMBER_FIELD[entity]
            numbers = [w.document.doc_number for w in works if w.entity == entity]
            for row in self._query_in(entity, field, numbers):
                found.setdefault((entity, str(row.get(field))), []).append(row)
        return found

    def _by_id(self, works: list[_Work]) -> dict[tuple[str, str], dict[str, Any]]:
        return self._ids([(w.entity, str(w.request.dest_id)) for w in works])

    def _linked_invoices(self, works: list[_Work]) -> dict[str, dict[str, Any]]:
        """The invoices credit memos and payments apply to, by DocNumber (a live one before a voided one)."""
        numbers = {a.doc_number for w in works for a in w.document.applies_to}
        found: dict[str, dict[str, Any]] = {}
        for row in self._query_in("Invoice", "DocNumber", numbers):
            number = str(row.get("DocNumber"))
            if number not in found or (is_voided(found[number]) and not is_voided(row)):
                found[number] = row
        return found

    def _prepare(self, w: _Work, holders, currents, invoices) -> None:
        """Decide what to send for one request (or its outcome without sending anything)."""
        document, request = w.document, w.request
        refs = self.references(document)
        customer_id = refs.customer_id
        if w.entity in ("CreditMemo", "Payment"):
            blocked = self._application_problem(w, customer_id, invoices)
            if blocked:
                w.outcome = Outcome(Status.FAILED, error_code="invoice_not_posted", message=blocked)
                return
        if w.entity == "Payment":
            body = payment_body(document, customer_id, {n: str(i["Id"]) for n, i in invoices.items()})
        else:
            body = sales_body(document, refs, tax_override=self.tax_override, tax_code=self.tax_code)

        if request.action == Action.CREATE:
            holding = holders.get((w.entity, document.doc_number), [])
            if w.entity == "Payment":
                # A payment's reference number is often the customer's check number: only one of the
                # same customer can be this document.
                holding = [e for e in holding if ref_value(e.get("CustomerRef")) == customer_id]
            live = [e for e in holding if not is_voided(e)]
            if live:
                same = [e for e in live if not differences(body, e)]
                if same:
                    w.outcome = self._success(w, same[0], Status.CREATED)
                    w.notes.append("it was already in QuickBooks (an earlier attempt had landed), so nothing was sent")
                    w.outcome = dataclasses.replace(w.outcome, message=self._message(w))
                else:
                    w.outcome = self._number_taken(w, live[0], differences(body, live[0]))
                return
            # Only voided documents hold the number: a new one may use it again.
            include = ("allowduplicatedocnum",) if holding and w.entity != "Payment" else ()
            w.write = _Write(w.entity, "create", body, request.request_id, include)
            return

        current = currents.get((w.entity, str(request.dest_id)))
        if current is None:
            w.outcome = Outcome(
                Status.FAILED, error_code="610",
                message=f"{w.label}: it changed in the source, but QuickBooks no longer has it (Id {request.dest_id} "
                        f"was deleted there), so the change cannot be applied. Re-enter it in QuickBooks or revert it "
                        f"in the bridge.")
            return
        if is_voided(current):
            w.outcome = Outcome(
                Status.FAILED, error_code="voided",
                message=f"{w.label}: it changed in the source, but it is voided in QuickBooks (Id {current['Id']}); "
                        f"a voided document is not changed. Enter the new version by hand or revert it in the bridge.")
            return
        w.current = current
        if not differences(body, current):
            w.outcome = Outcome(Status.UPDATED, dest_id=str(current["Id"]),
                                dest_doc_number=str(current.get(NUMBER_FIELD[w.entity]) or ""),
                                version=str(current["SyncToken"]), http_status=200,
                                message=f"{w.label}: QuickBooks already holds this version (an earlier attempt had "
                                        f"landed), so nothing was sent",
                                before=request.previous or current, after=current)
            return
        w.write = self._update_write(w, body, current)

    def _update_write(self, w: _Work, body: dict[str, Any], current: dict[str, Any]) -> _Write:
        sparse = {"Id": str(current["Id"]), "SyncToken": str(current["SyncToken"]), "sparse": True, **body}
        return _Write(w.entity, "update", sparse, f"{w.request.request_id}@{current['SyncToken']}")

    def _application_problem(self, w: _Work, customer_id: str, invoices: Mapping[str, dict[str, Any]]) -> str | None:
        kind = "pays" if w.entity == "Payment" else "applies to"
        for application in w.document.applies_to:
            invoice = invoices.get(application.doc_number)
            if invoice is None:
                return (f"{w.label}: it {kind} invoice {application.doc_number}, which is not in QuickBooks yet (not "
                        f"posted, held or failed); it is tried again on the next run")
            if is_voided(invoice):
                return (f"{w.label}: it {kind} invoice {application.doc_number}, which is voided in QuickBooks "
                        f"(Id {invoice['Id']}); correct the source or the invoice in QuickBooks")
            if ref_value(invoice.get("CustomerRef")) != customer_id:
                owner = (invoice.get("CustomerRef") or {}).get("name") or ref_value(invoice.get("CustomerRef"))
                return (f"{w.label}: it {kind} invoice {application.doc_number}, which belongs to another customer in "
                        f"QuickBooks ({owner}); correct the customer in the source or in QuickBooks")
        return None   # (a payment applied to nothing is allowed: it sits as the customer's credit)
