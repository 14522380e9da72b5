"""Alerts: one message per problem, to a chat webhook (Slack-compatible JSON) or to the log.

A problem is something a person has to look at: a blocking check that failed, a run that failed, a
document held or failed in the ledger, a period that does not reconcile. Each becomes an `Alert`
with a problem key that stays the same while the problem is the same and changes when it changes
(a new set of failing documents is a new problem), so a sensor that looks every minute sends one
message per problem, not one per tick.

What was raised and sent is kept in a small JSON file beside the bridge's other files
(`$BRIDGE_HOME/alerts/alerts.json`), not in a sensor cursor and not in DuckDB:
- two sensors raise alerts (run failures, and checks + ledger) and Dagster owns the run-failure
  sensor's cursor, so a cursor cannot be the one record both consult;
- the record must outlive the Dagster instance (a `dg dev` without DAGSTER_HOME keeps its instance in
  a temporary folder: a cursor there is lost on restart, and every open problem would be sent again);
- DuckDB allows one writing process per file and a run holds it for minutes: the sensor must record
  what it sent while a run is writing, and must never make a run wait for an alert.
The file is replaced whole (write aside, then rename) under an exclusive lock, so a crash never
leaves half a record and the two sensors never overwrite each other.

The webhook URL (`BRIDGE_ALERT_WEBHOOK_URL`) is a secret: a Slack webhook URL lets anyone post to the
channel. It is read from the environment when sending and never logged, stored or put in an error;
errors name the variable instead. With no URL, an alert goes to the log only, still once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

import httpx

from bridge_assets.runtime.companies import company_label

WEBHOOK_VARIABLE = "BRIDGE_ALERT_WEBHOOK_URL"
FIRST_DOCUMENTS = 5                       # "the first few offending documents" in a message
KEEP_SETTLED_DAYS = 90                    # how long a sent alert's record is kept once nobody observes it

# Slack's limits for blocks (api.slack.com/reference/block-kit/blocks): longer text is refused with
# `invalid_blocks`, and the whole message would be lost.
_HEADER_LIMIT = 150
_SECTION_LIMIT = 3000


class Log(Protocol):
    def info(self, msg: str) -> Any: ...
    def warning(self, msg: str) -> Any: ...
    def error(self, msg: str) -> Any: ...


@dataclasses.dataclass(frozen=True)
class Alert:
    """One problem, told to a person: where (period), what failed, which documents, what to do."""

    key: str                          # the problem key: the same while the problem is the same
    period: str                       # "2026-09", "2026-08 to 2026-10", or "" when no period applies
    what_failed: str                  # one line: "Blocking check totals_balance failed on accounting_documents"
    detail: str                       # a sentence or two: why it matters, the error as given
    documents: tuple[str, ...] = ()   # the first few offending documents, one short line each
    more_documents: int = 0           # how many more offend beyond those listed
    what_to_do: str = ""
    reference: str = ""               # where to look further: "run 1f2e3d4c of bridge_job"
    company: str = ""                 # with a company registry: which company ("Acme Alarm & Fire (acme)")

    @property
    def headline(self) -> str:
        headline = f"{self.what_failed} ({self.period})" if self.period else self.what_failed
        return f"{self.company}: {headline}" if self.company else headline

    def text(self) -> str:
        """Plain text: the log line, and the notification text of the chat message."""
        lines = [self.headline, f"Period: {self.period or 'not tied to a period'}", self.detail]
        if self.documents:
            lines.append("First offending documents:")
            lines += [f"  - {d}" for d in self.documents]
            if self.more_documents:
                lines.append(f"  ... and {self.more_documents} more")
        if self.what_to_do:
            lines.append(f"What to do: {self.what_to_do}")
        if self.reference:
            lines.append(f"See: {self.reference}")
        return "\n".join(line for line in lines if line)

    def slack_payload(self) -> dict:
        """Slack-compatible incoming-webhook JSON: `text` (notifications, and tools that ignore
        blocks, e.g. Mattermost) plus `blocks` for the layout."""
        blocks: list[dict] = [
            {"type": "header", "text": {"type": "plain_text", "text": _cut(self.headline, _HEADER_LIMIT)}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": f"*Period*\n{_mrkdwn(self.period or 'not tied to a period')}"},
                {"type": "mrkdwn", "text": f"*What failed*\n{_mrkdwn(self.what_failed)}"},
            ]},
        ]
        if self.detail:
            blocks.append(_section(_mrkdwn(self.detail)))
        if self.documents:
            listed = "\n".join(f"• {_mrkdwn(d)}" for d in self.documents)
            more = f"\n… and {self.more_documents} more" if self.more_documents else ""
            blocks.append(_section(f"*First offending documents*\n{listed}{more}"))
        if self.what_to_do:
            blocks.append(_section(f"*What to do*\n{_mrkdwn(self.what_to_do)}"))
        if self.reference:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(_mrkdwn(self.reference), 2000)}]})
        return {"text": _mrkdwn(self.text()), "blocks": blocks}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"documents": list(self.documents)}

    @classmethod
    def from_dict(cls, data: dict) -> "Alert":
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["documents"] = tuple(values.get("documents") or ())
        return cls(**values)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> str:
    """Slack reads &, < and > as markup (links, mentions): escape them in anything we did not write."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, _SECTION_LIMIT)}}


