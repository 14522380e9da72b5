"""The kit's "a platform said something changed" spool and signature check, as a next platform uses them."""

from __future__ import annotations

import json

from bridge_assets.destinations.kit.changes import ChangeSpool, base64_hmac, signed_base64_hmac


def _entities(body: bytes) -> list[dict[str, str]]:     # a Xero-shaped notification, for instance
    return [{"name": e["eventCategory"].title(), "id": e["resourceId"], "operation": e["eventType"]}
            for e in json.loads(body)["events"]]


BODY = json.dumps({"events": [{"eventCategory": "INVOICE", "resourceId": "abc-1", "eventType": "UPDATE"}]}).encode()


def test_a_notification_delivered_twice_is_one_change_notice_whole_on_disk(tmp_path):
    spool = ChangeSpool(tmp_path / "spool", entities_of=_entities)
    first, second = spool.record(BODY), spool.record(BODY)
    assert first.key == second.key and first.path == second.path
    [pending] = spool.pending()
    assert pending.entities == ({"name": "Invoice", "id": "abc-1", "operation": "UPDATE"},)
    assert pending.describe() == "Invoice abc-1 update"
    assert [p.name for p in (tmp_path / "spool").iterdir()] == [first.path.name]     # no temporary left
    spool.done([pending])
    assert spool.pending() == []


def test_an_unreadable_body_is_still_a_reason_to_look(tmp_path):
    spool = ChangeSpool(tmp_path / "spool", entities_of=_entities)
    notice = spool.record(b"not json")
    assert notice.entities == () and notice.describe() == "a change (no entities named)"
    assert [n.key for n in spool.pending()] == [notice.key]


def test_the_signature_check_refuses_a_missing_or_wrong_signature():
    good = base64_hmac("webhook-key", BODY)
    assert signed_base64_hmac("webhook-key", BODY, good)
    assert not signed_base64_hmac("webhook-key", BODY + b" ", good)
    assert not signed_base64_hmac("webhook-key", BODY, None)
    assert not signed_base64_hmac("", BODY, good)
