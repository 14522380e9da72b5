"""QuickBooks Desktop through IIF files: one file per run, imported by the bookkeeper.

Facts this follows (API_FACTS.md, QuickBooks Desktop): tab-separated, `!TRNS` / `!SPL` / `!ENDTRNS`
header rows once per file, then per transaction one `TRNS` row, its `SPL` rows and `ENDTRNS`; the
amounts of a transaction sum to zero (an invoice is positive on Accounts Receivable, negative on the
income lines; a credit memo the other way round). The importer caps DOCNUM at 12 characters, cuts
text at `;` and rejects $0 invoices; it cannot link a payment to an invoice, cannot change or void a
transaction it imported, and silently creates any name, item or account it does not know. ASCII and
CRLF are what it reads safely.

So: invoices and credit memos are written; payments, updates and voids come back FAILED with what
the bookkeeper must do by hand in QuickBooks Desktop. Names and items are written exactly as they
will be looked up (after the ASCII rules below), and `resolve_references` refuses those that would
not survive the trip.

Text rules for every text cell: non-ASCII letters lose their accents (é→e, ñ→n), typographic
punctuation becomes its ASCII look-alike (’→', “→", –→-, …→...), a few letters and signs are
spelled out (ß→ss, æ→ae, ø→o, €→EUR, ™→TM), anything else without an ASCII form becomes `?`;
tabs and line breaks become a space; `;` becomes `,`; formula starts get a leading `'`.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Mapping, Sequence

from bridge_assets.destinations.base import (
    Action,
    Capabilities,
    DestinationError,
    Outcome,
    PostRequest,
    Status,
    by_hand,
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
    neutralise_formula,
    parse_amount,
    quantity_text,
    row_cells,
    single_line,
)
from bridge_assets.destinations.kit.files import (
    Entry,
    FileScan,
    OutputFolder,
    RunFile,
    finished_name,
)
from bridge_assets.model.document import AccountingDocument, canonical_dict, money

DEFAULT_INCOME_ACCOUNTS: dict[str, str] = {
    "rmr": "Recurring Monthly Revenue",
    "ticket_labor": "Service Labor Income",
    "ticket_part": "Parts Sales",
    "fee": "Trip Charges",
    "other": "Other Income",
}

TRNS_COLUMNS = ("TRNSID", "TRNSTYPE", "DATE", "ACCNT", "NAME", "AMOUNT", "DOCNUM", "MEMO", "TERMS",
                "DUEDATE", "TOPRINT")
SPL_COLUMNS = ("SPLID", "TRNSTYPE", "DATE", "ACCNT", "NAME", "AMOUNT", "DOCNUM", "MEMO", "QNTY", "PRICE",
               "INVITEM", "TAXABLE")
NUMERIC_COLUMNS = frozenset({"AMOUNT", "QNTY", "PRICE"})
CRLF = "\r\n"
HEADER = (
    "\t".join(("!TRNS", *TRNS_COLUMNS)) + CRLF
    + "\t".join(("!SPL", *SPL_COLUMNS)) + CRLF
    + "!ENDTRNS" + CRLF
).encode("ascii")

TRNSTYPES = {"invoice": "INVOICE", "credit_memo": "CREDIT MEMO"}
_DOC_TYPES_BY_TRNSTYPE = {value: key for key, value in TRNSTYPES.items()}

# Letters and signs that Unicode decomposition leaves alone, spelled the way a US bookkeeper would.
_SPELLED_OUT = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2022": "*", "\u00b7": ".", "\u2044": "/", "\u00d7": "x", "\u00f7": "/",
    "\u00df": "ss", "\u1e9e": "SS", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE",
    "\u00f8": "o", "\u00d8": "O", "\u0111": "d", "\u0110": "D", "\u0142": "l", "\u0141": "L",
    "\u00fe": "th", "\u00de": "Th", "\u00f0": "d", "\u00d0": "D", "\u0131": "i", "\u0127": "h", "\u0126": "H",
    "\u20ac": "EUR", "\u00a3": "GBP", "\u00a5": "JPY", "\u00a2": "c", "\u00a9": "(c)", "\u00ae": "(R)",
    "\u00b0": "deg", "\u00b5": "u", "\u03bc": "u", "\u00a7": "S", "\u00b6": "P",
    "\u00a1": "!", "\u00bf": "?",
}


def to_ascii(text: str) -> str:
    """Transliterate to ASCII (é→e, ñ→n, ’→', ß→ss); characters with no ASCII form become `?`."""
    out = []
    for char in unicodedata.normalize("NFKD", text):
        if char.isascii():
            out.append(char)
        elif unicodedata.combining(char):
            continue
        elif char in _SPELLED_OUT:
            out.append(_SPELLED_OUT[char])
        elif unicodedata.category(char).startswith("Z"):
            out.append(" ")   # no-break and other spaces, line and paragraph separators
        elif unicodedata.category(char) in ("Cf", "Mn"):
            continue   # zero-width joiners, soft hyphens, byte-order marks
        else:
            out.append("?")
    return "".join(out)


def iif_text(value: object) -> str:
    """A text cell as the importer will keep it: ASCII, one line, no `;`, no formula start."""
    text = single_line(to_ascii("" if value is None else str(value)))
    text = "".join(char if char >= " " and char != "\x7f" else " " for char in text)
    return neutralise_formula(text.replace(";", ","))


def iif_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    day = as_date(value)
    return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def _row(kind: str, columns: Sequence[str], values: Mapping[str, str]) -> str:
    return "\t".join((kind, *row_cells(values, columns, NUMERIC_COLUMNS, iif_text))) + CRLF


def scan_iif(data: bytes) -> FileScan | None:
    """The complete transactions (ending in ENDTRNS) at the start of an IIF file we wrote."""
    if not data.startswith(b"!TRNS\t"):
        if HEADER.startswith(data) or not data.strip(b"\x00"):
            return FileScan((), 0)   # torn before its first transaction
        return None
    entries: list[Entry] = []
    trns_columns: list[str] = []
    spl_columns: list[str] = []
    block: list[dict[str, str]] = []
    offset = complete = 0
    while True:
        end = data.find(b"\r\n", offset)
        if end < 0:
            break
        cells = data[offset:end].decode("ascii", errors="replace").split("\t")
        offset = end + 2
        tag = cells[0]
        if tag == "!TRNS":
            trns_columns = cells[1:]
        elif tag == "!SPL":
            spl_columns = cells[1:]
        elif tag == "!ENDTRNS":
            pass
        elif tag == "TRNS" and not block:
            block.append({"row": "TRNS", **dict(zip(trns_columns, cells[1:]))})
        elif tag == "SPL" and block:
            block.append({"row": "SPL", **dict(zip(spl_columns, cells[1:]))})
        elif tag == "ENDTRNS" and block:
            head = block[0]
            entries.append(Entry(
                action="create",
                doc_type=_DOC_TYPES_BY_TRNSTYPE.get(head.get("TRNSTYPE", ""), head.get("TRNSTYPE", "")),
                doc_number=head.get("DOCNUM", ""),
                request_id="",
                content_hash="",
                total=head.get("AMOUNT", ""),
                rows=tuple(block),
            ))
            block = []
            complete = offset
        else:
            break   # torn or foreign from here on
    return FileScan(tuple(entries), complete)


class IifDestination(RunFileDestination):
    """QuickBooks Desktop, by IIF file: `qbd_<period>_<run_id>.iif` in `folder`, one per run.

    Options: `ar_account`, `income_accounts` (line kind → income account, merged over
    `DEFAULT_INCOME_ACCOUNTS`), `sales_tax_account`, `sales_tax_item` (the QuickBooks sales tax item
    named on the tax line; blank leaves it out), `max_docnum` (12, the 2019+ importer's limit),
    `max_name_length` (41, customer names), `max_item_length` (31, item names), `closed_through`
    (documents dated on or before it are HELD).
    """

    name = "qbd_iif"
    capabilities = Capabilities(
        supports_update=False, supports_void=False, honours_request_id=False, batch_size=500, reads_back=False,
        links_payments=False,
    )

    def __init__(
        self,
        folder: Path | str,
        *,
        ar_account: str = "Accounts Receivable",
        income_accounts: Mapping[str, str] | None = None,
        sales_tax_account: str = "Sales Tax Payable",
        sales_tax_item: str = "",
        max_docnum: int = 12,
        max_name_length: int = 41,
        max_item_length: int = 31,
        closed_through: dt.date | None = None,
    ):
        self.folder = OutputFolder(folder, prefix="qbd", suffix=".iif", header=HEADER, scan=scan_iif)
        self.ar_account = ar_account
        self.income_accounts = {**DEFAULT_INCOME_ACCOUNTS, **(income_accounts or {})}
        self.sales_tax_account = sales_tax_account
        self.sales_tax_item = sales_tax_item
        self.max_docnum = max_docnum
        self.max_name_length = max_name_length
        self.max_item_length = max_item_length
        self.closed_through = closed_through
        self._check_options()
        self._run: RunFile | None = None
        self._run_id: str | None = None
        self._finished_crashed: list[str] = []

    def _check_options(self) -> None:
        accounts = {"ar_account": self.ar_account, "sales_tax_account": self.sales_tax_account,
                    **{f"income_accounts[{kind!r}]": account for kind, account in self.income_accounts.items()}}
        for option, account in accounts.items():
            if not account or iif_text(account) != account:
                raise DestinationError(
                    f"Option {option} = {account!r} cannot be written to IIF as it is (empty, non-ASCII, tab, "
                    f"line break, ';' or a leading =+-@): give the QuickBooks Desktop account name exactly.")
        if self.sales_tax_item and iif_text(self.sales_tax_item) != self.sales_tax_item:
            raise DestinationError(
                f"Option sales_tax_item = {self.sales_tax_item!r} cannot be written to IIF as it is.")
        for option in ("max_docnum", "max_name_length", "max_item_length"):
            value = getattr(self, option)
            if not isinstance(value, int) or value < 1:
                raise DestinationError(f"Option {option} must be a whole number of characters, got {value!r}.")

    # --- runs -------------------------------------------------------------------------------------


    # --- references -------------------------------------------------------------------------------

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        """Names and items QuickBooks Desktop would not match: {doc_key: what to change}."""
        problems = {}
        for document in documents:
            problem = self._reference_problem(document)
            if problem:
                problems[document.doc_key] = problem
        return problems

    def _reference_problem(self, document: AccountingDocument) -> str | None:
        sentences = []
        name_problem = _name_problem(document.customer_name, self.max_name_length)
        if name_problem:
            sentences.append(f"Customer name {document.customer_name!r} {name_problem} "
                             f"(QuickBooks Desktop customer names: at most {self.max_name_length} characters, "
                             f"option max_name_length); change it in the source or in both systems.")
        for line in sorted(document.lines, key=lambda l: l.line_no):
            item_problem = _name_problem(line.item_code, self.max_item_length, blank_ok=True)
            if item_problem:
                sentences.append(f"Item code {line.item_code!r} on line {line.line_no} {item_problem} "
                                 f"(QuickBooks Desktop item names: at most {self.max_item_length} characters, "
                                 f"option max_item_length); rename the item in the source or in both systems.")
        if not sentences:
            return None
        return f"{doc_label(document)}: " + " ".join(sentences)

    # --- posting ----------------------------------------------------------------------------------

    def _post_one(self, request: PostRequest) -> Outcome:
        document = request.document
        try:
            action = Action(request.action)
        except ValueError:
            action = None
        if action is Action.UPDATE:
            return self._update_refused(request)
        if action is Action.VOID:
            return self._void_refused(document.doc_type, document.doc_number)
        if action is not Action.CREATE:
            return _failed("action_unsupported",
                           f"{doc_label(document)}: the IIF file only takes new documents, not {request.action!r}; "
                           f"nothing was written.")
        if document.doc_type == "payment":
            return self._payment_refused(document)
        if document.doc_type not in TRNSTYPES:
            return _failed("doc_type_unsupported",
                           f"{doc_label(document)}: the IIF file takes invoices and credit memos only.")
        if not self.is_period_open(document.txn_date):
            assert self.closed_through is not None
            return held_outcome(document, self.closed_through, "QuickBooks Desktop (IIF)")
        problem = self._reference_problem(document)
        if problem:
            return _failed("invalid_reference", problem)
        docnum = iif_text(document.doc_number)
        if not docnum:
            return _failed("docnum_missing", f"{doc_label(document)} has no document number; IIF needs one.")
        if len(docnum) > self.max_docnum:
            return _failed(
                "docnum_too_long",
                f"{doc_label(document)}: document number {docnum!r} has {len(docnum)} characters, but the "
                f"QuickBooks Desktop importer keeps at most {self.max_docnum} (option max_docnum). Shorten the "
                f"source's document-number prefix, or raise max_docnum if your QuickBooks version takes more.")
        if document.doc_type == "invoice" and money(document.total) == 0:
            return _failed("zero_amount",
                           f"{doc_label(document)} totals 0.00 and QuickBooks Desktop refuses $0 invoices from IIF; "
                           f"it is not written. Enter it by hand if it must appear in the books.")
        unknown_kinds = sorted({line.kind for line in document.lines} - set(self.income_accounts))
        if unknown_kinds:
            return _failed("account_unmapped",
                           f"{doc_label(document)}: no income account for line kind(s) {', '.join(unknown_kinds)}; "
                           f"add them to the option income_accounts.")
        rows = self._transaction(document, docnum)
        if _written_sum(rows) != 0:
            return _failed(
                "unbalanced",
                f"{doc_label(document)} does not balance: total {amount_text(document.total)} is not lines "
                f"{amount_text(sum((money(l.amount) for l in document.lines), Decimal('0')))} plus tax "
                f"{amount_text(document.tax_total)}. Nothing was written; correct the document in the source.")
        failure = self._append("".join(rows).encode("ascii"), doc_label(document))
        if failure is not None:
            return failure
        return Outcome(
            status=Status.CREATED,
            dest_id=file_dest_id(self._run.name, document.doc_number),
            dest_doc_number=docnum,
            version=self._run_id,
            before=request.previous,
            after=canonical_dict(document),
        )

    def _transaction(self, document: AccountingDocument, docnum: str) -> list[str]:
        """The TRNS row, its SPL rows and ENDTRNS (their AMOUNT cells must sum to zero)."""
        sign = Decimal(1) if document.doc_type == "invoice" else Decimal(-1)
        date = iif_date(document.txn_date)
        trnstype = TRNSTYPES[document.doc_type]
        total = money(document.total) * sign
        rows = [_row("TRNS", TRNS_COLUMNS, {
            "TRNSTYPE": trnstype, "DATE": date, "ACCNT": self.ar_account, "NAME": document.customer_name,
            "AMOUNT": amount_text(total), "DOCNUM": docnum, "MEMO": document.memo, "TERMS": document.terms,
            "DUEDATE": iif_date(document.due_date), "TOPRINT": "N",
        })]
        for line in sorted(document.lines, key=lambda l: l.line_no):
            amount = -money(line.amount) * sign
            rows.append(_row("SPL", SPL_COLUMNS, {
                "TRNSTYPE": trnstype, "DATE": date, "ACCNT": self.income_accounts[line.kind],
                "AMOUNT": amount_text(amount), "DOCNUM": docnum, "MEMO": line.description,
                "QNTY": quantity_text(-Decimal(line.qty) * sign), "PRICE": quantity_text(line.unit_price),
                "INVITEM": line.item_code, "TAXABLE": "Y" if line.taxable else "N",
            }))
        if money(document.tax_total) != 0:
            tax = -money(document.tax_total) * sign
            rows.append(_row("SPL", SPL_COLUMNS, {
                "TRNSTYPE": trnstype, "DATE": date, "ACCNT": self.sales_tax_account,
                "AMOUNT": amount_text(tax), "DOCNUM": docnum, "MEMO": "Sales tax",
                "INVITEM": self.sales_tax_item, "TAXABLE": "N",
            }))
        rows.append("ENDTRNS" + CRLF)
        return rows

    def _update_refused(self, request: PostRequest) -> Outcome:
        document = request.document
        now = canonical_dict(document)
        previous = request.previous or {}
        was = parse_amount(previous.get("total"))
        if was is None:
            totals = f"its previous total is not known and it now totals {amount_text(document.total)}"
        else:
            totals = f"its total was {amount_text(was)} and is now {amount_text(document.total)}"
        changed = sorted(key for key in now if key in previous and previous[key] != now[key])
        what = f" (changed: {', '.join(changed)})" if changed else ""
        kind = _kind_words(document.doc_type)
        return by_hand(
            "supports_update",
            f"{doc_label(document)} changed in the source after it was written to an IIF file: {totals}{what}. "
            f"IIF cannot change a transaction QuickBooks Desktop has already imported, so open {kind} "
            f"{document.doc_number} in QuickBooks Desktop and edit it by hand to match.",
            before=request.previous,
        )

    def by_hand_outcome(self, capability: str, action: str, doc_type: str, doc_number: str,
                        document: AccountingDocument | None, previous: dict | None) -> Outcome:
        """What the plan records for an action IIF lacks (`base.by_hand_for`): the refusal `post` would give."""
        if capability == "supports_update" and document is not None:
            return self._update_refused(PostRequest(Action.UPDATE, document, "", previous=previous))
        if capability == "links_payments" and document is not None:
            return self._payment_refused(document)
        return self._void_refused(doc_type, doc_number)

    def _payment_refused(self, document: AccountingDocument) -> Outcome:
        return by_hand("links_payments",
                       f"{doc_label(document)}: IIF cannot link a payment to the invoice it pays, so it is not "
                       f"written; enter it in QuickBooks Desktop with Receive Payments.")

    def _void_refused(self, doc_type: str, doc_number: str) -> Outcome:
        kind = _kind_words(doc_type)
        return by_hand("supports_void",
                       f"IIF cannot void or delete a transaction QuickBooks Desktop has already imported: open "
                       f"{kind} {doc_number} in QuickBooks Desktop and void it by hand (Edit > Void).")

    # --- look-up and undo -------------------------------------------------------------------------

    def find(self, doc_type: str, doc_number: str) -> Outcome | None:
        """The latest complete transaction with this type and number in any of our IIF files."""
        found = self.folder.latest(doc_type, iif_text(doc_number))
        if found is None:
            return None
        path, entry = found
        file_name = finished_name(path)
        return Outcome(
            status=Status.CREATED,
            dest_id=file_dest_id(file_name, doc_number),
            dest_doc_number=entry.doc_number,
            after={"file": file_name, "doc_type": entry.doc_type, "doc_number": entry.doc_number,
                   "action": entry.action, "amount": entry.total},
        )

    def void_or_delete(self, doc_type: str, dest_id: str, version: str | None) -> Outcome:
        try:
            _, doc_number = split_dest_id(dest_id)
        except ValueError:
            doc_number = dest_id
        return self._void_refused(doc_type, doc_number)

    def restore(self, doc_type: str, dest_id: str, before: dict) -> Outcome:
        try:
            _, doc_number = split_dest_id(dest_id)
        except ValueError:
            doc_number = dest_id
        kind = _kind_words(doc_type)
        total = parse_amount((before or {}).get("total"))
        to_total = f" (total {amount_text(total)})" if total is not None else ""
        return by_hand("restores",
                       f"IIF cannot change a transaction QuickBooks Desktop has already imported: open {kind} "
                       f"{doc_number} in QuickBooks Desktop and put it back as it was{to_total} by hand.")

    def is_period_open(self, txn_date) -> bool:
        return period_is_open(txn_date, self.closed_through)

    def book_close_date(self) -> dt.date | None:
        return self.closed_through


def _written_sum(rows: Sequence[str]) -> Decimal:
    """The sum of the AMOUNT cells exactly as they will be in the file."""
    trns_at, spl_at = TRNS_COLUMNS.index("AMOUNT") + 1, SPL_COLUMNS.index("AMOUNT") + 1
    total = Decimal("0")
    for row in rows:
        cells = row.rstrip(CRLF).split("\t")
        if cells[0] == "TRNS":
            total += Decimal(cells[trns_at])
        elif cells[0] == "SPL":
            total += Decimal(cells[spl_at])
    return total


def _name_problem(name: str, limit: int, blank_ok: bool = False) -> str | None:
    """Why a name cannot be matched in QuickBooks Desktop after the IIF text rules, or None."""
    if not name or not name.strip():
        return None if blank_ok else "is empty"
    if any(char in name for char in "\t\r\n"):
        return "contains a tab or a line break, which IIF cannot carry"
    written = iif_text(name)
    if "?" in written and "?" not in name:
        return f"has characters with no ASCII form (it would arrive as {written!r})"
    if len(written) > limit:
        return f"is {len(written)} characters long as written ({written!r})"
    return None


def _kind_words(doc_type: str) -> str:
    return {"invoice": "invoice", "credit_memo": "credit memo", "payment": "payment"}.get(doc_type, doc_type)


def _failed(error_code: str, message: str) -> Outcome:
    return Outcome(status=Status.FAILED, error_code=error_code, message=message)
