"""Webhook messages, sent the way ServiceTrade sends them to a registered `hookUrl`.

Off unless `EmulatorSettings.webhook_url` is set (a `{SERVICETRADE_WEBHOOK_SECRET}` in it is filled from
the emulator's environment, so a secret never sits on a command line). Then every invoice created, and
every change of an invoice (through the API or the admin panel), is followed by one POST of

    {"messageId": "<uuid>", "timestamp": "1401833057", "data": [{"action": "created" | "updated",
      "timestamp": 1401833052, "userId": null, "entity": {"type": "invoice", "id": 34872,
      "uri": ".../api/invoice/34872"}, "changeset": [{"field": "status", "oldValue", "newValue"}]}]}

What public material says about ServiceTrade's delivery, and what this emulator does (the rules table):

| rule | source | here |
|---|---|---|
| the body names entities by id only; no entity data | API_FACTS.md; integrator's guide (1) | as shown |
| no signature, no HMAC, no auth header | API_FACTS.md; (1) "verified against their full published spec" | none sent |
| 5 s to answer, then a retry | API_FACTS.md; (1) | `webhook_timeout_s` 5 |
| 3 attempts, then the message is discarded for good | API_FACTS.md; (1) | `webhook_max_tries` 3, listed as discarded |
| any status 200-499 counts as delivered (a 404 throws the change away) | (1) | as stated |
| duplicates and reordering happen | API_FACTS.md; (1) | `webhook_duplicates` sends each twice |
| the pause between attempts | unconfirmed | `webhook_retry_pause_s` 60 (emulated seconds) |
| the webhook resource's `confirmed` flag | (1): not trustworthy; servicetrade ruby SDK test: a field of `/api/webhook` | not emulated: no receiver may rely on it |
| the bridge's own status write-backs cause messages too | (1) "Your own actions cause events" | yes |

(1) "ServiceTrade Webhooks (realtime sync) - Frontend Guide", a third-party integrator's contract
written from live responses of a real ServiceTrade account (public GitHub), sections 0, 5 and 9;
the webhook resource's fields (`hookUrl`, `enabled`, `confirmed`, `includeChangesets`, `entityEvents`)
are in the servicetrade ruby SDK's `webhook_test.rb`.

Delivery is asynchronous, from one background thread, in the order the changes were made; what was
delivered or discarded is listed by `GET /_emulator/webhooks`.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
import uuid
from typing import Any

import httpx

from bridge_assets.sandbox.servicetrade import wire

logger = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")


def resolved_url(template: str, environ: dict[str, str] | None = None) -> str:
    """`webhook_url` with `{NAME}` filled from the environment (a missing one is an error naming it)."""
    env = os.environ if environ is None else environ

    def fill(match: re.Match) -> str:
        value = env.get(match.group(1), "").strip()
        if not value:
            raise ValueError(f"webhook_url names {{{match.group(1)}}} but {match.group(1)} is not set in the "
                             "emulator's environment")
        return value
    return _PLACEHOLDER.sub(fill, template)


class WebhookSender:
    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.url = resolved_url(str(settings.webhook_url))
        self.delivered: list[dict[str, Any]] = []
        self.discarded: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[bytes] = queue.Queue()
        self._thread = threading.Thread(target=self._deliver_forever, name="servicetrade-webhooks", daemon=True)
        self._thread.start()

    def invoice_changed(self, api_url: str, invoice_id: int, action: str, before: dict[str, Any] | None,
                        after: dict[str, Any], now: float | None = None) -> None:
        """Queue one message for an invoice created (`before` None) or changed."""
        moment = int(now or time.time())
        event: dict[str, Any] = {"action": action, "timestamp": moment, "userId": None,
                                 "entity": {"type": "invoice", "id": int(invoice_id),
                                            "uri": f"{api_url}/invoice/{invoice_id}"}}
        if self.settings.webhook_include_changesets and before is not None:
            event["changeset"] = [{"field": key, "oldValue": before.get(key), "newValue": after.get(key)}
                                  for key in ("status", "invoice_number") if before.get(key) != after.get(key)]
        body = wire.dumps({"messageId": str(uuid.uuid4()), "timestamp": str(moment), "data": [event]})
        for _ in range(2 if self.settings.webhook_duplicates else 1):
            self._queue.put(body)

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {"url_configured": True, "pending": self._queue.qsize(),
                    "delivered": list(self.delivered), "discarded": list(self.discarded)}

    def _deliver_forever(self) -> None:
        with httpx.Client(timeout=self.settings.webhook_timeout_s) as client:
            while True:
                self._deliver(client, self._queue.get())

    def _deliver(self, client: httpx.Client, body: bytes) -> None:
        attempts: list[str] = []
        for attempt in range(1, self.settings.webhook_max_tries + 1):
            try:
                response = client.post(self.url, content=body, headers={"Content-Type": "application/json"})
                if 200 <= response.status_code < 500:       # ServiceTrade counts any 2xx-4xx as delivered
                    with self._lock:
                        self.delivered.append({"body": wire.loads(body), "status": response.status_code,
                                               "attempts": attempt})
                    return
                attempts.append(f"HTTP {response.status_code}")
            except httpx.HTTPError as failure:
                attempts.append(type(failure).__name__)
            logger.warning("webhook message not delivered (%s), try %d of %d", attempts[-1], attempt,
                           self.settings.webhook_max_tries)
            if attempt < self.settings.webhook_max_tries:
                time.sleep(self.settings.real_seconds(self.settings.webhook_retry_pause_s))
        with self._lock:                                   # three strikes: gone for good
            self.discarded.append({"body": wire.loads(body), "attempts": attempts})
