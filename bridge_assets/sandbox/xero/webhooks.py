"""Webhooks as Xero sends them (xero-webhooks.yaml): signed events after a write, and intent to receive.

Off unless `webhook_url` is set. Then a write that changes an invoice, credit note or contact is
followed by one POST of

    {"events": [{"resourceUrl", "resourceId", "tenantId", "tenantType": "ORGANISATION",
                 "eventCategory": "INVOICE|CREDITNOTE|CONTACT", "eventType": "CREATE|UPDATE",
                 "eventDateUtc"}], "firstEventSequence", "lastEventSequence", "entropy"}

with `x-xero-signature` = base64(HMAC-SHA256(webhook key, raw body)), from a background thread.
`intent_to_receive()` plays what Xero does when a webhook is saved: one payload signed right (the
receiver must answer 200) and one signed wrong (it must answer 401); both answers are reported.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import queue
import secrets
import threading
import time
from typing import Any

import httpx

from bridge_assets.sandbox.xero import wire
from bridge_assets.sandbox.xero.settings import EmulatorSettings
from bridge_assets.sandbox.xero.store import Store

WEBHOOK_KEY_ENV = "XERO_WEBHOOK_KEY"
CATEGORIES = {"Invoice": "INVOICE", "CreditNote": "CREDITNOTE", "Contact": "CONTACT"}
ID_FIELDS = {"Invoice": "InvoiceID", "CreditNote": "CreditNoteID", "Contact": "ContactID"}
PATHS = {"Invoice": "Invoices", "CreditNote": "CreditNotes", "Contact": "Contacts"}


def sign(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


class WebhookSender:
    def __init__(self, settings: EmulatorSettings, store: Store, base_url: str = "https://api.xero.com") -> None:
        self.settings, self.store, self.base_url = settings, store, base_url
        self.key = settings.webhook_key or os.environ.get(WEBHOOK_KEY_ENV, "")
        if not self.key:
            raise ValueError(f"webhook_url needs a webhook key (webhook_key or {WEBHOOK_KEY_ENV}): Xero signs "
                             f"every event")
        self.delivered = 0
        self._sequence = itertools.count(1)
        self._since: dict[str, float] = {}
        self._queue: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._deliver_forever, name="xero-webhooks", daemon=True).start()

    def after_write(self, tenant_id: str, touched: set[str]) -> None:
        since = self._since.get(tenant_id, 0.0)
        self._since[tenant_id] = time.time()
        events = []
        for entity in (e for e in CATEGORIES if e in touched):
            for obj in self.store.all(tenant_id, entity):
                if float(obj.get("_updated", 0)) < since:
                    continue
                resource_id = obj[ID_FIELDS[entity]]
                events.append({"resourceUrl": f"{self.base_url}/api.xro/2.0/{PATHS[entity]}/{resource_id}",
                               "resourceId": resource_id, "tenantId": tenant_id, "tenantType": "ORGANISATION",
                               "eventCategory": CATEGORIES[entity], "eventType": "UPDATE" if since else "CREATE",
                               "eventDateUtc": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(float(obj["_updated"])))})
        if events:
            first = next(self._sequence)
            for _ in events[1:]:
                next(self._sequence)
            self._queue.put(self.body(events, first))

    @staticmethod
    def body(events: list[dict[str, Any]], first: int = 1) -> bytes:
        return wire.dumps({"events": events, "firstEventSequence": first, "lastEventSequence": first + len(events) - 1,
                           "entropy": secrets.token_hex(10).upper()})

    def _deliver_forever(self) -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                body = self._queue.get()
                for pause in (0.0, 0.5, 2.0):
                    time.sleep(pause)
                    try:
                        answer = client.post(str(self.settings.webhook_url), content=body,
                                             headers={"x-xero-signature": sign(self.key, body),
                                                      "Content-Type": "application/json"})
                    except httpx.HTTPError:
                        continue
                    if answer.status_code == 200:
                        self.delivered += 1
                        break


def intent_to_receive(url: str, key: str, timeout: float = 5.0) -> dict[str, Any]:
    """Xero's check of a new webhook: a right signature must get 200 and a wrong one 401, within 5 s."""
    body = WebhookSender.body([])
    answers = {}
    with httpx.Client(timeout=timeout) as client:
        for name, signature in (("signed", sign(key, body)), ("badly_signed", sign(key + "-wrong", body))):
            try:
                answers[name] = client.post(url, content=body, headers={"x-xero-signature": signature,
                                                                        "Content-Type": "application/json"}).status_code
            except httpx.HTTPError as failure:
                answers[name] = type(failure).__name__
    return {**answers, "ok": answers.get("signed") == 200 and answers.get("badly_signed") == 401}
