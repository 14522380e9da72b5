"""The ServiceTrade webhook receiver: a message about an invoice becomes a reason to read that invoice again.

What ServiceTrade documents, and what the receiver does about it (sources: API_FACTS.md "ServiceTrade
API"; the integrator's guide "ServiceTrade Webhooks (realtime sync) - Frontend Guide", written from live
responses of a real account, sections 0, 5 and 9; the `/api/webhook` resource in api.servicetrade.com/api/docs
and the servicetrade ruby SDK's webhook_test.rb):

- ServiceTrade signs nothing: no signature, no HMAC, no auth header. The one thing that proves a message
  came from the account's own registration is the URL it was registered with, so the receiver listens on
  `/webhooks/servicetrade/<secret>` and compares the secret segment (`SERVICETRADE_WEBHOOK_SECRET`, at least
  32 characters) in constant time. A wrong or missing one is answered 404 and leaves no trace; register
  `https://<your host>/webhooks/servicetrade/<secret>` as the webhook's `hookUrl` in ServiceTrade.
- The webhook resource's `confirmed` flag is not evidence that messages arrive (seen `true` for a host
  that cannot resolve, and no confirmation request at all for a reachable one): the bridge never reads it.
  The health signal is the spool: a message received is a file in it.
- A message names entities by id only (`{"messageId", "timestamp", "data": [{"action", "entity": {"type",
  "id", "uri"}, "changeset"}]}`). Nothing is taken from it but which invoices to read again: the sensor
  re-reads each invoice from the API (authenticated) and acts on what ServiceTrade holds now, so a
  message that arrives twice, late or out of order, or one forged with a leaked URL, can at most cause a
  read. A message naming no invoice is answered 200 and recorded nowhere.
- 5 seconds to answer, 3 attempts, then the message is discarded for good; any status 200-499 counts as
  delivered. So the receiver only writes one small file (the kit's ChangeSpool: whole or absent) and
  answers at once; only when it could not write it does it answer 503, the one case where a retry helps.
  A message lost anyway is found by the 10-minute poll (`servicetrade_pending_sensor`), which stays on.

Settings: `SERVICETRADE_WEBHOOK_SECRET` (secret: never logged or stored), `BRIDGE_SERVICETRADE_WEBHOOK_SPOOL`
(default `$BRIDGE_HOME/spool/servicetrade_webhooks`). `bridge servicetrade-webhooks` serves it.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from pathlib import Path
from typing import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bridge_assets.destinations.kit.changes import ChangeNotice, ChangeSpool, body_within_limit

log = logging.getLogger(__name__)

SECRET_ENV = "SERVICETRADE_WEBHOOK_SECRET"
SPOOL_ENV = "BRIDGE_SERVICETRADE_WEBHOOK_SPOOL"
PATH_PREFIX = "/webhooks/servicetrade"
MIN_SECRET_LENGTH = 32
MAX_BODY_BYTES = 1_000_000
INVOICE = "invoice"


class WebhookSettingMissing(Exception):
    pass


def secret_from_env(environ: Mapping[str, str] | None = None) -> str:
    secret = ((os.environ if environ is None else environ).get(SECRET_ENV) or "").strip()
    if len(secret) < MIN_SECRET_LENGTH or "/" in secret:
        raise WebhookSettingMissing(
            f"{SECRET_ENV} must be a random string of at least {MIN_SECRET_LENGTH} characters without '/' "
            f"(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`): ServiceTrade signs nothing, "
            f"so this part of the webhook's hookUrl is what tells its messages from anyone else's")
    return secret


def spool_folder(home: Path | str, environ: Mapping[str, str] | None = None) -> Path:
    value = ((os.environ if environ is None else environ).get(SPOOL_ENV) or "").strip()
    return Path(value) if value else Path(home) / "spool" / "servicetrade_webhooks"


def hook_path(secret: str) -> str:
    return f"{PATH_PREFIX}/{secret}"


class MessageShapeError(ValueError):
    """A body that is not a ServiceTrade webhook message; the text says what is wrong, in a few words."""


def invoice_events(body: bytes) -> list[dict[str, str]]:
    """The invoices a message names, one entry per event (id, action, timestamp, message id), or
    MessageShapeError saying why it is not a message."""
    try:
        message = json.loads(body)
    except ValueError:
        raise MessageShapeError("the body is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("data"), list):
        raise MessageShapeError('expected {"messageId", "timestamp", "data": [...]}')
    found = []
    for event in message["data"]:
        entity = event.get("entity") if isinstance(event, dict) else None
        if not isinstance(entity, dict):
            raise MessageShapeError("every event in data needs an entity {type, id}")
        if str(entity.get("type", "")).lower() != INVOICE:
            continue
        if not str(entity.get("id", "")).strip().isdigit():
            raise MessageShapeError("an invoice event needs a numeric entity.id")
        found.append({"name": INVOICE, "id": str(entity["id"]).strip(), "operation": str(event.get("action") or ""),
                      "timestamp": str(event.get("timestamp") or ""), "message_id": str(message.get("messageId") or "")})
    return found


class InvoiceNotice(ChangeNotice):
    """A recorded ServiceTrade message: invoices to read again."""

    @property
    def invoice_ids(self) -> list[str]:
        return sorted({e["id"] for e in self.entities if e.get("name") == INVOICE and e.get("id")})


class InvoiceSpool(ChangeSpool[InvoiceNotice]):
    notice_type = InvoiceNotice

    def __init__(self, folder: Path | str) -> None:
        super().__init__(folder, entities_of=invoice_events)


def create_app(secret: str, spool: InvoiceSpool) -> Starlette:
    if len(secret) < MIN_SECRET_LENGTH:
        raise WebhookSettingMissing(f"the ServiceTrade webhook receiver needs {SECRET_ENV}")
    expected = secret.encode("utf-8")

    async def receive(request: Request) -> JSONResponse:
        given = str(request.path_params.get("secret", "")).encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            log.warning("refused a ServiceTrade webhook from %s: unknown hook URL",
                        request.client.host if request.client else "?")
            return JSONResponse({"error": "not found"}, status_code=404)
        body = await body_within_limit(request, MAX_BODY_BYTES)
        if body is None:
            return JSONResponse({"error": f"message larger than {MAX_BODY_BYTES} bytes"}, status_code=413)
        try:
            events = invoice_events(body)
        except MessageShapeError as wrong:
            log.warning("refused a ServiceTrade webhook that is not a message: %s", wrong)
            return JSONResponse({"error": f"not a ServiceTrade webhook message: {wrong}"}, status_code=400)
        if not events:
            return JSONResponse({"recorded": None, "note": "no invoice named"})
        try:
            recorded = spool.record(body, events)
        except OSError as failure:      # the one case where ServiceTrade's retry helps
            log.error("could not record a ServiceTrade webhook in %s: %s", spool.folder, failure)
            return JSONResponse({"error": "could not record the message; try again"}, status_code=503)
        log.info("ServiceTrade message %s recorded: invoices %s", recorded.key[:12], ", ".join(recorded.invoice_ids))
        return JSONResponse({"recorded": recorded.key})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "pending": len(spool.pending())})

    return Starlette(routes=[Route(PATH_PREFIX + "/{secret}", receive, methods=["POST"]),
                             Route("/health", health, methods=["GET"])])


def serve(home: Path | str, host: str = "127.0.0.1", port: int = 8711) -> None:
    """`bridge servicetrade-webhooks`: serve the receiver until interrupted. The socket is bound before
    the first line is printed, so the line names the real port (also with `--port 0`)."""
    import socket

    import uvicorn

    secret = secret_from_env()
    spool = InvoiceSpool(spool_folder(home))
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    print(f"ServiceTrade webhook receiver listening on http://{host}:{bound}{PATH_PREFIX}/<SERVICETRADE_WEBHOOK_SECRET> "
          f"(messages go to {spool.folder}; Ctrl-C stops it)", flush=True)
    config = uvicorn.Config(create_app(secret, spool), log_level="warning", lifespan="off", ws="none",
                            access_log=False)      # the access log would print the secret in the path
    uvicorn.Server(config).run(sockets=[sock])
