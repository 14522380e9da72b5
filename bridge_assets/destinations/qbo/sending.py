"""Sending: writes as one request (entity endpoint or /batch), credit applications, and the outcomes."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from bridge_assets.destinations.base import Outcome, Status
from bridge_assets.destinations.qbo.client import QboAnswer, QboFault, QboUnavailable, faults_of
from bridge_assets.destinations.qbo.payloads import (
    LABEL,
    NUMBER_FIELD,
    credit_application_body,
    decimal,
    differences,
    dumps,
    is_voided,
    summary,
)
from bridge_assets.destinations.qbo.work import _Result, _Work, _Write, batch_request_id, request_id_for
from bridge_assets.model.document import money


class SendingMixin:
    """Writes, 5010/6140 second tries, credit applications and outcome sentences of QboDestination."""

    def _send(self, works: list[_Work], *, second_try: bool) -> None:
        if not works:
            return
        results = self._write([w.write for w in works])   # type: ignore[misc]
        stale, taken = [], []
        for w, result in zip(works, results, strict=True):
            if result.entity is not None:
                w.outcome = self._success(w, result.entity,
                                          Status.CREATED if w.write.operation == "create" else Status.UPDATED)
                w.outcome = dataclasses.replace(w.outcome, message=self._message(w))
                continue
            fault = result.faults[0] if result.faults else None
            if fault is None:
                w.outcome = self._retry(w, QboUnavailable("no answer for this item in the batch", 1))
            elif fault.code == "5010" and w.write.operation == "update" and not second_try:
                stale.append(w)
            elif fault.code == "5010" and w.write.operation == "update":
                w.outcome = Outcome(Status.RETRY, error_code="5010", http_status=result.http_status,
                                    message=f"{w.label}: it was changed in QuickBooks while the bridge was updating it, "
                                            f"twice in a row; the update is tried again on the next run")
            elif fault.code == "6140" and w.write.operation == "create" and not second_try:
                taken.append(w)
            else:
                w.outcome = self._fault_outcome(w, fault, result.http_status)
        if stale:
            # 5010: someone changed it since we read it. Read again and send once more against the new SyncToken.
            currents = self._by_id(stale)
            again = []
            for w in stale:
                current = currents.get((w.entity, str(w.request.dest_id)))
                if current is None:
                    w.outcome = Outcome(Status.FAILED, error_code="610",
                                        message=f"{w.label}: it was deleted in QuickBooks while the bridge was updating "
                                                f"it; re-enter it in QuickBooks or revert it in the bridge")
                    continue
                body = {k: v for k, v in w.write.body.items() if k not in ("Id", "SyncToken", "sparse")}
                w.current = current
                if not differences(body, current):
                    w.outcome = self._success(w, current, Status.UPDATED)
                    continue
                w.write = self._update_write(w, body, current)
                again.append(w)
            self._send(again, second_try=True)
        if taken:
            # 6140: the number is taken after all (created between our look-up and our write?). Look again.
            holders = self._by_number(taken)
            for w in taken:
                live = [e for e in holders.get((w.entity, w.document.doc_number), []) if not is_voided(e)]
                same = [e for e in live if not differences(w.write.body, e)]
                if same:
                    w.outcome = self._success(w, same[0], Status.CREATED)
                    w.notes.append("it was already in QuickBooks, so nothing new was created")
                    w.outcome = dataclasses.replace(w.outcome, message=self._message(w))
                elif live:
                    w.outcome = self._number_taken(w, live[0], differences(w.write.body, live[0]))
                else:
                    w.outcome = self._fault_outcome(w, QboFault("6140", "Duplicate Document Number Error",
                                                                "the number is already used"), 400)

    def _write(self, writes: list[_Write]) -> list[_Result]:
        """Send writes as one request: the entity endpoint for one, /batch for several."""
        if len(writes) == 1:
            write = writes[0]
            params = {"requestid": request_id_for(write.item_id)}
            if write.operation in ("delete", "void"):
                params["operation"] = write.operation
            if write.include:
                params["include"] = ",".join(write.include)
            answer = self.client.post(f"/{write.entity.lower()}", dumps(write.body), params)
            return [self._result(answer, write.entity)]
        items = []
        for index, write in enumerate(writes):
            item: dict[str, Any] = {"bId": str(index), "operation": write.operation, write.entity: write.body}
            if write.include:
                item["optionsData"] = ",".join(write.include)
            items.append(item)
        answer = self.client.post("/batch", dumps({"BatchItemRequest": items}),
                                  {"requestid": batch_request_id([w.item_id for w in writes])}, batch=True)
        responses = answer.body.get("BatchItemResponse") if isinstance(answer.body, dict) else None
        if answer.status != 200 or not isinstance(responses, list):
            result = _Result(faults=answer.faults, http_status=answer.status)
            return [result for _ in writes]
        by_bid = {str(r.get("bId")): r for r in responses if isinstance(r, dict)}
        results = []
        for index, write in enumerate(writes):
            response = by_bid.get(str(index))
            if response is None:
                results.append(_Result())
            elif "Fault" in response:
                results.append(_Result(faults=faults_of(response), http_status=400))
            else:
                results.append(_Result(entity=response.get(write.entity), http_status=200))
        return results

    @staticmethod
    def _result(answer: QboAnswer, entity: str) -> _Result:
        if answer.ok and isinstance(answer.body, dict) and isinstance(answer.body.get(entity), dict):
            return _Result(entity=answer.body[entity], http_status=answer.status)
        return _Result(faults=answer.faults, http_status=answer.status)

    # --- credit memos applied to their invoice ----------------------------------------------------

    def _apply_credits(self, works: list[_Work], invoices: dict[str, dict[str, Any]]) -> None:
        balances = {number: decimal(invoice.get("Balance")) for number, invoice in invoices.items()}
        plan: list[tuple[_Work, dict[str, Any], Decimal]] = []
        for w in works:
            credit = w.outcome.after or {}
            if any(link.get("TxnType") == "Payment" for link in credit.get("LinkedTxn") or []):
                continue   # already applied (by an earlier attempt, or by hand)
            remaining = decimal(credit.get("RemainingCredit", credit.get("TotalAmt")))
            for application in sorted(w.document.applies_to, key=lambda a: a.doc_key):
                invoice = invoices.get(application.doc_number)
                if invoice is None:
                    continue
                amount = min(money(application.amount), remaining, balances.get(application.doc_number, Decimal(0)))
                if amount <= 0:
                    w.notes.append(f"nothing was applied to invoice {application.doc_number} (its open balance is "
                                   f"{balances.get(application.doc_number)}); the credit is left as customer credit")
                    continue
                plan.append((w, invoice, amount))
                remaining -= amount
                balances[application.doc_number] -= amount
        for start in range(0, len(plan), self.capabilities.batch_size):
            chunk = plan[start:start + self.capabilities.batch_size]
            writes = [_Write("Payment", "create", credit_application_body(w.outcome.after, invoice, amount),
                             f"{w.request.request_id}|apply|{invoice['Id']}") for w, invoice, amount in chunk]
            try:
                results = self._write(writes)
            except QboUnavailable as failure:
                for w, invoice, _ in chunk:
                    w.outcome = dataclasses.replace(
                        w.outcome, status=Status.RETRY, error_code="application_unknown",
                        message=f"{w.label}: the credit memo is in QuickBooks (Id {w.outcome.dest_id}) but applying it "
                                f"to invoice {invoice.get('DocNumber')} could not be confirmed ({failure.problem}); it "
                                f"is checked and applied on the next run")
                continue
            for (w, invoice, amount), result in zip(chunk, results, strict=True):
                if result.entity is not None:
                    w.notes.append(f"{amount} applied to invoice {invoice.get('DocNumber')} "
                                   f"(payment Id {result.entity.get('Id')})")
                elif not result.faults:     # the batch answered without this item: outcome unknown
                    w.outcome = dataclasses.replace(
                        w.outcome, status=Status.RETRY, error_code="application_unknown",
                        message=f"{w.label}: the credit memo is in QuickBooks (Id {w.outcome.dest_id}) but whether it "
                                f"was applied to invoice {invoice.get('DocNumber')} is unknown; it is checked on the "
                                f"next run")
                else:
                    fault = result.faults[0].text() if result.faults else "no answer"
                    w.notes.append(f"it could not be applied to invoice {invoice.get('DocNumber')} ({fault}); apply "
                                   f"it in QuickBooks (Receive payment)")
        applied = [w for w, _, _ in plan if w.outcome.status is not Status.RETRY]
        if applied:
            try:   # applying bumped the credit memos' SyncToken: read them back for the ledger
                fresh = self._ids([("CreditMemo", str(w.outcome.dest_id)) for w in applied])
            except QboUnavailable:
                fresh = {}
            for w in applied:
                after = fresh.get(("CreditMemo", str(w.outcome.dest_id)), w.outcome.after)
                w.outcome = dataclasses.replace(w.outcome, after=after, version=str(after.get("SyncToken")))
        for w in works:
            if w.outcome.status is not Status.RETRY:
                w.outcome = dataclasses.replace(w.outcome, message=self._message(w))

    # --- outcomes ---------------------------------------------------------------------------------

    def _success(self, w: _Work, entity: dict[str, Any], status: Status) -> Outcome:
        if self.tax_override is False and w.entity != "Payment":
            theirs, ours = decimal(entity.get("TotalAmt")), money(w.document.total)
            if theirs != ours:
                w.notes.append(f"QuickBooks computed the tax itself: its total is {theirs}, the source's is {ours}")
        return Outcome(status, dest_id=str(entity.get("Id")),
                       dest_doc_number=str(entity.get(NUMBER_FIELD[w.entity]) or "") or None,
                       version=str(entity.get("SyncToken")), http_status=200,
                       before=w.current if status is Status.UPDATED else None, after=entity)

    def _message(self, w: _Work) -> str | None:
        return f"{w.label}: {'; '.join(w.notes)}" if w.notes else None

    def _retry(self, w: _Work, failure: QboUnavailable) -> Outcome:
        return Outcome(Status.RETRY, http_status=failure.http_status, error_code="unavailable",
                       message=f"{w.label}: {failure}; whether it reached QuickBooks is unknown, so it is looked up "
                               f"and sent again (with the same request id) on the next run")

    def _number_taken(self, w: _Work, holder: dict[str, Any], changed: list[str]) -> Outcome:
        what = ", ".join(changed) or "content"
        return Outcome(
            Status.FAILED, error_code="6140", http_status=400,
            message=f"{w.label}: QuickBooks already has {LABEL[w.entity].lower()} number {w.document.doc_number} "
                    f"({summary(holder)}) and it differs from the source in {what}. If it is this document (entered "
                    f"by hand, or an earlier version), delete or renumber it in QuickBooks; nothing was sent, and it is "
                    f"tried again on the next run.")

    def _fault_outcome(self, w: _Work, fault: QboFault, http_status: int | None) -> Outcome:
        code, detail = fault.code, fault.text()
        if code == "6210":
            return Outcome(Status.HELD, error_code="6210", http_status=http_status, message=self._held_message(w))
        if code in ("610", "2500"):
            self._forget_references(w.document)
        sentence = {
            "610": "something it refers to was deleted or made inactive in QuickBooks ({detail}); make the customer or "
                   "item active again (or restore the linked document) and run again",
            "2500": "it refers to a customer, item or account that does not exist in QuickBooks ({detail}); it is "
                    "looked up again on the next run",
            "2020": "QuickBooks says something required is missing ({detail}); correct the document in the source",
            "2050": "a value is longer than QuickBooks allows ({detail}); a document number is at most 21 characters, "
                    "shorten it (or the configured prefix) in the source",
            "6070": "a line's amount is not its quantity times its rate rounded to the cent ({detail}); correct the "
                    "line in the source",
            "6140": "QuickBooks says its number is already used ({detail}); renumber or delete the other document in "
                    "QuickBooks",
            "6240": "QuickBooks says a name is already used by another customer, vendor or employee ({detail})",
            "6000": "QuickBooks refused it: {detail}",
        }.get(code, "QuickBooks refused it with error {code} ({detail})")
        return Outcome(Status.FAILED, error_code=code or "refused", http_status=http_status,
                       message=f"{w.label}: {sentence.format(detail=detail, code=code)}. Nothing was posted.")

    def _held_message(self, w: _Work) -> str:
        close = self._close_date_for_message()
        when = f" {close:%m/%d/%Y}" if close else ""
        return (f"{w.label}: dated {w.document.txn_date:%m/%d/%Y}, on or before the QuickBooks closing date{when}; "
                f"it is held and posts once the books are reopened for that date")
