"""The Xero webhook receiver: a signed "something changed" becomes a read-back request on the shared spool.

Xero signs every delivery: `x-xero-signature` = base64(HMAC-SHA256(webhook key, raw body)). A right
signature is answered 200 (within Xero's 5 s), a missing or wrong one 401 and nothing kept: that is
also how Xero's intent-to-receive check passes (it sends one of each and wants exactly that). A body
over MAX_BODY_BYTES is refused (413) unread; a signed body that is not Xero's `{"events": [...]}` is
answered 400. A verified delivery with events is one file in the kit's `ChangeSpool` (whole or absent,
the same body the same file); the read-back reads the changes themselves, so nothing is taken from
an event but what it names for the log.

Settings: `XERO_WEBHOOK_KEY` (the webhook key from developer.xero.com; a secret, never logged or
stored), `BRIDGE_XERO_WEBHOOK_SPOOL` (default `$BRIDGE_HOME/spool/xero_webhooks`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bridge_assets.destinations.base import DestinationError
from bridge_assets.destinations.kit.changes import ChangeSpool, body_within_limit, signed_base64_hmac

log = logging.getLogger(__name__)

WEBHOOK_KEY_ENV = "XERO_WEBHOOK_KEY"
SPOOL_ENV = "BRIDGE_XERO_WEBHOOK_SPOOL"
SIGNATURE_HEADER = "x-xero-signature"
PATH = "/webhooks/xero"
MAX_BODY_BYTES = 1_000_000


def entities_of(body: bytes) -> list[dict[str, str]]:
    """What a delivery says changed, in the spool's words (name, id, operation); ValueError: not Xero's shape."""
    data = json.loads(body)
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise ValueError("not a Xero webhook body ({\"events\": [...]})")
    return [{"name": str(e.get("eventCategory", "")), "id": str(e.get("resourceId", "")),
             "operation": str(e.get("eventType", "")), "tenant": str(e.get("tenantId", ""))}
            for e in events if isinstance(e, dict)]


def settings_from_env(home: Path | str, environ: Mapping[str, str] | None = None) -> tuple[str, Path]:
    env = os.environ if environ is None else environ
    key = (env.get(WEBHOOK_KEY_ENV) or "").strip()
    if not key:
        raise DestinationError(f"{WEBHOOK_KEY_ENV} is not set: copy the webhook key of your app's webhook from "
                               f"developer.xero.com (My Apps > your app > Webhooks) into that environment variable")
    spool = (env.get(SPOOL_ENV) or "").strip()
    return key, Path(spool) if spool else Path(home) / "spool" / "xero_webhooks"


def receiver_app(webhook_key: str, spool: ChangeSpool) -> Starlette:
    async def receive(request: Request) -> Response:
        body = await body_within_limit(request, MAX_BODY_BYTES)
        if body is None:
            return Response("too large", 413)
        if not signed_base64_hmac(webhook_key, body, request.headers.get(SIGNATURE_HEADER)):
            return Response(status_code=401)
        try:
            entities = entities_of(body)
        except ValueError as problem:
            return Response(f"not a Xero webhook: {problem}", 400)
        if entities:                                   # intent-to-receive sends no events: nothing to read
            notice = spool.record(body, entities)
            log.info("Xero webhook: %s", notice.describe())
        return Response(status_code=200)

    return Starlette(routes=[Route(PATH, receive, methods=["POST"])])


def spool(folder: Path | str) -> ChangeSpool:
    return ChangeSpool(folder, entities_of)
