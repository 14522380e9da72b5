"""QuickBooks Desktop through the QuickBooks Web Connector: the destination `qbd_webconnector`.

The bridge cannot call QuickBooks Desktop; the Web Connector calls our service (`service.py`) and asks
for work. So each step of a `post` is a qbXML message set written to the queue (`queue.py`) that the
service hands out and settles when QuickBooks' answer comes back (`exchange`). The ledger protocol holds
as for every platform: posting marks the documents `sending` before `post` is called, so before anything
is queued, let alone handed out. A step not answered in time (the Web Connector did not come, or its
session died after the set was handed out) makes the documents RETRY: they stay `sending`, and the next
run asks `find` (an InvoiceQuery / CreditMemoQuery / ReceivePaymentQuery on RefNumber) before anything is
added again, never a blind second add.

One post (at most `batch_size` documents), invoices first, then credit memos and payments:
1. references: customers and service items matched by name (one CustomerQuery/ItemServiceQuery set),
   the missing ones added (CustomerAdd/ItemServiceAdd; 3100 "already in use" -> looked up again);
2. look-ups: creates by RefNumber (a document already there with the same content is adopted, one with
   other content fails with a sentence), updates by TxnID (their current EditSequence), the invoices that
   payments and credit memos name;
3. one message set of InvoiceAdd / InvoiceMod / CreditMemoAdd / ReceivePaymentAdd (AppliedToTxnAdd per
   invoice paid), `continueOnError`; 3200 (EditSequence out of date) -> read again and sent once more;
   a date on or before the closing date -> HELD; any other status -> FAILED with a sentence (statuses.py);
4. each new credit memo applied to its invoice by a $0 ReceivePaymentAdd with SetCredit.
Undo, look-ups by number and read-back: `undo.py`.
"""

from __future__ import annotations

import dataclasses
import logging
import xml.etree.ElementTree as ET
from typing import Any, Mapping, Sequence

from bridge_assets.destinations.base import Action, Capabilities, DestinationError, Outcome, PostRequest, Status
from bridge_assets.destinations.base import BY_HAND_CODES
from bridge_assets.destinations.qbd_webconnector import config as qbd_config
from bridge_assets.destinations.qbd_webconnector import documents as docs
from bridge_assets.destinations.qbd_webconnector import statuses
from bridge_assets.destinations.qbd_webconnector.qbxml import (
    NAME_MAX, REF_NUMBER_MAX, E, Response, by_request, message_set, parse_responses, ref)
from bridge_assets.destinations.qbd_webconnector.queue import Queue
from bridge_assets.destinations.qbd_webconnector.undo import UndoMixin
from bridge_assets.model.document import AccountingDocument

log = logging.getLogger(__name__)


class Unanswered(Exception):
    """A message set without an answer: never handed out (`in_doubt` False) or handed out and lost."""

    def __init__(self, message: str, in_doubt: bool) -> None:
        super().__init__(message)
        self.in_doubt = in_doubt


class MessageRefused(Exception):
    """QuickBooks could not process a whole message set (an hresult); nothing of it was applied."""


@dataclasses.dataclass
class _Work:
    request: PostRequest
    kind: str
    want: dict[str, Any] | None = None
    rq: ET.Element | None = None
    current: dict[str, Any] | None = None
    outcome: Outcome | None = None
    retried: bool = False

    @property
    def document(self) -> AccountingDocument:
        return self.request.document

    @property
    def label(self) -> str:
        return docs.label(self.request.document)


