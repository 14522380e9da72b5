"""The accountant staging file: one CSV per run for a bookkeeper to review or import.

One row per document line (a document without lines, such as a payment, and a void get one row),
every row carrying the document's header fields and totals, so the file can be filtered, pivoted or
imported without joining anything. UTF-8 with a byte-order mark and CRLF, so Excel opens it right;
money as plain decimal strings ("-12.50"), never floats; dates as YYYY-MM-DD.

Beyond the columns the bookkeeper asked for, a row carries `currency`, `memo` and `line_count`
(how many line rows the document has in this entry): the last one also lets a reader tell a
complete document from one cut short by a crash.

Text cells are one line each (tabs and line breaks become spaces) and formula starts get a leading
`'`; numeric cells are never touched.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Mapping, Sequence

from bridge_assets.destinations.base import (
    Action,
    Capabilities,
    Outcome,
    PostRequest,
    Status,
)
from bridge_assets.destinations.kit.run_files import (
    RunFileDestination,
    as_date,
    doc_label,
    file_dest_id,
    held_outcome,
    period_is_open,
    split_dest_id,
)
from bridge_assets.destinations.kit.cells import (
    amount_text,
    parse_amount,
    quantity_text,
    row_cells,
    text_cell,
)
from bridge_assets.destinations.kit.files import (
    Entry,
    FileScan,
    OutputFolder,
    RunFile,
    complete_records,
    finished_name,
)
from bridge_assets.model.document import (
    AccountingDocument,
    canonical_dict,
    content_hash,
    document_from_dict,
)

COLUMNS: tuple[str, ...] = (
    "action", "doc_type", "doc_number", "txn_date", "due_date", "customer_key", "customer_name", "site",
    "terms", "po_number", "line_no", "kind", "item_code", "description", "qty", "unit_price", "amount",
    "taxable", "tax_amount", "doc_subtotal", "doc_tax", "doc_total", "previous_total", "currency",
    "applies_to", "service_start", "service_end", "memo", "line_count", "request_id", "content_hash",
)
NUMERIC_COLUMNS = frozenset({
    "line_no", "qty", "unit_price", "amount", "tax_amount", "doc_subtotal", "doc_tax", "doc_total",
    "previous_total", "line_count",
})
LINE_COLUMNS = ("line_no", "kind", "item_code", "description", "qty", "unit_price", "amount", "taxable",
                "tax_amount", "service_start", "service_end")
_REQUIRED_TO_READ = frozenset({"action", "doc_type", "doc_number", "doc_total", "line_count", "request_id",
                               "content_hash"})

BOM = "\ufeff".encode("utf-8")


def _csv_text(rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()


HEADER = BOM + _csv_text([COLUMNS]).encode("utf-8")


written_text = text_cell   # a text cell as the file holds it: one line, formula starts neutralised


def _file_bytes(rows: Sequence[Mapping[str, str]]) -> bytes:
    return _csv_text([row_cells(row, COLUMNS, NUMERIC_COLUMNS) for row in rows]).encode("utf-8")


def scan_staging_csv(data: bytes) -> FileScan | None:
    """The complete documents (all `line_count` rows present) at the start of a staging file."""
    start = len(BOM) if data.startswith(BOM) else 0
    header_end = data.find(b"\r\n", start)
    if header_end < 0:
        if HEADER.startswith(data) or not data.strip(b"\x00"):
            return FileScan((), 0)   # torn before its first document
        return None
    try:
        columns = next(csv.reader([data[start:header_end].decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    if not _REQUIRED_TO_READ <= set(columns):
        return None
    entries: list[Entry] = []
    pending: list[dict[str, str]] = []
    complete = 0
    for row, offset in complete_records(data, header_end + 2, columns):
        try:
            expected = max(1, int(row["line_count"] or "0"))
        except ValueError:
            break   # damaged from here on
        if pending and _entry_key(pending[0]) != _entry_key(row):
            break
        pending.append(row)
        if len(pending) == expected:
            first = pending[0]
            entries.append(Entry(
                action=first["action"], doc_type=first["doc_type"], doc_number=first["doc_number"],
                request_id=first["request_id"], content_hash=first["content_hash"], total=first["doc_total"],
                rows=tuple(pending),
            ))
            pending = []
            complete = offset
    return FileScan(tuple(entries), complete)


def _entry_key(row: Mapping[str, str]) -> tuple[str, ...]:
    return (row["action"], row["doc_type"], row["doc_number"], row["request_id"], row["content_hash"])


class StagingCsvDestination(RunFileDestination):
    """The accountant staging file: `staging_<period>_<run_id>.csv` in `folder`, one per run.

    Option: `closed_through` (documents dated on or before it are HELD).
    """

    name = "staging_csv"
    capabilities = Capabilities(
        supports_update=True, supports_void=True, honours_request_id=False, batch_size=500, reads_back=False,
    )

    def __init__(self, folder: Path | str, *, closed_through: dt.date | None = None):
        self.folder = OutputFolder(folder, prefix="staging", suffix=".csv", header=HEADER, scan=scan_staging_csv)
        self.closed_through = closed_through
        self._run: RunFile | None = None
        self._run_id: str | None = None
        self._finished_crashed: list[str] = []

    # --- runs -------------------------------------------------------------------------------------


    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        return {}   # a staging file names customers and items as they are; the bookkeeper maps them

    def is_period_open(self, txn_date) -> bool:
        return period_is_open(txn_date, self.closed_through)

    def book_close_date(self) -> dt.date | None:
        return self.closed_through

    # --- posting ----------------------------------------------------------------------------------

    def _post_one(self, request: PostRequest) -> Outcome:
        document = request.document
        try:
            action = Action(request.action)
        except ValueError:
            action = None
        if action not in (Action.CREATE, Action.UPDATE, Action.VOID):
            return Outcome(status=Status.FAILED, error_code="action_unsupported",
                           message=f"{doc_label(document)}: the staging file takes create, update and void, "
                                   f"not {request.action!r}; nothing was written.")
        if not self.is_period_open(document.txn_date):
            assert self.closed_through is not None
            return held_outcome(document, self.closed_through, "the staging file")
        previous_total = ""
        if action is Action.UPDATE and request.previous:
            was = parse_amount(request.previous.get("total"))
            previous_total = amount_text(was) if was is not None else ""
        rows = _document_rows(action.value, document, request.request_id, previous_total)
        failure = self._append(_file_bytes(rows), f"Document {document.doc_number}")
        if failure:
            return failure
        status = {Action.CREATE: Status.CREATED, Action.UPDATE: Status.UPDATED, Action.VOID: Status.VOIDED}[action]
        if action is Action.VOID:
            before = request.previous if request.previous is not None else canonical_dict(document)
            after = {"voided": True, "doc_type": document.doc_type, "doc_number": document.doc_number}
        else:
            before, after = request.previous, canonical_dict(document)
        return self._outcome(status, document.doc_number, before=before, after=after)

    def _outcome(self, status: Status, doc_number: str, before: dict | None, after: dict | None) -> Outcome:
        assert self._run is not None
        return Outcome(status=status, dest_id=file_dest_id(self._run.name, doc_number),
                       dest_doc_number=written_text(doc_number), version=self._run_id, before=before, after=after)

    # --- look-up and undo -------------------------------------------------------------------------

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """The latest complete entry for this document in any staging file of the folder.

        `after` says which action that entry was and carries its request id and content hash, so a
        caller resolving an update can tell whether its own request got there. A document whose latest
        entry is a void is not live (it was reverted or cancelled): None, as QuickBooks' find skips voided
        documents, so posting it again after a revert is a new entry, never mistaken for one that landed.
        """
        found = self.folder.latest(doc_type, written_text(doc_number))
        if found is None or found[1].action == Action.VOID.value:
            return None   # a voided document is not live in the files (as QuickBooks' find skips voided ones)
        path, entry = found
        file_name = finished_name(path)
        return Outcome(status=Status.CREATED, dest_id=file_dest_id(file_name, doc_number),
                       dest_doc_number=entry.doc_number, after=_entry_summary(file_name, entry))

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        """Write a void row for the document's latest entry (nothing if it is already voided)."""
        if self._run is None:
            raise RuntimeError("call begin_run(run_id, period) before void_or_delete: "
                               "the void row goes into that run's file")
        _, doc_number = split_dest_id(dest_id)
        found = self.folder.latest(doc_type, written_text(doc_number))
        if found is None:
            return Outcome(status=Status.FAILED, error_code="not_found",
                           message=f"{doc_type} {doc_number} is in no staging file in {self.folder.path}; "
                                   f"there is nothing to void.")
        path, entry = found
        summary = _entry_summary(finished_name(path), entry)
        if entry.action == Action.VOID.value:
            return Outcome(status=Status.VOIDED, dest_id=file_dest_id(finished_name(path), doc_number),
                           dest_doc_number=entry.doc_number, before=summary, after=summary)
        void_row = {column: value for column, value in entry.rows[0].items() if column not in LINE_COLUMNS}
        void_row.update(action=Action.VOID.value, previous_total="", line_count="0", request_id="")
        for column in ("doc_subtotal", "doc_tax", "doc_total"):   # numeric cells are never neutralised:
            amount = parse_amount(void_row.get(column))             # only ever copy a real number
            void_row[column] = amount_text(amount) if amount is not None else ""
        failure = self._append(_file_bytes([void_row]), f"Document {doc_number}")
        if failure:
            return failure
        return self._outcome(Status.VOIDED, doc_number, before=summary,
                             after={"voided": True, "doc_type": doc_type, "doc_number": doc_number})

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        """Write the document back as `before` (a `canonical_dict`) as an update entry."""
        if self._run is None:
            raise RuntimeError("call begin_run(run_id, period) before restore: "
                               "the restoring rows go into that run's file")
        _, doc_number = split_dest_id(dest_id)
        try:
            document = document_from_dict(before)
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            return Outcome(status=Status.FAILED, error_code="restore_unreadable",
                           message=f"{doc_type} {doc_number} cannot be restored: the saved state is not a complete "
                                   f"document ({error!r}). Restore it by hand from the ledger's events.")
        found = self.folder.latest(doc_type, written_text(doc_number))
        current = _entry_summary(finished_name(found[0]), found[1]) if found else None
        restored_hash = document.content_hash or content_hash(document)
        if current is not None and current["action"] != Action.VOID.value and current["content_hash"] == restored_hash:
            # Already as it was (an earlier restore was written before a crash): not written twice.
            return Outcome(status=Status.UPDATED, dest_id=file_dest_id(current["file"], doc_number),
                           dest_doc_number=found[1].doc_number, before=current, after=canonical_dict(document),
                           message=f"{doc_type} {doc_number} already holds the state it is restored to ({current['file']})")
        rows = _document_rows(Action.UPDATE.value, document, "", current["total"] if current else "")
        failure = self._append(_file_bytes(rows), f"Document {doc_number}")
        if failure:
            return failure
        return self._outcome(Status.UPDATED, doc_number, before=current, after=canonical_dict(document))


