"""Alerts without Dagster: the message, the webhook (a real receiver on loopback), the record of what was sent."""

from __future__ import annotations

import logging
import socket

import pytest

from bridge_assets.alerts import notify as alerts
from bridge_assets.ledger import store as ledger
from bridge_assets.ledger import plan as planning
from bridge_assets.alerts import problems
from bridge_assets.alerts.notify import Alert, AlertNotDelivered, AlertRecord, Webhook
from bridge_assets.destinations.base import Action

from .webhook_receiver import running_receiver

SECRET = "s3cr3t-w3bh00k-t0k3n"


def _alert(key="check:accounting_documents:totals_balance:2026-09:abc", documents=("100002 (total: 10.00)",), more=0):
    return Alert(key=key, period="2026-09", what_failed="Blocking check totals_balance failed on accounting_documents",
                 detail="1 document(s) whose total is not its lines plus tax", documents=documents,
                 more_documents=more, what_to_do="Correct the invoice in SedonaOffice and export it again.",
                 reference="run 1234")


class ListLog:
    """Collects what would go to the sensor's log."""

    def __init__(self):
        self.lines: list[tuple[str, str]] = []

    def info(self, msg):
        self.lines.append(("info", msg))

    def warning(self, msg):
        self.lines.append(("warning", msg))

    def error(self, msg):
        self.lines.append(("error", msg))

    def text(self) -> str:
        return "\n".join(m for _, m in self.lines)


@pytest.fixture
def receiver():
    with running_receiver() as r:
        yield r


def _no_sleep(_):
    pass


def test_message_names_period_what_failed_documents_and_what_to_do_as_slack_json():
    alert = _alert(documents=("A<1> & co", "100003"), more=7)
    payload = alert.slack_payload()
    assert set(payload) == {"text", "blocks"}
    text = payload["text"]
    for needed in ("2026-09", "totals_balance", "100003", "and 7 more", "What to do: Correct the invoice"):
        assert needed in text
    assert "A&lt;1&gt; &amp; co" in text and "<1>" not in text          # no accidental Slack links or mentions
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds[0] == "header" and "context" in kinds
    listed = next(b["text"]["text"] for b in payload["blocks"] if "First offending" in b.get("text", {}).get("text", ""))
    assert "• 100003" in listed and "… and 7 more" in listed


def test_long_text_stays_within_slacks_block_limits():
    alert = Alert(key="k", period="2026-09", what_failed="x" * 400, detail="y" * 5000, what_to_do="z" * 4000)
    blocks = alert.slack_payload()["blocks"]
    assert len(blocks[0]["text"]["text"]) <= 150
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section" and "text" in b)


def test_webhook_delivers_the_slack_json_to_a_real_receiver(receiver):
    Webhook(receiver.url).send(_alert())
    assert receiver.messages == [_alert().slack_payload()]


def test_webhook_retries_a_5xx_and_delivers_once(receiver):
    receiver.next_statuses = [500, 503]
    Webhook(receiver.url, attempts=3, sleep=_no_sleep).send(_alert())
    assert receiver.requests == 3 and len(receiver.messages) == 1


def test_webhook_retries_a_timeout_then_gives_up_naming_the_variable_not_the_url(receiver, caplog):
    caplog.set_level(logging.DEBUG)
    receiver.delay_s = 1.0
    with pytest.raises(AlertNotDelivered) as failure:
        Webhook(receiver.url, timeout_s=0.2, attempts=2, sleep=_no_sleep).send(_alert())
    assert failure.value.transient
    assert "BRIDGE_ALERT_WEBHOOK_URL" in str(failure.value) and "no answer within 0.2 s" in str(failure.value)
    assert receiver.requests == 2
    assert SECRET not in str(failure.value) and SECRET not in caplog.text


def test_a_refused_message_is_not_retried_and_says_what_to_fix(receiver):
    wrong = Webhook(receiver.url.replace(SECRET, "revoked-token"), sleep=_no_sleep)
    with pytest.raises(AlertNotDelivered) as failure:
        wrong.send(_alert())
    assert not failure.value.transient and receiver.requests == 1
    assert "HTTP 404" in str(failure.value) and "BRIDGE_ALERT_WEBHOOK_URL" in str(failure.value)
    assert "revoked-token" not in str(failure.value)


def test_the_webhook_url_never_appears_in_logs_errors_or_reprs(receiver, caplog):
    caplog.set_level(logging.DEBUG)                  # httpx logs each request's URL at INFO, httpcore more at DEBUG
    hook = Webhook(receiver.url, sleep=_no_sleep)
    hook.send(_alert())
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)   # httpx did log the request...
    with socket.socket() as s:                        # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = Webhook(f"http://127.0.0.1:{closed}/services/T0/B0/{SECRET}", attempts=2, sleep=_no_sleep)
    with pytest.raises(AlertNotDelivered) as failure:
        down.send(_alert())
    assert "could not connect" in str(failure.value)
    bad = Webhook(f"hooks.slack.com/services/T0/B0/{SECRET}")
    with pytest.raises(AlertNotDelivered) as refused:
        bad.send(_alert())
    assert "not an http(s) address" in str(refused.value)
    with pytest.raises(AlertNotDelivered) as invalid:
        Webhook(f"http://hooks.example:abc/services/T0/B0/{SECRET}").send(_alert())
    assert "not a valid URL" in str(invalid.value) and invalid.value.__cause__ is None
    for text in (caplog.text, str(failure.value), str(refused.value), str(invalid.value), repr(hook), repr(down)):
        assert SECRET not in text                     # ...without the secret part of the URL


