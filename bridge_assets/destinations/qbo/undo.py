"""Undo: void or delete, and restore a document to the state an update saved (revert relies on both)."""

from __future__ import annotations

from typing import Any

from bridge_assets.destinations.base import Outcome, Status
from bridge_assets.destinations.qbo.client import QboFault, QboUnavailable
from bridge_assets.destinations.qbo.payloads import (
    LABEL,
    NUMBER_FIELD,
    differences,
    entity_for,
    is_credit_application,
    is_voided,
    restore_body,
)
from bridge_assets.destinations.qbo.work import _Write


class UndoMixin:
    """void_or_delete and restore of QboDestination."""

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        """Void an invoice; delete a credit memo (and the $0 payment that applied it) or a payment."""
        entity = entity_for(doc_type)
        what = f"{LABEL[entity]} Id {dest_id}"
        operation = "void" if entity == "Invoice" else "delete"
        try:
            current = self._read(entity, dest_id)
            if current is None:
                return Outcome(Status.VOIDED, dest_id=dest_id, message=f"{what} is already deleted in QuickBooks")
            if entity == "Invoice" and is_voided(current):
                return Outcome(Status.VOIDED, dest_id=dest_id, version=str(current.get("SyncToken")), before=current,
                               after=current, message=f"{what} is already voided in QuickBooks")
            if entity == "CreditMemo":
                current = self._delete_applications(current) or current
            before = current
            for attempt in (1, 2):
                write = _Write(entity, operation, {"Id": str(current["Id"]), "SyncToken": str(current["SyncToken"])},
                               f"{operation}|{entity}|{current['Id']}|{current['SyncToken']}|{self._run_nonce}")
                result = self._write([write])[0]
                if result.entity is not None:
                    return Outcome(Status.VOIDED, dest_id=dest_id,
                                   dest_doc_number=str(before.get(NUMBER_FIELD[entity]) or "") or None,
                                   version=str(result.entity.get("SyncToken")) if "SyncToken" in result.entity else version,
                                   http_status=200, before=before, after=result.entity)
                fault = result.faults[0] if result.faults else QboFault("", "", "no answer")
                if fault.code == "5010" and attempt == 1:
                    current = self._read(entity, dest_id)
                    if current is None:
                        break
                    continue
                if fault.code == "610":
                    break
                return self._undo_fault(what, operation, fault, result.http_status, before)
            return Outcome(Status.VOIDED, dest_id=dest_id, before=before, message=f"{what} is already deleted in QuickBooks")
        except QboUnavailable as failure:
            return Outcome(Status.RETRY, dest_id=dest_id, error_code="unavailable", http_status=failure.http_status,
                           message=f"{what}: {failure}; try the {operation} again")

    def _delete_applications(self, credit: dict[str, Any]) -> dict[str, Any] | None:
        """Delete the $0 payments the bridge made to apply this credit; the credit memo read afterwards."""
        deleted = False
        for link in credit.get("LinkedTxn") or []:
            if link.get("TxnType") != "Payment":
                continue
            payment = self._read("Payment", str(link.get("TxnId")))
            if payment is None or not is_credit_application(payment, str(credit["Id"])):
                continue
            write = _Write("Payment", "delete", {"Id": str(payment["Id"]), "SyncToken": str(payment["SyncToken"])},
                           f"delete|Payment|{payment['Id']}|{payment['SyncToken']}|{self._run_nonce}")
            result = self._write([write])[0]
            deleted = deleted or result.entity is not None
        return self._read("CreditMemo", str(credit["Id"])) if deleted else None

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        """Put the document back as it was before an update (a full update from `before`)."""
        entity = entity_for(doc_type)
        what = f"{LABEL[entity]} Id {dest_id}"
        try:
            for attempt in (1, 2):
                current = self._read(entity, dest_id)
                if current is None:
                    return Outcome(Status.FAILED, dest_id=dest_id, error_code="610",
                                   message=f"{what} was deleted in QuickBooks, so it cannot be restored; re-enter it by "
                                           f"hand from the ledger's saved state")
                body = restore_body(before, current)
                if not differences(body, current):
                    # Already as it was (an earlier restore landed and its answer was lost): not sent again.
                    return Outcome(Status.UPDATED, dest_id=dest_id,
                                   dest_doc_number=str(current.get(NUMBER_FIELD[entity]) or "") or None,
                                   version=str(current.get("SyncToken")), http_status=200, before=current,
                                   after=current, message=f"{what} already holds the state it is restored to")
                write = _Write(entity, "update", body,
                               f"restore|{entity}|{current['Id']}|{current['SyncToken']}|{self._run_nonce}")
                result = self._write([write])[0]
                if result.entity is not None:
                    return Outcome(Status.UPDATED, dest_id=dest_id,
                                   dest_doc_number=str(result.entity.get(NUMBER_FIELD[entity]) or "") or None,
                                   version=str(result.entity.get("SyncToken")), http_status=200,
                                   before=current, after=result.entity)
                fault = result.faults[0] if result.faults else QboFault("", "", "no answer")
                if fault.code == "5010" and attempt == 1:
                    continue
                return self._undo_fault(what, "restore", fault, result.http_status, current)
        except QboUnavailable as failure:
            return Outcome(Status.RETRY, dest_id=dest_id, error_code="unavailable", http_status=failure.http_status,
                           message=f"{what}: {failure}; try the restore again")
        raise AssertionError("unreachable")

    def _undo_fault(self, what: str, operation: str, fault: QboFault, http_status: int | None,
                    before: dict[str, Any]) -> Outcome:
        if fault.code == "6210":
            close = self._close_date_for_message()
            when = f" ({close:%m/%d/%Y})" if close else ""
            return Outcome(Status.HELD, error_code="6210", http_status=http_status, before=before,
                           message=f"{what}: dated on or before the QuickBooks closing date{when}; the {operation} waits "
                                   f"until the books are reopened for that date")
        return Outcome(Status.FAILED, error_code=fault.code or "refused", http_status=http_status, before=before,
                       message=f"{what}: QuickBooks refused the {operation}: {fault.text()}")
