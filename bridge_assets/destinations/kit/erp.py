"""What the ERP destinations (Odoo, Business Central, NetSuite, SAP Business One, Oracle Fusion Receivables) share
around their own wire: reading their settings, the run's tally, the order a batch is posted in, and the
references pass.

    env = ErpEnvironment("NetSuite", environ)          in a `from_env`: the one place settings are read
    env.require("NETSUITE_ACCOUNT", ...)               DestinationError naming every one not set
    env.text(name, default) / env.number(...) / env.flag(...)

    class XDestination(ErpDestination): ...            close / context manager / begin_run / end_run / post;
                                                       the platform gives `client`, `run_label()`, `_post_one`
    send_unless_doubled(http, method, path, ...)       a request; a write sent again only if never received
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx

from bridge_assets.destinations.base import Capabilities, DestinationError, Outcome, PostRequest, Status
from bridge_assets.destinations.kit.http import PacedClient, PlatformUnavailable
from bridge_assets.destinations.kit.settings import Env
from bridge_assets.model.document import AccountingDocument

# Invoices before the credit memos that apply to them, both before the payments of them.
ORDER = {"invoice": 0, "credit_memo": 1, "payment": 2}
# Refused before the platform saw the call (its proxy's throttle, maintenance): a write is safe to send again.
NOT_RECEIVED = frozenset({429, 503})


class ErpEnvironment(Env):
    """A platform's settings from the environment (a mapping; `os.environ` unless given): the kit's `Env`,
    whose `require` sends the reader to the platform's README section."""

    def __init__(self, platform: str, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(os.environ if environ is None else environ, platform)

    def require(self, *names: str, where: str | None = None) -> None:
        missing = [name for name in names if not self.text(name)]
        if missing:
            raise DestinationError(f"{self.platform} is configured as a destination but {', '.join(missing)} "
                                   f"{'is' if len(missing) == 1 else 'are'} not set ({where or f'README, {self.platform}'})")


class ErpDestination:
    """The Destination plumbing every ERP adapter has the same: `client` is closed with it; a run counts what
    it wrote (`end_run` says "<run_label()> (N written)"); `post` sends a batch one request at a time, invoices
    first, and answers in the order asked."""

    client: Any
    capabilities: Capabilities
    _written = 0

    def run_label(self) -> str:
        raise NotImplementedError

    def _post_one(self, request: PostRequest) -> Outcome:
        raise NotImplementedError

    def close(self) -> None:
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def begin_run(self, run_id: str, period: str) -> None:
        self._written = 0

    def end_run(self) -> list[str]:
        written, self._written = self._written, 0
        return [f"{self.run_label()} ({written} written)"] if written else []

    def post(self, requests: Sequence[PostRequest]) -> list[Outcome]:
        requests = list(requests)
        if len(requests) > self.capabilities.batch_size:
            raise ValueError(f"at most {self.capabilities.batch_size} requests per post, got {len(requests)}")
        outcomes: dict[int, Outcome] = {}
        for index in sorted(range(len(requests)), key=lambda i: ORDER.get(requests[i].document.doc_type, 3)):
            outcomes[index] = self._post_one(requests[index])
        self._written += sum(1 for o in outcomes.values() if o.status in (Status.CREATED, Status.UPDATED))
        return [outcomes[i] for i in range(len(requests))]


def document_label(document: AccountingDocument, labels: Mapping[str, str]) -> str:
    """How a sentence names a document: "Invoice 1001 (Smith, J)"."""
    return f"{labels.get(document.doc_type, document.doc_type)} {document.doc_number} ({document.customer_name})"


def not_sent(request: PostRequest, label: str, platform: str) -> Outcome:
    """The answer to a request the platform is never sent (an action or document type it does not take)."""
    return Outcome(Status.FAILED, error_code="action_unsupported",
                   message=f"{label}: {request.action} of a {request.document.doc_type} is not sent to {platform}.")


def reference_problems(documents: Iterable[AccountingDocument], resolve: Callable[[AccountingDocument], str | None],
                       refused: type[Exception] | tuple[type[Exception], ...] = (),
                       sentence: Callable[[Any], str] = str) -> dict[str, str]:
    """`resolve` each document's customer and items; {doc_key: sentence} for those it could not. `resolve` answers
    the sentence (or None), or raises `refused`, which `sentence` words."""
    problems: dict[str, str] = {}
    for document in documents:
        try:
            problem = resolve(document)
        except refused as error:
            problem = sentence(error)
        if problem:
            problems[document.doc_key] = problem
    return problems


def send_unless_doubled(http: PacedClient, method: str, path: str, *, write: bool, what: str, tries: int,
                        unavailable: Callable[[str, int | None, bool], Exception], **request: Any) -> httpx.Response:
    """One request through the kit's paced client. A read is retried by the client as usual; a write is sent once
    per try and sent again only when the answer proves the platform never received it (NOT_RECEIVED), up to
    `tries`. When it gives up, `unavailable(problem, http_status, sent)` is raised (`sent`: the platform may hold
    the write)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return http.send(method, path, tries=1 if write else None, what=what, **request)
        except PlatformUnavailable as failure:
            status = failure.gave_up.status
            if write and status in NOT_RECEIVED and attempt < tries:
                http.wait_before_retry(attempt, what, failure.gave_up.problem, failure.gave_up.response, tries=tries)
                continue
            raise unavailable(failure.gave_up.problem, status, write and status not in NOT_RECEIVED) from None