def _entry_summary(file_name: str, entry: Entry) -> dict:
    return {"file": file_name, "action": entry.action, "doc_type": entry.doc_type, "doc_number": entry.doc_number,
            "total": entry.total, "request_id": entry.request_id, "content_hash": entry.content_hash}


def _document_rows(action: str, document: AccountingDocument, request_id: str,
                   previous_total: str) -> list[dict[str, str]]:
    lines = [] if action == Action.VOID.value else sorted(document.lines, key=lambda line: line.line_no)
    header = {
        "action": action,
        "doc_type": document.doc_type,
        "doc_number": document.doc_number,
        "txn_date": _iso(document.txn_date),
        "due_date": _iso(document.due_date),
        "customer_key": document.customer_key,
        "customer_name": document.customer_name,
        "site": document.site,
        "terms": document.terms,
        "po_number": document.po_number,
        "doc_subtotal": amount_text(document.subtotal),
        "doc_tax": amount_text(document.tax_total),
        "doc_total": amount_text(document.total),
        "previous_total": previous_total,
        "currency": document.currency,
        "applies_to": "; ".join(f"{application.doc_number}:{amount_text(application.amount)}"
                                for application in sorted(document.applies_to, key=lambda a: a.doc_key)),
        "memo": document.memo,
        "line_count": str(len(lines)),
        "request_id": request_id,
        "content_hash": document.content_hash or content_hash(document),
    }
    if not lines:
        return [header]
    return [{
        **header,
        "line_no": str(line.line_no),
        "kind": line.kind,
        "item_code": line.item_code,
        "description": line.description,
        "qty": quantity_text(line.qty),
        "unit_price": quantity_text(line.unit_price),
        "amount": amount_text(line.amount),
        "taxable": "Y" if line.taxable else "N",
        "tax_amount": amount_text(line.tax_amount),
        "service_start": _iso(line.service_start),
        "service_end": _iso(line.service_end),
    } for line in lines]


def _iso(value: dt.date | dt.datetime | None) -> str:
    return as_date(value).isoformat() if value is not None else ""


