"""FreshBooks' webhooks ("callbacks"): registration, the verifier handshake, signed deliveries.

    POST /events/account/{accountId}/events/callbacks {"callback": {"event": "invoice.create", "uri": ...}}
         -> FreshBooks posts `name=callback.verify&verifier=...&object_id=<callback id>&account_id=...` to the uri
    PUT  /events/account/{accountId}/events/callbacks/{id} {"callback": {"verifier": ...}}   verified: active
    PUT  ... {"callback": {"resend": true}}                                                    the verifier again
    GET  /events/account/{accountId}/events/callbacks[/{id}],  DELETE .../{id}

A verified callback receives every event it names (`invoice.create`, or `invoice` for all of an object's
events) as a form-encoded POST `name, object_id, account_id, business_id, identity_id, user_id`, signed
`X-FreshBooks-Hmac-SHA256: base64(HMAC-SHA256(verifier, json.dumps(fields)))` (design/platforms/freshbooks.md
§11). Deliveries go from a thread of their own, once, and are not retried (unconfirmed: FreshBooks' retry
policy is not documented; the strictest is none).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from typing import Any

import httpx

from bridge_assets.sandbox.freshbooks.rules import Refusal
from bridge_assets.sandbox.kit.documents import DocumentStore


def signature(verifier: str, fields: dict[str, Any]) -> str:
    digest = hmac.new(verifier.encode("utf-8"), json.dumps(fields).encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class Callbacks:
    def __init__(self, store: DocumentStore, business_id: int) -> None:
        self.store, self.business_id = store, business_id

    def register(self, account: str, body: dict[str, Any]) -> int:
        event, uri = str(body.get("event") or ""), str(body.get("uri") or "")
        if not event or not uri.startswith(("http://", "https://")):
            raise Refusal(422, 1001, "A callback needs an event and a uri.", "event", "callback")
        callback_id = self.store.insert(account, "callback", {"event": event, "uri": uri, "verified": False,
                                                              "verifier": secrets.token_hex(16)})
        self._send_verifier(account, callback_id)
        return callback_id

    def change(self, account: str, callback_id: Any, body: dict[str, Any]) -> None:
        row = self.store.get(account, "callback", callback_id)
        if row is None or row["state"] == "deleted":
            raise Refusal(404, 1012, "Callback not found.", "callbackid", "callback", callback_id)
        if body.get("resend"):
            self._send_verifier(account, row["id"])
            return
        if not hmac.compare_digest(str(body.get("verifier") or ""), row["body"]["verifier"]):
            raise Refusal(422, 1004, "The verifier does not match.", "verifier", "callback")
        self.store.replace(account, "callback", row["id"], {**row["body"], "verified": True})

    def delete(self, account: str, callback_id: Any) -> None:
        row = self.store.get(account, "callback", callback_id)
        if row is None:
            raise Refusal(404, 1012, "Callback not found.", "callbackid", "callback", callback_id)
        self.store.replace(account, "callback", row["id"], row["body"], state="deleted")

    def render(self, row: dict[str, Any]) -> dict[str, Any]:
        body = row["body"]
        return {"callbackid": row["id"], "id": row["id"], "event": body["event"], "uri": body["uri"],
                "verified": body["verified"]}

    def notify(self, account: str, event: str, object_id: int) -> None:
        """Every verified callback that names this event hears of it, signed with its verifier."""
        for row in self.store.rows(account, "callback"):
            body = row["body"]
            if row["state"] == "deleted" or not body["verified"]:
                continue
            if body["event"] == event or event.startswith(body["event"] + "."):
                fields = {"name": event, "object_id": str(object_id), "account_id": account,
                          "business_id": str(self.business_id), "identity_id": "1", "user_id": "1"}
                self._post(body["uri"], fields, {"X-FreshBooks-Hmac-SHA256": signature(body["verifier"], fields)})

    def _send_verifier(self, account: str, callback_id: int) -> None:
        row = self.store.get(account, "callback", callback_id)
        self._post(row["body"]["uri"], {"name": "callback.verify", "verifier": row["body"]["verifier"],
                                        "object_id": str(callback_id), "account_id": account}, {})

    @staticmethod
    def _post(uri: str, fields: dict[str, str], headers: dict[str, str]) -> None:
        def send() -> None:
            try:
                httpx.post(uri, data=fields, headers=headers, timeout=5.0)
            except httpx.HTTPError:
                pass                                    # delivered once or not at all
        threading.Thread(target=send, name="freshbooks-callback", daemon=True).start()
