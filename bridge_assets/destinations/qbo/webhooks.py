"""The QuickBooks Online webhook receiver: a signed "something changed" turns into a mirror refresh.

Intuit signs every notification: header `intuit-signature` = base64(HMAC-SHA256(verifier token, raw
body)) (API_FACTS.md, "Webhooks"). The receiver checks it with a constant-time comparison before it
reads anything else; a missing or wrong signature is answered 401 and leaves no trace. A body is read
chunk by chunk and refused (413) the moment it passes MAX_BODY_BYTES; a signed body that is not a
notification (not JSON, or another shape) is answered 400 with the reason in a few words.

A verified notification is answered 200 at once (Intuit wants an answer within 3 s and retries for
hours otherwise) and recorded as a refresh request: one small JSON file in a spool folder, written
aside, flushed to disk and renamed into place, so a request is either whole or absent (the kit's
generic `ChangeSpool`, destinations/kit/changes.py, which the next platforms' receivers reuse). The receiver
never touches DuckDB: DuckDB allows one writing process per file and a run may hold it. The Dagster
sensor `quickbooks_webhook_sensor` turns what it finds there into one mirror-refresh run.

Notifications may arrive twice or out of order, so nothing is taken from them but the fact that
something changed (and, for the log, what): the mirror's change data capture reads the changes
themselves. A retried notification has the same body, hence the same file name and run key.

Settings: `QBO_WEBHOOK_VERIFIER_TOKEN` (the app's verifier token from developer.intuit.com; a secret,
never logged or stored), `BRIDGE_WEBHOOK_SPOOL` (default `$BRIDGE_HOME/spool/qbo_webhooks`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bridge_assets.destinations.kit.changes import (
    ChangeNotice,
    ChangeSpool,
    base64_hmac,
    body_within_limit,
    signed_base64_hmac,
)

log = logging.getLogger(__name__)

VERIFIER_TOKEN_ENV = "QBO_WEBHOOK_VERIFIER_TOKEN"
SPOOL_ENV = "BRIDGE_WEBHOOK_SPOOL"
SIGNATURE_HEADER = "intuit-signature"
PATH = "/webhooks/quickbooks"
MAX_BODY_BYTES = 1_000_000        # Intuit's notifications are a few kilobytes


class WebhookSettingMissing(Exception):
    pass


def signature(verifier_token: str, body: bytes) -> str:
    """What Intuit puts in `intuit-signature` for this body."""
    return base64_hmac(verifier_token, body)


def signature_matches(verifier_token: str, body: bytes, header: str | None) -> bool:
    return signed_base64_hmac(verifier_token, body, header)


def verifier_token_from_env(environ: Mapping[str, str] | None = None) -> str:
    token = ((os.environ if environ is None else environ).get(VERIFIER_TOKEN_ENV) or "").strip()
    if not token:
        raise WebhookSettingMissing(
            f"{VERIFIER_TOKEN_ENV} is not set: copy the verifier token of your app's webhooks from "
            f"developer.intuit.com (Webhooks, 'Show verifier token') into that environment variable")
    return token


def spool_folder(home: Path | str, environ: Mapping[str, str] | None = None) -> Path:
    value = ((os.environ if environ is None else environ).get(SPOOL_ENV) or "").strip()
    return Path(value) if value else Path(home) / "spool" / "qbo_webhooks"


# --- what a notification says ---------------------------------------------------------------------


class NotificationShapeError(ValueError):
    """A signed body that is not a QuickBooks notification; the message says what is wrong, in a few words."""


def _records(value: Any, where: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise NotificationShapeError(f"{where} must be a list of objects")
    return value


def notification_entities(body: bytes) -> list[dict[str, str]]:
    """The entities a signed body names, or NotificationShapeError saying why it is not a notification
    (not JSON, or neither Intuit's legacy shape nor its CloudEvents list)."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise NotificationShapeError("the body is not JSON") from None
    if isinstance(payload, dict) and "eventNotifications" in payload:
        for note in _records(payload["eventNotifications"], "eventNotifications"):
            change = note.get("dataChangeEvent")
            if change is not None and not isinstance(change, dict):
                raise NotificationShapeError("dataChangeEvent must be an object")
            _records((change or {}).get("entities"), "dataChangeEvent.entities")
    elif isinstance(payload, list):
        _records(payload, "a CloudEvents body")
    else:
        raise NotificationShapeError("expected {\"eventNotifications\": [...]} or a list of CloudEvents")
    return changed_entities(payload)


def changed_entities(payload: Any) -> list[dict[str, str]]:
    """The entities a notification names, from the legacy body or the CloudEvents list (for the log);
    anything of another shape names none (`notification_entities` refuses it first)."""
    found: list[dict[str, str]] = []
    if isinstance(payload, dict):
        for note in payload.get("eventNotifications") or []:
            if not isinstance(note, dict):
                continue
            realm = str(note.get("realmId") or "")
            change = note.get("dataChangeEvent")
            for entity in (change.get("entities") or []) if isinstance(change, dict) else []:
                if not isinstance(entity, dict):
                    continue
                found.append({"realm_id": realm, "name": str(entity.get("name") or ""), "id": str(entity.get("id") or ""),
                              "operation": str(entity.get("operation") or ""),
                              "last_updated": str(entity.get("lastUpdated") or "")})
    elif isinstance(payload, list):
        for event in payload:
            if not isinstance(event, dict):
                continue
            parts = str(event.get("type") or "").split(".")       # qbo.invoice.created.v1
            found.append({"realm_id": str(event.get("intuitaccountid") or ""),
                          "name": parts[1].capitalize() if len(parts) > 2 else "",
                          "id": str(event.get("intuitentityid") or ""),
                          "operation": parts[2].capitalize() if len(parts) > 2 else "",
                          "last_updated": str(event.get("time") or "")})
    return found


class RefreshRequest(ChangeNotice):
    """A recorded QuickBooks notification: a reason to refresh the mirror of these companies."""

    @property
    def realm_ids(self) -> list[str]:
        return sorted({e["realm_id"] for e in self.entities if e["realm_id"]})


class RefreshSpool(ChangeSpool[RefreshRequest]):
    """QuickBooks' refresh requests: the kit's change spool, naming entities the QuickBooks way."""

    notice_type = RefreshRequest

    def __init__(self, folder: Path | str) -> None:
        super().__init__(folder, entities_of=lambda body: changed_entities(json.loads(body)))


# --- the HTTP side --------------------------------------------------------------------------------


async def _body_within_limit(request: Request) -> bytes | None:
    return await body_within_limit(request, MAX_BODY_BYTES)


def create_app(verifier_token: str, spool: RefreshSpool) -> Starlette:
    if not verifier_token:
        raise WebhookSettingMissing(f"the webhook receiver needs a verifier token ({VERIFIER_TOKEN_ENV})")

    async def receive(request: Request) -> JSONResponse:
        body = await _body_within_limit(request)
        if body is None:
            return JSONResponse({"error": f"notification larger than {MAX_BODY_BYTES} bytes"}, status_code=413)
        if not signature_matches(verifier_token, body, request.headers.get(SIGNATURE_HEADER)):
            # Say nothing about why: a forger learns nothing; the log says enough for us.
            log.warning("refused a webhook from %s: %s header missing or wrong",
                        request.client.host if request.client else "?", SIGNATURE_HEADER)
            return JSONResponse({"error": "signature does not match"}, status_code=401)
        try:
            entities = notification_entities(body)
        except NotificationShapeError as wrong:
            log.warning("refused a signed webhook that is not a QuickBooks notification: %s", wrong)
            return JSONResponse({"error": f"not a QuickBooks notification: {wrong}"}, status_code=400)
        recorded = spool.record(body, entities)
        log.info("QuickBooks notification %s recorded: %s", recorded.key[:12], recorded.describe())
        return JSONResponse({"recorded": recorded.key})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "spool": str(spool.folder), "pending": len(spool.pending())})

    return Starlette(routes=[Route(PATH, receive, methods=["POST"]), Route("/health", health, methods=["GET"])])


def serve(home: Path | str, host: str = "127.0.0.1", port: int = 8710) -> None:
    """`bridge webhooks`: serve the receiver until interrupted (Ctrl-C or SIGTERM).

    The socket is bound before the first line is printed, so the line names the real port (also
    with `--port 0`) and a notification sent the moment it appears waits in the listen backlog."""
    import socket

    import uvicorn

    token = verifier_token_from_env()
    spool = RefreshSpool(spool_folder(home))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    print(f"QuickBooks webhook receiver listening on http://{host}:{bound}{PATH} "
          f"(refresh requests go to {spool.folder}; Ctrl-C stops it)", flush=True)
    config = uvicorn.Config(create_app(token, spool), log_level="info", lifespan="off", ws="none")
    uvicorn.Server(config).run(sockets=[sock])