def test_a_problem_is_told_once_until_its_key_changes_or_it_is_resolved(tmp_path):
    path = tmp_path / "alerts.json"
    subject = "check:accounting_documents:totals_balance:2026-09"
    with AlertRecord.open(path) as record:
        assert record.raise_alert(_alert(key=f"{subject}:a"), subject)
        assert not record.raise_alert(_alert(key=f"{subject}:a"), subject)
    with AlertRecord.open(path) as record:                      # a restart: read back from the file
        assert not record.raise_alert(_alert(key=f"{subject}:a"), subject)
        assert record.raise_alert(_alert(key=f"{subject}:b"), subject)        # a new failing set
        assert [k for k, _ in record.pending()] == [f"{subject}:b"]          # the older unsent one is superseded
        assert [a.key for a in record.resolve(subject)] == [f"{subject}:b"]  # fixed before it was sent: dropped
        assert record.raise_alert(_alert(key=f"{subject}:a"), subject)       # failing again later: told again


def test_documents_are_told_once_until_they_leave_the_state(tmp_path):
    with AlertRecord.open(tmp_path / "alerts.json") as record:
        assert record.new_members("ledger:qbo:2026-09:held", ["a", "b"]) == ["a", "b"]
        record.told_members("ledger:qbo:2026-09:held", ["a", "b"])
        assert record.new_members("ledger:qbo:2026-09:held", ["a", "b", "c"]) == ["c"]
        assert record.new_members("ledger:qbo:2026-09:held", ["b"]) == []     # a was posted: forgotten
        assert record.new_members("ledger:qbo:2026-09:held", ["a", "b"]) == ["a"]


def test_an_unreadable_record_is_kept_aside_and_alerting_goes_on(tmp_path):
    path = tmp_path / "alerts.json"
    path.write_text("{half a file", encoding="utf-8")
    log = ListLog()
    with AlertRecord.open(path, log) as record:
        assert record.raise_alert(_alert())
    assert "was not readable" in log.text() and list(tmp_path.glob("alerts.json.unreadable-*"))


def test_without_a_webhook_an_alert_goes_to_the_log_once(tmp_path):
    log = ListLog()
    for _ in range(3):
        with AlertRecord.open(tmp_path / "alerts.json") as record:
            problems.raise_run_failure_alert(record, problems.FailedRun("r1", "bridge_job", "2026-09", "boom"), [], log)
            alerts.deliver(record, None, log)
    told = [m for level, m in log.lines if m.startswith("ALERT ")]
    assert len(told) == 1 and "Run of bridge_job failed (2026-09)" in told[0]
    with AlertRecord.open(tmp_path / "alerts.json") as record:
        assert record.status("run:r1") == "logged"


def test_receiver_down_keeps_the_alert_queued_and_sends_it_once_when_back(tmp_path, receiver):
    hook = Webhook(receiver.url, attempts=2, sleep=_no_sleep)
    log = ListLog()
    receiver.stop()
    with AlertRecord.open(tmp_path / "alerts.json") as record:
        problems.raise_run_failure_alert(record, problems.FailedRun("r1", "bridge_job", "2026-09", "boom"), None, log)
        problems.raise_run_failure_alert(record, problems.FailedRun("r2", "bridge_job", "2026-10", "boom"), None, log)
        outcome = alerts.deliver(record, hook, log)
    assert outcome.waiting == 2 and outcome.sent == 0
    (error,) = [m for level, m in log.lines if level == "error"]
    assert "BRIDGE_ALERT_WEBHOOK_URL" in error and "next sensor tick" in error and SECRET not in error
    receiver.start()                                              # back, on the same address
    for _ in range(2):
        with AlertRecord.open(tmp_path / "alerts.json") as record:
            alerts.deliver(record, hook, log)
    assert [m["text"].splitlines()[0] for m in receiver.messages] == [
        "Run of bridge_job failed (2026-09)", "Run of bridge_job failed (2026-10)"]


def test_a_run_failure_lists_the_documents_it_left_in_flight(db):
    with db.transaction() as con:
        planning.ensure_schema(con)
        ledger.mark_sending(con, "qbo", "run-7", [
            ledger.Sending("sedona:invoice:100045", "2026-09", "invoice", "100045", "h1", Action.CREATE, "req-1")])
    with db.connect() as con:
        left = problems.documents_left_by_run(con, "run-7")
        assert problems.documents_left_by_run(con, "another-run") == []
    alert = problems.run_failure_alert(problems.FailedRun("run-7", "bridge_job", "2026-09", "killed"), left)
    assert alert.documents == ("100045 (invoice) [sending for qbo]",)