# ---------------------------------------------------------------------------------------------
# Sending


class AlertNotDelivered(Exception):
    """The webhook did not take the message. The text names the variable, never the URL.

    `transient`: the receiver is down or overloaded; otherwise it refused the message (a setting to fix).
    """

    def __init__(self, reason: str, *, transient: bool):
        super().__init__(reason)
        self.transient = transient


class _RedactUrl(logging.Filter):
    """httpx logs every request with its full URL at INFO ("HTTP Request: POST https://hooks..."):
    for a webhook the URL is the secret, so records from httpx and httpcore are rewritten first."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            redacted = _redact(message, self.secrets)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


_REDACT = _RedactUrl()
_REDACT_LOCK = threading.Lock()


def _secret_parts(url: str) -> set[str]:
    """The URL and each part of it that can carry the secret (path, query, user info)."""
    parts = urllib.parse.urlsplit(url)
    found = {url, url.rstrip("/")}
    if len(parts.path) > 1:
        found.add(parts.path)
    if parts.query:
        found.add(parts.query)
    if "@" in parts.netloc:
        found.add(parts.netloc.rsplit("@", 1)[0])
    return {s for s in found if len(s) > 1}


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, f"<{WEBHOOK_VARIABLE}>")
    return text


class Webhook:
    """Posts an alert to a Slack-compatible incoming webhook, retrying a little on 5xx, 429 and timeouts."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, attempts: int = 3, backoff_s: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._url = url.strip()
        self._secrets = _secret_parts(url)
        self.timeout_s = timeout_s
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self._sleep = sleep
        with _REDACT_LOCK:
            _REDACT.secrets |= self._secrets
            for name in ("httpx", "httpcore"):
                if _REDACT not in logging.getLogger(name).filters:
                    logging.getLogger(name).addFilter(_REDACT)

    def __repr__(self) -> str:  # never show the URL, even in a traceback's locals
        return f"Webhook(<{WEBHOOK_VARIABLE}>)"

    @classmethod
    def from_env(cls, **options: Any) -> "Webhook | None":
        """The configured webhook, or None (alerts to the log only)."""
        url = os.environ.get(WEBHOOK_VARIABLE, "").strip()
        return cls(url, **options) if url else None

    def send(self, alert: Alert) -> None:
        parts = urllib.parse.urlsplit(self._url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise AlertNotDelivered(
                f"{WEBHOOK_VARIABLE} is set but is not an http(s) address; set it to the incoming-webhook URL your "
                "chat tool gave you (Slack: https://hooks.slack.com/services/...), or unset it to send alerts to the "
                "log only", transient=False)
        body = alert.slack_payload()
        problem = ""
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = client.post(self._url, json=body)
                except httpx.TimeoutException:
                    problem = f"no answer within {self.timeout_s:g} s"
                except httpx.InvalidURL:
                    raise AlertNotDelivered(
                        f"{WEBHOOK_VARIABLE} is not a valid URL; copy it again from your chat tool's webhook settings",
                        transient=False) from None
                except httpx.HTTPError as exc:
                    # httpx messages can quote the URL (an invalid port, a bad host): never pass one on.
                    problem = f"could not connect ({type(exc).__name__}: {_redact(str(exc), self._secrets)})"
                else:
                    if response.is_success:
                        return
                    reason = _redact(response.text.strip()[:200], self._secrets)
                    problem = f"it answered HTTP {response.status_code}" + (f" ({reason})" if reason else "")
                    if response.status_code != 429 and response.status_code < 500:
                        # 400 invalid_payload, 403 invalid_token, 404 no_service, 410 channel_is_archived:
                        # sending the same message again will not help; a person must fix the setting.
                        raise AlertNotDelivered(
                            f"the webhook in {WEBHOOK_VARIABLE} refused the message: {problem}; check that the "
                            "webhook still exists and the channel is not archived, then correct the variable",
                            transient=False)
                if attempt < self.attempts:
                    self._sleep(self.backoff_s * 2 ** (attempt - 1))
        raise AlertNotDelivered(
            f"the webhook in {WEBHOOK_VARIABLE} could not be reached after {self.attempts} attempt(s): {problem}",
            transient=True)


# ---------------------------------------------------------------------------------------------
# The record of what was raised and sent


def record_path(home: Path | str) -> Path:
    return Path(home) / "alerts" / "alerts.json"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class AlertRecord:
    """What was raised and sent, per problem, in one JSON file. Open it with `AlertRecord.open(path)`.

    - `alerts`: problem key -> the alert, its status (`pending`, `sent`, `logged`), when, attempts, last error.
    - `subjects`: what a problem is about (a check on a period, a run, a destination's held documents
      in a period) -> the key of the alert last raised for it. A subject raises again only when its
      key changes (a new set of failing documents), or after it was resolved (the check passed).
    - `members`: for problems made of documents, the documents already told about, so a document is
      one problem until it leaves its state (a held document until it is posted).
    """

    def __init__(self, path: Path, data: dict):
        self.path = path
        self.alerts: dict[str, dict] = data.get("alerts", {})
        self.subjects: dict[str, dict] = data.get("subjects", {})
        self.members: dict[str, list[str]] = data.get("members", {})

    _thread_lock = threading.Lock()

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path | str, log: Log | None = None) -> Iterator["AlertRecord"]:
        """Load under an exclusive lock (across processes and threads) and save on a clean exit."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with cls._thread_lock:
            fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                record = cls(path, cls._load(path, log))
                yield record
                record.save()
            finally:
                os.close(fd)  # closing releases the flock

    @staticmethod
    def _load(path: Path, log: Log | None) -> dict:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (ValueError, UnicodeDecodeError) as problem:
            # A broken record must not stop alerting forever: keep it aside for a person, start again
            # (open problems are then told once more, which is better than never).
            aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
            os.replace(path, aside)
            if log is not None:
                log.error(f"the alert record {path} was not readable ({type(problem).__name__}); it was moved to "
                          f"{aside.name} and a new one started: open problems are alerted once more")
            return {}

    def save(self) -> None:
        data = json.dumps({"alerts": self.alerts, "subjects": self.subjects, "members": self.members},
                          sort_keys=True, ensure_ascii=False, indent=1)
        temp = self.path.with_name(self.path.name + ".tmp")
        temp.write_text(data, encoding="utf-8")
        os.replace(temp, self.path)

    # -- raising ---------------------------------------------------------------------------

    def raise_alert(self, alert: Alert, subject: str | None = None, *, supersedes: bool = True) -> bool:
        """Queue the alert unless its subject was already told about with this key. Returns whether queued.

        `supersedes`: the new alert describes the whole problem as it is now (a check's failing set),
        so an older message about the subject still waiting to be sent is dropped. False when each
        alert tells only what is new (documents newly held): then both are needed."""
        subject = subject or alert.key
        alert = dataclasses.replace(alert, company=alert.company or company_label())
        self.observed(subject)
        previous = self.subjects.get(subject, {}).get("key")
        if previous == alert.key:
            return False
        if supersedes and previous is not None and self.status(previous) == "pending":
            del self.alerts[previous]
        self.subjects[subject] = {"key": alert.key, "seen_at": _now()}
        self.alerts[alert.key] = {"alert": alert.to_dict(), "subject": subject, "status": "pending",
                                  "raised_at": _now(), "sent_at": None, "attempts": 0, "last_error": None}
        return True

    def observed(self, subject: str) -> None:
        """The subject is still a problem now (keeps its record from being pruned)."""
        if subject in self.subjects:
            self.subjects[subject]["seen_at"] = _now()

    def resolve(self, subject: str) -> list[Alert]:
        """The problem is over (the check passed, the documents were posted). A message not yet sent
        about it is dropped: telling a bookkeeper about something already fixed is noise. Returns those."""
        self.subjects.pop(subject, None)
        self.members.pop(subject, None)
        stale = [k for k, e in self.alerts.items() if e["subject"] == subject and e["status"] == "pending"]
        return [Alert.from_dict(self.alerts.pop(k)["alert"]) for k in stale]

    def open_subjects(self, prefix: str) -> list[str]:
        return [s for s in self.subjects if s.startswith(prefix)]

    def new_members(self, subject: str, current: Iterable[str]) -> list[str]:
        """Of the documents now in a problem, those not told about yet. Forgets the ones that left it."""
        current = list(current)
        told = set(self.members.get(subject, ())) & set(current)
        self.members[subject] = sorted(told)
        return [m for m in current if m not in told]

    def told_members(self, subject: str, members: Iterable[str]) -> None:
        self.members[subject] = sorted(set(self.members.get(subject, ())) | set(members))

    def pending(self) -> list[tuple[str, Alert]]:
        entries = [(e["raised_at"], k, e) for k, e in self.alerts.items() if e["status"] == "pending"]
        return [(k, Alert.from_dict(e["alert"])) for _, k, e in sorted(entries, key=lambda t: (t[0], t[1]))]

    def status(self, key: str) -> str | None:
        entry = self.alerts.get(key)
        return entry["status"] if entry else None

    def prune(self, keep_days: int = KEEP_SETTLED_DAYS) -> None:
        """Forget subjects nobody has observed for `keep_days` (a run failure long past, a check on a
        range nobody runs any more) and the alerts sent about them. Pending alerts are never forgotten."""
        cutoff = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=keep_days)).isoformat(timespec="seconds")
        for subject, entry in list(self.subjects.items()):
            alert = self.alerts.get(entry["key"])
            if entry["seen_at"] < cutoff and (alert is None or alert["status"] != "pending"):
                del self.subjects[subject]
                self.members.pop(subject, None)
        live = {e["key"] for e in self.subjects.values()}
        for key, alert in list(self.alerts.items()):
            if key not in live and alert["status"] != "pending":
                del self.alerts[key]


# ---------------------------------------------------------------------------------------------
# Delivering


@dataclasses.dataclass
class Delivery:
    sent: int = 0
    logged: int = 0
    waiting: int = 0

    def summary(self) -> str:
        parts = [f"{self.sent} alert(s) sent", f"{self.logged} to the log only"]
        if self.waiting:
            parts.append(f"{self.waiting} waiting for the webhook")
        return ", ".join(parts)


def announce(alert: Alert, log: Log) -> None:
    """Every alert goes to the log once when raised: the whole message with no webhook, and a copy
    to read in the UI when the webhook is down."""
    log.warning(f"ALERT {alert.text()}")


def deliver(record: AlertRecord, webhook: Webhook | None, log: Log) -> Delivery:
    """Send what is pending, oldest first. The record is saved after each message, so a crash
    between two sends does not send the first again. When the receiver is down, the rest wait for
    the next tick instead of each waiting out its own timeouts."""
    outcome = Delivery()
    for key, alert in record.pending():
        entry = record.alerts[key]
        if webhook is None:
            entry.update(status="logged", sent_at=_now())
            outcome.logged += 1
            continue
        try:
            webhook.send(alert)
        except AlertNotDelivered as problem:
            # Down, overloaded or misconfigured: the next message would fare no better this tick.
            entry.update(attempts=entry["attempts"] + 1, last_error=str(problem))
            outcome.waiting = len(record.pending())
            log.error(f"alert not delivered: {alert.headline}: {problem}. It stays queued"
                      f"{f' with {outcome.waiting - 1} other(s)' if outcome.waiting > 1 else ''} "
                      "and is tried again at the next sensor tick.")
            return outcome
        entry.update(status="sent", sent_at=_now(), attempts=entry["attempts"] + 1, last_error=None)
        record.save()
        outcome.sent += 1
        log.info(f"alert sent to {WEBHOOK_VARIABLE}: {alert.headline}")
    return outcome
