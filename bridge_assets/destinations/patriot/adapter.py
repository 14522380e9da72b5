"""Patriot Accounting as a destination: its customer import file and a keying sheet, behind the interface.

Patriot has no public API and imports no invoices, credits or payments (patriot.md). Per period and run the
bridge writes, into `folder`:

* `patriot-customers_<period>_<run>.csv`: Patriot's customer import, only customers no earlier file holds
  (known by the key in `Notes`), at most 200 per file (a run with more writes `..._2.csv` and so on). Import
  it first (Accounting > Receivables > Customer List > Import Customers): Patriot needs the customer before an
  invoice or payment can be entered.
* `patriot-keying_<period>_<run>.csv`: each new invoice, credit and payment once, one row per line, for a
  person to key in (Accounting > Receivables).

A document's customer row is written (and fsynced) before its keying rows, so a crash leaves at worst a
customer without its invoice, which the next run finds and does not write again. Patriot can take nothing
back from a file: a document changed or cancelled after it was listed is `by_hand`, with the sentence saying
what to edit or void in Patriot. The closing date is configured (`closed_through`): Patriot's "Close
Accounting Periods" cannot be read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Sequence

from bridge_assets.destinations.base import Action, Capabilities, Outcome, PostRequest, Status, by_hand
from bridge_assets.destinations.kit.cells import amount_text, parse_amount, text_cell
from bridge_assets.destinations.kit.files import OutputFolder, RunFile, finished_name
from bridge_assets.destinations.kit.run_files import (
    RunFileDestination,
    doc_label,
    file_dest_id,
    held_outcome,
    period_is_open,
    split_dest_id,
)
from bridge_assets.destinations.patriot import sheets
from bridge_assets.model.document import AccountingDocument, canonical_dict

WHERE = {"invoice": "Accounting > Receivables > Invoices", "credit_memo": "Accounting > Receivables",
         "payment": "Accounting > Receivables > Receive Payments"}


class PatriotDestination(RunFileDestination):
    """Patriot Software Accounting, by customer import file and keying sheet (module docstring)."""

    name = "patriot"
    capabilities = Capabilities(
        supports_update=False, supports_void=False, honours_request_id=False, batch_size=200, reads_back=False,
        links_payments=True,          # the sheet names the invoices a payment pays, as Patriot's Receive Payments
    )

    def __init__(self, folder: Path | str, *, closed_through: dt.date | None = None,
                 customers_per_file: int = sheets.CUSTOMERS_PER_FILE):
        self.folder = OutputFolder(folder, prefix="patriot-keying", suffix=".csv", header=sheets.KEYING_HEADER,
                                   scan=sheets.scan_keying_sheet)
        self.customers = OutputFolder(folder, prefix="patriot-customers", suffix=".csv",
                                      header=sheets.CUSTOMER_HEADER, scan=sheets.scan_customer_file)
        self.closed_through = closed_through
        self.customers_per_file = min(customers_per_file, sheets.CUSTOMERS_PER_FILE)
        self._run: RunFile | None = None
        self._run_id: str | None = None
        self._period: str | None = None
        self._finished_crashed: list[str] = []
        self._customer_files: list[RunFile] = []
        self._customer_rows = 0
        self._known: dict[str, str] | None = None     # customer key -> Business Name, in any customer file

    @classmethod
    def from_settings(cls, settings: Any) -> "PatriotDestination":
        """The one place Patriot's settings are read: the output folder and the configured closing date."""
        return cls(Path(settings.output) / "patriot", closed_through=settings.books_closed_through)

    # --- runs -------------------------------------------------------------------------------------

    def begin_run(self, run_id: str, period: str) -> None:
        super().begin_run(run_id, period)
        self._finished_crashed += [str(path) for path in self.customers.finish_crashed_runs()]
        self._period, self._customer_files, self._customer_rows = period, [], 0
        self._known = {entry.doc_number: entry.rows[0]["Business Name"] for _, entry in self.customers.entries()}

    def end_run(self) -> list[str]:
        customer_files = []
        try:
            for run_file in self._customer_files:
                path = run_file.finish()
                if path is not None:
                    customer_files.append(str(path))
        finally:
            self._customer_files, self._known = [], None
        return customer_files + super().end_run()

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        """Customers Patriot's import would refuse: {doc_key: what to change}."""
        return {d.doc_key: self._customer_refused(d).message for d in documents if sheets.customer_problem(d)}

    def is_period_open(self, txn_date) -> bool:
        return period_is_open(txn_date, self.closed_through)

    def book_close_date(self) -> dt.date | None:
        return self.closed_through

    # --- posting ----------------------------------------------------------------------------------

    def _post_one(self, request: PostRequest) -> Outcome:
        document = request.document
        action = getattr(request.action, "value", request.action)
        if action == Action.UPDATE.value:
            return self._update_refused(document, request.previous)
        if action == Action.VOID.value:
            return self._void_refused(document.doc_type, document.doc_number)
        if action != Action.CREATE.value or document.doc_type not in sheets.TYPE_WORDS:
            return Outcome(status=Status.FAILED, error_code="action_unsupported",
                           message=f"{doc_label(document)}: the Patriot keying sheet lists new invoices, credits "
                                   f"and payments only, not {action!r} of a {document.doc_type}; nothing was written.")
        if not self.is_period_open(document.txn_date):
            assert self.closed_through is not None
            return held_outcome(document, self.closed_through, "Patriot")
        if sheets.customer_problem(document):
            return self._customer_refused(document, sheets.customer_problem(document))
        name = self._customer_name(document)
        if name is None:
            return self._customer_refused(document, (
                f"has customer {sheets.business_name(document)!r} (key {document.customer_key}), whose name another "
                f"customer already holds in a Patriot customer file, and with its key added it would exceed "
                f"{sheets.BUSINESS_NAME_MAX} characters"))
        failure = self._write_customer(document, name)
        if failure is None:
            failure = self._append(sheets.keying_rows(document, request.request_id, name), doc_label(document))
        if failure is not None:
            return failure
        return Outcome(status=Status.CREATED, dest_id=file_dest_id(self._run.name, document.doc_number),
                       dest_doc_number=text_cell(document.doc_number), version=self._run_id,
                       before=request.previous, after=canonical_dict(document))

    def _customer_name(self, document: AccountingDocument) -> str | None:
        """The Business Name this document's customer has (or gets) in Patriot: as a customer file already holds
        it; else the source's name, with the customer key added when another customer holds that name (Patriot
        tells customers apart by name), or None when that would be too long."""
        assert self._known is not None
        key = text_cell(document.customer_key)
        if key in self._known:
            return self._known[key]
        name = sheets.business_name(document)
        taken = {held.casefold() for other, held in self._known.items() if other != key}
        if name.casefold() not in taken:
            return name
        named = f"{name} ({key})"
        return named if len(named) <= sheets.BUSINESS_NAME_MAX and named.casefold() not in taken else None

    def _write_customer(self, document: AccountingDocument, name: str) -> Outcome | None:
        """The document's customer into this run's customer file, unless a file already holds it."""
        assert self._known is not None and self._period is not None and self._run_id is not None
        key = text_cell(document.customer_key)
        if key in self._known:
            return None
        if not self._customer_files or self._customer_rows >= self.customers_per_file:
            if self._customer_files:
                self._customer_files[-1].finish()
            self._customer_files.append(self.customers.start_run(self._run_id, self._period))
            self._customer_rows = 0
        run_file = self._customer_files[-1]
        try:
            run_file.append(sheets.customer_row(document, name))
        except OSError as error:
            return Outcome(status=Status.RETRY, error_code="write_failed",
                           message=f"The customer of {doc_label(document)} could not be written to {run_file.name}: "
                                   f"{error}. Nothing of the document was kept; it will be sent again.")
        self._customer_rows += 1
        self._known[key] = name
        return None

    def _customer_refused(self, document: AccountingDocument, problem: str | None = None) -> Outcome:
        return Outcome(status=Status.FAILED, error_code="invalid_reference",
                       message=f"{doc_label(document)} {problem or sheets.customer_problem(document)}; nothing was "
                               f"written. Correct the customer's name in the source (or add the customer in Patriot by "
                               f"hand and key the document there).")

    # --- what Patriot cannot take from a file -----------------------------------------------------

    def by_hand_outcome(self, capability: str, action: str, doc_type: str, doc_number: str,
                        document: AccountingDocument | None, previous: dict | None) -> Outcome:
        """What the plan records for an action Patriot lacks (`base.by_hand_for`): the refusal `post` would give."""
        if capability == "supports_update" and document is not None:
            return self._update_refused(document, previous)
        if capability == "restores":
            return self.restore(doc_type, doc_number, previous or {})
        return self._void_refused(doc_type, doc_number)

    def _update_refused(self, document: AccountingDocument, previous: dict | None) -> Outcome:
        was = parse_amount((previous or {}).get("total"))
        totals = (f"its total was {amount_text(was)} and is now {amount_text(document.total)}" if was is not None
                  else f"it now totals {amount_text(document.total)}")
        now = canonical_dict(document)
        changed = sorted(key for key in now if previous and key in previous and previous[key] != now[key])
        what = f" (changed: {', '.join(changed)})" if changed else ""
        kind = sheets.TYPE_WORDS.get(document.doc_type, document.doc_type).lower()
        return by_hand("supports_update",
                       f"{doc_label(document)} changed in the source after it was listed on a Patriot keying sheet: "
                       f"{totals}{what}. Patriot imports no invoices, so open {kind} {document.doc_number} in "
                       f"Patriot ({WHERE.get(document.doc_type, 'Accounting > Receivables')}) and edit it by hand "
                       f"to match.", before=previous)

    def _void_refused(self, doc_type: str, doc_number: str) -> Outcome:
        kind = sheets.TYPE_WORDS.get(doc_type, doc_type).lower()
        return by_hand("supports_void",
                       f"{kind.capitalize()} {doc_number} was cancelled after it was listed on a Patriot keying sheet, "
                       f"and Patriot takes no voids from a file: open {kind} {doc_number} in Patriot "
                       f"({WHERE.get(doc_type, 'Accounting > Receivables')}) and void it by hand (a voided invoice "
                       f"leaves the customer's balance).")

    # --- look-up and undo -------------------------------------------------------------------------

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """The document's entry on any keying sheet of the folder (each is listed once)."""
        found = self.folder.latest(doc_type, text_cell(doc_number))
        if found is None:
            return None
        path, entry = found
        file_name = finished_name(path)
        return Outcome(status=Status.CREATED, dest_id=file_dest_id(file_name, doc_number),
                       dest_doc_number=entry.doc_number,
                       after={"file": file_name, "doc_type": entry.doc_type, "doc_number": entry.doc_number,
                              "total": entry.total, "request_id": entry.request_id,
                              "content_hash": entry.content_hash})

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        return self._void_refused(doc_type, _number(dest_id))

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        kind = sheets.TYPE_WORDS.get(doc_type, doc_type).lower()
        total = parse_amount((before or {}).get("total"))
        to_total = f" (total {amount_text(total)})" if total is not None else ""
        return by_hand("restores",
                       f"Patriot takes no changes from a file: open {kind} {_number(dest_id)} in Patriot "
                       f"({WHERE.get(doc_type, 'Accounting > Receivables')}) and put it back as it was{to_total} "
                       f"by hand.")


def _number(dest_id: str) -> str:
    try:
        return split_dest_id(dest_id)[1]
    except ValueError:
        return dest_id

