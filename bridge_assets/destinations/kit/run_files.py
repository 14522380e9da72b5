"""What the file destinations share beyond writing: periods, held outcomes, ids and begin/end of a run.

The writing itself (run files, crash safety, spreadsheet-safe cells) is the kit's:
`destinations.kit.files` and `destinations.kit.cells`.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from bridge_assets.model.outcome import Outcome, Status
from bridge_assets.destinations.base import Capabilities, PostRequest
from bridge_assets.destinations.kit.files import OutputFolder, RunFile
from bridge_assets.model.document import AccountingDocument


def as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


# --- periods and outcomes shared by the file destinations -----------------------------------------


def period_is_open(txn_date: dt.date | dt.datetime, closed_through: dt.date | None) -> bool:
    return closed_through is None or as_date(txn_date) > closed_through


def held_outcome(document: AccountingDocument, closed_through: dt.date, where: str) -> Outcome:
    return Outcome(
        status=Status.HELD,
        error_code="period_closed",
        message=(
            f"{doc_label(document)} is dated {as_date(document.txn_date).isoformat()}, but {where} is closed "
            f"through {closed_through.isoformat()} (option closed_through). It is held and will be written "
            f"once closed_through is moved before its date."
        ),
    )


def doc_label(document: AccountingDocument) -> str:
    kind = {"invoice": "Invoice", "credit_memo": "Credit memo", "payment": "Payment"}.get(
        document.doc_type, document.doc_type)
    return f"{kind} {document.doc_number} ({document.customer_name})"


def file_dest_id(file_name: str, doc_number: str) -> str:
    """`<file name>#<doc number>`; file names never contain `#`, so the first `#` splits it."""
    return f"{file_name}#{doc_number}"


def split_dest_id(value: str) -> tuple[str, str]:
    file_name, sep, doc_number = value.partition("#")
    if not sep or not file_name or not doc_number:
        raise ValueError(f"not a file destination id (expected '<file name>#<doc number>'): {value!r}")
    return file_name, doc_number


class RunFileDestination:
    """begin_run / end_run / post for destinations that write one file per period and run into `self.folder`."""

    capabilities: Capabilities
    folder: "OutputFolder"
    _run: "RunFile | None" = None
    _run_id: str | None = None
    _finished_crashed: list[str]

    def begin_run(self, run_id: str, period: str) -> None:
        if self._run is not None:
            raise RuntimeError("begin_run called again before end_run")
        self.folder.ensure()
        self._finished_crashed = [str(path) for path in self.folder.finish_crashed_runs()]
        self._run = self.folder.start_run(run_id, period)
        self._run_id = run_id

    def end_run(self) -> list[str]:
        """This run's file (if it wrote anything), after any crashed run's file it completed."""
        if self._run is None:
            return []
        try:
            path = self._run.finish()
        finally:
            self._run, self._run_id = None, None
        written, self._finished_crashed = self._finished_crashed, []
        return written + ([str(path)] if path else [])

    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        """One outcome per request, each written (or refused) by the platform's `_post_one`."""
        if self._run is None:
            raise RuntimeError("post called before begin_run")
        if len(requests) > self.capabilities.batch_size:
            raise ValueError(f"at most {self.capabilities.batch_size} requests per post, got {len(requests)}")
        return [self._post_one(request) for request in requests]

    def _append(self, data: bytes, label: str) -> Outcome | None:
        """Write one document's rows to this run's file: None when kept, else a RETRY outcome saying why."""
        assert self._run is not None
        try:
            self._run.append(data)
        except OSError as error:
            return Outcome(status=Status.RETRY, error_code="write_failed",
                           message=f"{label} could not be written to {self._run.name}: {error}. "
                                   f"Nothing of it was kept; it will be sent again.")
        return None
