"""Signed change notifications, sent the way QuickBooks Online sends them to an app's webhook endpoint.

Off unless `EmulatorSettings.webhook_url` is set. Then every API write that changes an Invoice,
CreditMemo, Payment, Customer or Item is followed by a POST of the legacy notification body
(API_FACTS.md, "Webhooks"):

    {"eventNotifications": [{"realmId": ..., "dataChangeEvent": {"entities": [
        {"name": "Invoice", "id": "42", "operation": "Update", "lastUpdated": "2026-09-01T10:33:39-07:00"}]}}]}

signed with header `intuit-signature` = base64(HMAC-SHA256(webhook_verifier_token, raw body)).

Delivery is asynchronous, from one background thread, after the change has committed; a delivery
that is not answered 2xx is tried again with growing pauses (Intuit keeps trying for hours; the
emulator gives up after `webhook_max_tries`). Like Intuit's, a notification may name changes made
by a concurrent request too, and may arrive twice: receivers must not count on exactly once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import queue
import threading
import time
from typing import Any

import httpx

from bridge_assets.sandbox.qbo import wire
from bridge_assets.sandbox.qbo.settings import EmulatorSettings
from bridge_assets.sandbox.qbo.store import EntityRow, Store

logger = logging.getLogger(__name__)

NOTIFIED_ENTITIES = ("Invoice", "CreditMemo", "Payment", "Customer", "Item")


def sign(verifier_token: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def _operation(row: EntityRow) -> str:
    if row.deleted:
        return "Delete"
    if row.internal.get("voided"):
        return "Void"
    if row.created_at == row.updated_at:
        return "Create"
    return "Update"


VERIFIER_TOKEN_ENV = "QBO_WEBHOOK_VERIFIER_TOKEN"


class WebhookSender:
    def __init__(self, settings: EmulatorSettings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.verifier_token = settings.webhook_verifier_token or os.environ.get(VERIFIER_TOKEN_ENV, "")
        if not self.verifier_token:
            raise ValueError(f"webhook_url needs a verifier token (webhook_verifier_token or {VERIFIER_TOKEN_ENV}): "
                             f"Intuit signs every notification")
        self.delivered = 0
        self._queue: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._thread = threading.Thread(target=self._deliver_forever, name="qbo-webhooks", daemon=True)
        self._thread.start()

    def after_write(self, realm_id: str, since: float, touched: set[str]) -> None:
        """Queue one notification naming what changed in this company since `since`."""
        names = [e for e in NOTIFIED_ENTITIES if e in touched]
        if not names:
            return
        rows = self.store.changed_since(realm_id, names, since)
        if not rows:
            return
        entities = [{"name": r.entity, "id": r.id, "operation": _operation(r),
                     "lastUpdated": wire.meta_time(r.updated_at)} for r in rows]
        body = wire.dumps({"eventNotifications": [{"realmId": realm_id, "dataChangeEvent": {"entities": entities}}]})
        self._queue.put((realm_id, body))

    def _deliver_forever(self) -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                realm_id, body = self._queue.get()
                self._deliver(client, realm_id, body)

    def _deliver(self, client: httpx.Client, realm_id: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json",
                   "intuit-signature": sign(self.verifier_token, body)}
        pause = 0.5
        for attempt in range(1, self.settings.webhook_max_tries + 1):
            try:
                response = client.post(str(self.settings.webhook_url), content=body, headers=headers)
                if 200 <= response.status_code < 300:
                    self.delivered += 1
                    return
                problem: Any = f"HTTP {response.status_code}"
            except httpx.HTTPError as failure:
                problem = type(failure).__name__
            logger.warning("webhook for company %s not delivered (%s), try %d of %d", realm_id, problem, attempt,
                           self.settings.webhook_max_tries)
            time.sleep(pause)
            pause *= 4
