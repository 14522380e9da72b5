"""QuickFile's v1.2 calls: `POST <base>/1_2/<category>/<method>` with `{"payload": {"Header", "Body"}}`.

The header signs each request: `MD5Value = md5(AccNumber + APIKey + SubmissionNumber)`, with a submission
number used once (QuickFile refuses a reuse), so every try, a retry too, gets a new number and a new
signature; the API key itself is never sent nor logged. The kit's paced client sends each try and waits
out 429 / 5xx / dropped connections between them (`wait_before_retry`). A write retried after a lost
answer may have landed: the adapter tells by the invoice number (QuickFile has no idempotency key).
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from decimal import Decimal
from typing import Any

import httpx

from bridge_assets.destinations.base import DestinationError
from bridge_assets.destinations.kit.http import PacedClient, Platform, PlatformUnavailable, Retry
from bridge_assets.destinations.kit.limits import Limits
from bridge_assets.destinations.kit.secrets import Secret

QUICKFILE_URL = "https://api.quickfile.co.uk"


class QuickFileUnavailable(PlatformUnavailable):
    """QuickFile did not answer usefully after every try: the outcome of a write is unknown."""


class QuickFileAuthError(DestinationError):
    """QuickFile refuses the bridge's account number, API key or application: a person fixes the settings."""


class QuickFileRefused(Exception):
    """QuickFile answered `{"Errors": {"Error": [...]}}`: what it refused, worded by QuickFile."""

    def __init__(self, method: str, status: int, errors: list[str]) -> None:
        super().__init__(f"QuickFile refused {method} (HTTP {status}): {'; '.join(errors)}")
        self.status, self.errors = status, errors


def _plain(value: Any) -> Any:
    """Money and quantities as JSON numbers (QuickFile's doubles): a 2- or 4-place Decimal's float prints exactly."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class QuickFileClient:
    def __init__(self, base_url: str, account_number: str, api_key: str, application_id: str, limits: Limits, *,
                 tries: int = 5, timeout: float = 60.0) -> None:
        self.account_number, self.application_id = account_number, application_id
        self._api_key = Secret(api_key)
        self.tries = tries
        self.http = PacedClient(Platform("QuickFile", limits=limits, retry=Retry(tries=tries),
                                         give_up=QuickFileUnavailable),
                                base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
                                headers={"Accept": "application/json"})

    def close(self) -> None:
        self.http.close()

    def _header(self) -> dict[str, Any]:
        submission = uuid.uuid4().hex
        signature = hashlib.md5(f"{self.account_number}{self._api_key.reveal()}{submission}".encode()).hexdigest()
        return {"MessageType": "Request", "SubmissionNumber": submission,
                "Authentication": {"AccNumber": self.account_number, "MD5Value": signature,
                                   "ApplicationID": self.application_id}}

    def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        """The `Body` of `method`'s answer; QuickFileRefused / QuickFileAuthError / QuickFileUnavailable."""
        path = "/1_2/" + method.lower().replace("_", "/")
        for attempt in range(1, self.tries + 1):
            payload = {"payload": {"Header": self._header(), "Body": _plain(body)}}
            try:
                response = self.http.send("POST", path, json=payload, tries=1, what=method)
            except QuickFileUnavailable as gone:
                if attempt == self.tries:
                    raise QuickFileUnavailable(dataclasses.replace(gone.gave_up, tries=attempt)) from None
                self.http.wait_before_retry(attempt, method, gone.gave_up.problem, gone.gave_up.response,
                                            tries=self.tries)
                continue
            return self._body(method, response)
        raise AssertionError("unreachable")

    def _body(self, method: str, response: httpx.Response) -> dict[str, Any]:
        try:
            answer = response.json(parse_float=Decimal)
        except ValueError:
            answer = {}
        if response.status_code == 200 and method in answer:
            return answer[method].get("Body") or {}
        errors = [str(e) for e in ((answer.get("Errors") or {}).get("Error") or [f"HTTP {response.status_code}"])]
        if response.status_code in (401, 403):
            raise QuickFileAuthError(
                f"QuickFile refused the bridge's credentials for {method} ({'; '.join(errors)}): check "
                f"QUICKFILE_ACCOUNT_NUMBER, QUICKFILE_API_KEY and QUICKFILE_APPLICATION_ID, and that the app's "
                f"permissions tick {method} (QuickFile: Account settings > 3rd Party Integrations > API)")
        raise QuickFileRefused(method, response.status_code, errors)