class QbdWebConnectorDestination(UndoMixin):
    name = "qbd_webconnector"

    def __init__(self, config: qbd_config.QbdConfig) -> None:
        self.config = config
        self.company = config.company
        self.queue = Queue(config.queue_path)
        self.capabilities = Capabilities(supports_update=True, supports_void=True, honours_request_id=False,
                                         batch_size=config.batch_size, reads_back=True, links_payments=True,
                                         applies_credits=True, lock_date_readable=True)
        self._names: dict[tuple[str, str], str] = {}           # (kind, casefolded name) -> name as QuickBooks has it
        self._name_problems: dict[tuple[str, str], str] = {}
        self._closing: tuple[Any, ...] | None = None
        self._written = 0

    @classmethod
    def from_env(cls, settings: Any = None, environ: Mapping[str, str] | None = None) -> "QbdWebConnectorDestination":
        return cls(qbd_config.from_env(settings, environ))

    def __repr__(self) -> str:
        return f"QbdWebConnectorDestination(company={self.company!r}, queue={str(self.config.queue_path)!r})"

    def close(self) -> None:
        self.queue.close()

    def begin_run(self, run_id: str, period: str) -> None:
        self._written = 0

    def end_run(self) -> list[str]:
        written, self._written = self._written, 0
        return [f"QuickBooks Desktop company {self.company} through the Web Connector ({written} written)"] if written else []

    # --- one step through the Web Connector ------------------------------------------------------------

    def exchange(self, requests: Sequence[ET.Element], purpose: str, on_error: str = "continueOnError") -> dict[int, Response]:
        """Queue one message set and wait for QuickBooks' answers, by position."""
        set_id = self.queue.enqueue(self.company, purpose, message_set(requests, on_error))
        found = self.queue.wait(set_id, self.config.wait_s, self.config.answer_s)
        if found.state == "withdrawn":
            raise Unanswered(f"the QuickBooks Web Connector did not ask for work within {self.config.wait_s:g} s "
                             f"(is it running and scheduled, with QuickBooks Desktop and the company file open, and "
                             f"`bridge webconnector` running?); nothing was sent", in_doubt=False)
        if found.state != "answered":
            raise Unanswered(f"the Web Connector session that took the request ended without QuickBooks' answer "
                             f"(or none came within {self.config.answer_s:g} s); whether it was applied is unknown, so it is looked "
                             f"up by number on the next run", in_doubt=True)
        if found.error:
            raise MessageRefused(found.error)
        return by_request(parse_responses(found.response or ""))

    # --- references --------------------------------------------------------------------------------

    def _needed(self, documents: Sequence[AccountingDocument]) -> dict[tuple[str, str], str]:
        needed: dict[tuple[str, str], str] = {}
        for document in documents:
            needed[("Customer", document.customer_name.casefold())] = document.customer_name
            for line in docs.wanted_lines(document, self.config.tax_item) if document.doc_type != "payment" else []:
                needed[("ItemService", line["Item"].casefold())] = line["Item"]
        return {k: v for k, v in needed.items() if k not in self._names}

    def resolve_references(self, documents: Sequence[AccountingDocument]) -> dict[str, str]:
        """Customers and service items matched by name, or added per policy. {doc_key: problem}."""
        needed = self._needed(documents)
        for key, name in needed.items():
            if len(name) > NAME_MAX[key[0]]:
                self._name_problems[key] = (f"{'customer' if key[0] == 'Customer' else 'item'} name '{name}' is longer "
                                            f"than the {NAME_MAX[key[0]]} characters QuickBooks Desktop allows; "
                                            f"shorten it in the source")
        asked = {k: v for k, v in needed.items() if k not in self._name_problems}
        if asked:
            self._look_up_names(asked)
            missing = {k: v for k, v in asked.items() if k not in self._names}
            if missing:
                self._add_names(missing)
        problems = {}
        for document in documents:
            keys = [("Customer", document.customer_name.casefold())]
            if document.doc_type != "payment":
                keys += [("ItemService", l["Item"].casefold()) for l in docs.wanted_lines(document, self.config.tax_item)]
            reasons = [self._name_problems[k] for k in keys if k in self._name_problems]
            if reasons:
                problems[document.doc_key] = "; ".join(dict.fromkeys(reasons))
        return problems

    def _look_up_names(self, names: dict[tuple[str, str], str]) -> None:
        requests = []
        for kind in ("Customer", "ItemService"):
            wanted = [v for k, v in names.items() if k[0] == kind]
            if wanted:
                requests.append(E(f"{kind}QueryRq", [E("FullName", n) for n in wanted]))
        for response in self.exchange(requests, "look up customers and items").values():
            for ret in response.rets:
                kind = ret.tag[:-3]
                name = ret.findtext("FullName") or ret.findtext("Name") or ""
                self._names[(kind, name.casefold())] = name

    def _add_names(self, missing: dict[tuple[str, str], str]) -> None:
        requests, keys = [], []
        for key, name in sorted(missing.items()):
            kind = key[0]
            allowed = self.config.auto_create_customers if kind == "Customer" else self.config.auto_create_items
            if not allowed:
                setting = "QBD_AUTO_CREATE_CUSTOMERS" if kind == "Customer" else "QBD_AUTO_CREATE_ITEMS"
                word = "Customer" if kind == "Customer" else "Item"
                self._name_problems[key] = (f"{word} '{name}' not found in QuickBooks Desktop and {setting} is off; "
                                            f"add it there (or turn {setting} on)")
                continue
            if kind == "Customer":
                requests.append(E("CustomerAddRq", E("CustomerAdd", E("Name", name))))
            else:
                requests.append(E("ItemServiceAddRq", E("ItemServiceAdd", E("Name", name), E(
                    "SalesOrPurchase", E("Price", "0.00"), ref("AccountRef", full_name=self.config.income_account)))))
            keys.append(key)
        if not requests:
            return
        taken = {}
        for index, response in self.exchange(requests, f"add {len(requests)} customers and items").items():
            key = keys[index]
            if response.ok:
                self._names[key] = missing[key]
            elif response.code == 3100:
                taken[key] = missing[key]
            else:
                self._name_problems[key] = statuses.sentence(f"'{missing[key]}'", response.code, response.message)
        if taken:                       # 3100: added meanwhile, or the name belongs to a vendor or employee
            self._look_up_names(taken)
            for key, name in taken.items():
                if key not in self._names:
                    self._name_problems[key] = (f"the name '{name}' is already used in QuickBooks Desktop by a vendor, "
                                                f"employee or other name, so it cannot be added as a "
                                                f"{'customer' if key[0] == 'Customer' else 'service item'}; rename one")

    # --- post --------------------------------------------------------------------------------------

    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        if len(requests) > self.capabilities.batch_size:
            raise ValueError(f"at most {self.capabilities.batch_size} requests per post, got {len(requests)}")
        works = [_Work(r, docs.TXN_TYPE.get(r.document.doc_type, "")) for r in requests]
        for w in works:
            w.outcome = self._refused_before_sending(w)
        for phase in ([w for w in works if w.kind == "Invoice"], [w for w in works if w.kind != "Invoice"]):
            live = [w for w in phase if w.outcome is None]
            if not live:
                continue
            try:
                problems = self.resolve_references([w.document for w in live])
                for w in live:
                    if w.document.doc_key in problems:
                        w.outcome = Outcome(Status.FAILED, error_code="reference_unresolved",
                                            message=f"{w.label}: {problems[w.document.doc_key]}.")
                self._post_phase([w for w in live if w.outcome is None])
            except Unanswered as lost:
                for w in live:
                    if w.outcome is None:
                        w.outcome = Outcome(Status.RETRY, error_code="webconnector_unanswered",
                                            message=f"{w.label}: {lost}")
            except MessageRefused as refused:
                for w in live:
                    if w.outcome is None:
                        w.outcome = Outcome(Status.FAILED, error_code="qbxml_refused",
                                            message=f"{w.label}: {refused}. Nothing of it was applied; report this "
                                                    f"as a bug of the bridge.")
        self._written += sum(1 for w in works if w.outcome and w.outcome.status in (Status.CREATED, Status.UPDATED))
        return [w.outcome for w in works]  # type: ignore[misc]

    def _refused_before_sending(self, w: _Work) -> Outcome | None:
        document, action = w.document, Action(w.request.action)
        if not w.kind:
            return Outcome(Status.FAILED, error_code="doc_type_unsupported",
                           message=f"{document.doc_number}: QuickBooks Desktop is not sent {document.doc_type} documents.")
        if action not in (Action.CREATE, Action.UPDATE):
            return Outcome(Status.FAILED, error_code="action_unsupported",
                           message=f"{w.label}: {action.value} is not sent through post; nothing was sent.")
        if action is Action.UPDATE and w.kind != "Invoice":
            kind = docs.LABEL[document.doc_type].lower()
            return Outcome(Status.FAILED, error_code=BY_HAND_CODES["supports_update"], before=w.request.previous,
                           message=f"{w.label} changed in the source after it was posted to QuickBooks Desktop; the "
                                   f"bridge changes only invoices there, so edit {kind} {document.doc_number} in "
                                   f"QuickBooks Desktop by hand to match (total now {document.total}).")
        if action is Action.UPDATE and not w.request.dest_id:
            return Outcome(Status.FAILED, error_code="update_without_id",
                           message=f"{w.label}: an update needs the QuickBooks TxnID and the ledger has none; nothing was sent.")
        limit = REF_NUMBER_MAX[w.kind]
        if len(document.doc_number) > limit:
            return Outcome(Status.FAILED, error_code="3070",
                           message=f"{w.label}: the number '{document.doc_number}' is longer than the {limit} characters "
                                   f"QuickBooks Desktop keeps in RefNumber; give it a shorter number (or a shorter "
                                   f"BRIDGE_*_DOC_PREFIX) in the source.")
        return None

    def _post_phase(self, works: list[_Work]) -> None:
        holders, currents, invoices = self._look_up(works)
        for w in works:
            self._prepare(w, holders, currents, invoices)
        self._send([w for w in works if w.outcome is None and w.rq is not None])
        self._apply_credits([w for w in works if w.kind == "CreditMemo" and w.outcome is not None
                             and w.outcome.status is Status.CREATED and w.document.applies_to], invoices)

    def _look_up(self, works: list[_Work]):
        requests, purposes = [], []
        for kind in ("Invoice", "CreditMemo", "ReceivePayment"):
            numbers = sorted({w.document.doc_number for w in works if w.kind == kind and w.request.action == Action.CREATE})
            if numbers:
                requests.append(docs.query(kind, ref_numbers=numbers)), purposes.append("holders")
        ids = sorted({str(w.request.dest_id) for w in works if w.request.action == Action.UPDATE})
        if ids:
            requests.append(docs.query("Invoice", txn_ids=ids)), purposes.append("currents")
        linked = sorted({a.doc_number for w in works if w.kind != "Invoice" for a in w.document.applies_to})
        if linked:
            requests.append(docs.query("Invoice", ref_numbers=linked, lines=False)), purposes.append("invoices")
        holders: dict[tuple[str, str], list[dict]] = {}
        currents: dict[str, dict] = {}
        invoices: dict[str, dict] = {}
        if not requests:
            return holders, currents, invoices
        answers = self.exchange(requests, f"look up {len(works)} documents")
        for index, purpose in enumerate(purposes):
            response = answers.get(index)
            if response is None or response.code not in (0, 1):
                raise MessageRefused(f"a look-up was refused ({getattr(response, 'code', 'no answer')}: "
                                     f"{getattr(response, 'message', '')})")
            for ret in response.rets:
                held = docs.snapshot(ret)
                if purpose == "holders":
                    holders.setdefault((ret.tag[:-3], held["RefNumber"] or ""), []).append(held)
                elif purpose == "currents":
                    currents[held["TxnID"]] = held
                elif held["RefNumber"] not in invoices or docs.is_voided(invoices[held["RefNumber"]]):
                    invoices[held["RefNumber"]] = held
        return holders, currents, invoices

    def _prepare(self, w: _Work, holders, currents, invoices) -> None:
        document, request = w.document, w.request
        applied = None
        if w.kind in ("ReceivePayment", "CreditMemo"):
            blocked = self._application_problem(w, invoices)
            if blocked:
                w.outcome = Outcome(Status.FAILED, error_code="invoice_not_posted", message=blocked)
                return
            applied = {n: i["TxnID"] for n, i in invoices.items()}
        w.want = docs.wanted(document, self.config.tax_item, applied)
        if request.action == Action.CREATE:
            holding = [h for h in holders.get((w.kind, document.doc_number), []) if not docs.is_voided(h)]
            if w.kind == "ReceivePayment":
                holding = [h for h in holding if (h["Customer"] or "").casefold() == document.customer_name.casefold()]
            if holding:
                same = [h for h in holding if not docs.differences(w.want, h)]
                w.outcome = (self._done(w, same[0], Status.CREATED, "it was already in QuickBooks Desktop (an earlier "
                                        "attempt had landed), so nothing was sent") if same
                             else self._number_taken(w, holding[0]))
                return
            w.rq = docs.add_request(document, w.want)
            return
        current = currents.get(str(request.dest_id))
        if current is None or docs.is_voided(current):
            where = "no longer has it (deleted there)" if current is None else "holds it voided"
            w.outcome = Outcome(Status.FAILED, error_code="3120" if current is None else "voided",
                                message=f"{w.label}: it changed in the source, but QuickBooks Desktop {where} (TxnID "
                                        f"{request.dest_id}), so the change cannot be applied. Re-enter it there or "
                                        f"revert it in the bridge.")
            return
        w.current = current
        if not docs.differences(w.want, current):
            w.outcome = self._done(w, current, Status.UPDATED, "QuickBooks Desktop already holds this version, so "
                                   "nothing was sent")
            return
        w.rq = docs.invoice_mod(current["TxnID"], current["EditSequence"], w.want)

    def _application_problem(self, w: _Work, invoices: dict[str, dict]) -> str | None:
        verb = "pays" if w.kind == "ReceivePayment" else "applies to"
        for application in w.document.applies_to:
            invoice = invoices.get(application.doc_number)
            if invoice is None:
                return (f"{w.label}: it {verb} invoice {application.doc_number}, which is not in QuickBooks Desktop yet "
                        f"(not posted, held or failed); it is tried again on the next run")
            if docs.is_voided(invoice):
                return (f"{w.label}: it {verb} invoice {application.doc_number}, which is voided in QuickBooks Desktop; "
                        f"correct the source or the invoice there")
            if (invoice["Customer"] or "").casefold() != w.document.customer_name.casefold():
                return (f"{w.label}: it {verb} invoice {application.doc_number}, which belongs to another customer in "
                        f"QuickBooks Desktop ({invoice['Customer']}); correct the customer in the source or there")
        return None

    def _done(self, w: _Work, held: dict, status: Status, note: str = "") -> Outcome:
        before = (w.request.previous or w.current) if status is Status.UPDATED else None
        message = f"{w.label}: TxnID {held['TxnID']}" + (f"; {note}" if note else "")
        return Outcome(status, dest_id=held["TxnID"], dest_doc_number=held.get("RefNumber"),
                       version=held.get("EditSequence"), message=message, before=before, after=held)

    def _number_taken(self, w: _Work, held: dict) -> Outcome:
        what = ", ".join(docs.differences(w.want or {}, held))
        return Outcome(Status.FAILED, error_code="number_taken",
                       message=f"{w.label}: QuickBooks Desktop already has a {w.kind} numbered {w.document.doc_number} "
                               f"(TxnID {held['TxnID']}, {held['Customer']}, dated {held['TxnDate']}, total "
                               f"{held['Total']}) that differs in {what or 'content'}; nothing was added. Check which "
                               f"is right: void or renumber the one in QuickBooks Desktop, or correct the source.")

    def _send(self, works: list[_Work]) -> None:
        if not works:
            return
        answers = self.exchange([w.rq for w in works], f"write {len(works)} documents")
        stale = []
        for index, w in enumerate(works):
            response = answers.get(index)
            if response is None:
                w.outcome = Outcome(Status.RETRY, error_code="no_answer",
                                    message=f"{w.label}: QuickBooks Desktop gave no answer for it; looked up next run")
            elif response.ok and response.first is not None:
                status = Status.CREATED if w.request.action == Action.CREATE else Status.UPDATED
                w.outcome = self._done(w, docs.snapshot(response.first), status)
            elif response.code == 3200 and not w.retried:
                stale.append(w)
            elif statuses.is_closing_date(response.code, response.message):
                w.outcome = Outcome(Status.HELD, error_code="period_closed",
                                    message=f"{w.label}: {response.message} It is posted once the closing date moves.")
            elif response.code in statuses.RETRYABLE:
                w.outcome = Outcome(Status.RETRY, error_code=str(response.code),
                                    message=statuses.sentence(w.label, response.code, response.message))
            else:
                w.outcome = Outcome(Status.FAILED, error_code=str(response.code),
                                    message=statuses.sentence(w.label, response.code, response.message))
        if stale:                        # 3200: changed in QuickBooks since we read it: read again, send once more
            answers = self.exchange([docs.query("Invoice", txn_ids=[w.current["TxnID"]]) for w in stale],
                                    "read again after 3200")
            again = []
            for index, w in enumerate(stale):
                w.retried = True
                response = answers.get(index)
                if response is None or not response.rets:
                    w.outcome = Outcome(Status.FAILED, error_code="3120", message=statuses.sentence(
                        w.label, 3120, "it was deleted in QuickBooks Desktop while the bridge was updating it"))
                    continue
                w.current = docs.snapshot(response.first)
                w.rq = docs.invoice_mod(w.current["TxnID"], w.current["EditSequence"], w.want)
                again.append(w)
            self._send(again)

    def _apply_credits(self, works: list[_Work], invoices: dict[str, dict]) -> None:
        """Each new (or adopted) credit memo applied to its invoice once: one already applied is left alone.
        If the answer is lost, the credit stays RETRY: the next run finds it unapplied and applies it then."""
        if not works:
            return
        try:
            done = self._applied_credits([w.document.doc_number for w in works])
            pairs = [(w, a) for w in works for a in w.document.applies_to if w.document.doc_number not in done]
            if not pairs:
                return
            requests = [docs.credit_application(w.document.doc_number, w.document.customer_name,
                                                w.document.txn_date.isoformat(), invoices[a.doc_number]["TxnID"],
                                                w.outcome.dest_id, f"{a.amount:.2f}", a.doc_number) for w, a in pairs]
            answers = self.exchange(requests, f"apply {len(requests)} credit memos")
        except Unanswered as lost:
            for w in works:
                w.outcome = Outcome(Status.RETRY, error_code="webconnector_unanswered",
                                    message=f"{w.label}: created, but applying it to its invoice: {lost}")
            return
        for index, (w, a) in enumerate(pairs):
            response = answers.get(index)
            if response is not None and response.ok:
                note = f"applied to invoice {a.doc_number}"
            else:
                why = statuses.sentence(f"applying it to invoice {a.doc_number}", response.code, response.message) \
                    if response is not None else "no answer"
                note = f"created, but not applied to invoice {a.doc_number} ({why}); apply it in QuickBooks Desktop"
            w.outcome = dataclasses.replace(w.outcome, message=f"{w.outcome.message}; {note}")

    def _applied_credits(self, numbers: list[str]) -> set[str]:
        """The credit memo numbers that already have their $0 application payment."""
        refs = [(docs.CREDIT_APPLICATION_PREFIX + n)[:20] for n in numbers]
        answer = self.exchange([docs.query("ReceivePayment", ref_numbers=refs)], "look up credit applications")[0]
        found = {r.findtext("RefNumber") for r in answer.rets}
        return {n for n, ref_number in zip(numbers, refs) if ref_number in found}
