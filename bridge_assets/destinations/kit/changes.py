""""A platform said something changed": what every platform's webhook receiver shares.

- `ChangeSpool`: one small JSON file per notification in a spool folder, written aside, flushed and
  renamed into place (whole or absent), keyed by the sha256 of the body, so a notification delivered
  twice is one request. The receiver never touches DuckDB (one writing process per file); a sensor
  turns what it finds into a read-back run and removes the files afterwards (`done`).
- `signed_base64_hmac`: the HMAC-SHA256 signature check (QuickBooks' `intuit-signature`, Xero's
  `x-xero-signature` are both base64 of it), constant-time.
- `body_within_limit`: a request body read chunk by chunk and given up the moment it passes a limit.

Nothing is taken from a notification but the fact that something changed (and, for the log, what):
notifications arrive twice and out of order, and the read-back reads the changes themselves.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Callable, Generic, TypeVar

from starlette.requests import Request

from bridge_assets.runtime.durable import fsync_folder

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ChangeNotice:
    key: str                           # sha256 of the body: the same notification, the same key
    received_at: str
    entities: tuple[dict[str, str], ...]
    path: Path

    def describe(self) -> str:
        named = ", ".join(f"{e.get('name', '')} {e.get('id', '')} {e.get('operation', '').lower()}".strip()
                          for e in self.entities[:5])
        more = f" and {len(self.entities) - 5} more" if len(self.entities) > 5 else ""
        return named + more if named else "a change (no entities named)"


Notice = TypeVar("Notice", bound=ChangeNotice)


class ChangeSpool(Generic[Notice]):
    """Change notices as files: one per notification, whole or absent. `entities_of(body)` names what a
    body says changed when the receiver did not (ValueError: unreadable, still a reason to look)."""

    notice_type: type = ChangeNotice

    def __init__(self, folder: Path | str, entities_of: Callable[[bytes], list[dict[str, str]]] | None = None) -> None:
        self.folder = Path(folder)
        self._entities_of = entities_of

    def record(self, body: bytes, entities: list[dict[str, str]] | None = None) -> Notice:
        self.folder.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha256(body).hexdigest()
        if entities is None:
            try:
                entities = self._entities_of(body) if self._entities_of else []
            except ValueError:
                entities = []       # unreadable: still a reason to look
        received_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        target = self.folder / f"{key[:32]}.json"
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".incoming-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"key": key, "received_at": received_at, "entities": entities}, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        fsync_folder(self.folder)
        return self.notice_type(key, received_at, tuple(entities), target)

    def pending(self) -> list[Notice]:
        if not self.folder.exists():
            return []
        found = []
        for path in sorted(self.folder.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name)):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                found.append(self.notice_type(record["key"], record["received_at"], tuple(record["entities"]), path))
            except (OSError, ValueError, KeyError):
                log.warning("ignoring unreadable change notice %s", path.name)
        return found

    def done(self, notices: list[Notice]) -> None:
        for notice in notices:
            notice.path.unlink(missing_ok=True)


def base64_hmac(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, body)): what QuickBooks and Xero put in their signature header."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def signed_base64_hmac(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is this body's signature (constant-time); False when either is missing."""
    if not header or not secret:
        return False
    return hmac.compare_digest(base64_hmac(secret, body).encode("ascii"), header.strip().encode("ascii", "replace"))


async def body_within_limit(request: Request, limit: int) -> bytes | None:
    """The body, read chunk by chunk and given up (None) as soon as it passes `limit` bytes: a huge
    body is never held whole in memory. A declared Content-Length over the limit is refused unread."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
