"""The kit's fault injection, over real HTTP: the platform's own 429, 5xx on chosen requests, latency,
a response dropped after the write committed, tokens expiring mid-run, and plans refused when wrong.
"""

from __future__ import annotations

import time

import httpx
import pytest

from bridge_assets.sandbox.kit.serving import AdminCallFailed
from bridge_assets_tests.sandbox import kit_toy
from bridge_assets_tests.sandbox.kit_toy import CLIENT_ID, CLIENT_SECRET, TOKEN_PATH


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    with kit_toy.KIND.run(tmp_path_factory.mktemp("kit") / "notebook.sqlite3") as handle:
        yield handle


@pytest.fixture
def api(notebook):
    notebook.admin.reset()
    pair = httpx.post(notebook.base_url + TOKEN_PATH, data={"grant_type": "client_credentials"},
                      auth=(CLIENT_ID, CLIENT_SECRET)).json()
    with httpx.Client(base_url=notebook.base_url + "/api",
                      headers={"Authorization": f"Bearer {pair['access_token']}"}) as client:
        yield client


def test_an_injected_429_carries_the_platforms_own_body_and_headers(notebook, api):
    notebook.admin.set_faults(fail_next=[429])
    throttled = api.get("/notes")
    assert throttled.status_code == 429
    assert throttled.json() == {"Title": "Too Many Requests", "Detail": "minute limit"}
    assert throttled.headers["retry-after"] == "2" and throttled.headers["x-rate-limit-problem"] == "minute"
    assert api.get("/notes").status_code == 200


def test_the_nth_request_fails_and_the_others_pass(notebook, api):
    notebook.admin.set_faults(fail_requests=[2, 4], fail_status=503)
    assert [api.get("/notes").status_code for _ in range(5)] == [200, 503, 200, 503, 200]
    assert api.get("/notes").text == '{"notes":[]}'
    assert [e["outcome"] for e in notebook.admin.journal()][-6:] == [
        "processed", "injected", "processed", "injected", "processed", "processed"]


def test_a_seeded_error_rate_fails_the_same_requests_every_time(notebook, api):
    runs = []
    for _ in range(2):
        notebook.admin.set_faults(error_rate=0.5, error_statuses=[503], seed=11)
        runs.append([api.get("/notes").status_code for _ in range(12)])
    assert runs[0] == runs[1] and {200, 503} == set(runs[0])


def test_throttle_next_forces_429s_before_the_rate_limits_count(notebook, api):
    notebook.admin.set_faults(throttle_next=2)
    assert [api.get("/notes").status_code for _ in range(3)] == [429, 429, 200]


def test_latency_delays_every_matching_request_only(notebook, api):
    notebook.admin.set_faults(latency_ms=300, paths=["/api/notes"])
    started = time.monotonic()
    assert api.get("/notes").status_code == 200
    assert time.monotonic() - started >= 0.3
    notebook.admin.set_faults(latency_ms=300, paths=["/api/elsewhere"])
    started = time.monotonic()
    api.get("/notes")
    assert time.monotonic() - started < 0.3


def test_a_dropped_response_loses_the_answer_but_keeps_the_write(notebook, api):
    notebook.admin.set_faults(drop_next_writes=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/notes", json={"text": "written, answer lost"})
    assert api.get("/notes").json()["notes"] == [{"id": 1, "text": "written, answer lost"}]
    assert api.post("/notes", json={"text": "answered"}).json() == {"id": 2}
    assert [e["outcome"] for e in notebook.admin.journal()][-3:] == ["dropped:reset", "processed", "processed"]


def test_a_dropped_response_can_be_a_gateways_502_instead(notebook, api):
    notebook.admin.set_faults(drop_next_writes=1, drop_mode="502")
    answer = api.post("/notes", json={"text": "behind a proxy"})
    assert (answer.status_code, answer.text) == (502, "bad gateway")
    assert [n["text"] for n in api.get("/notes").json()["notes"]] == ["behind a proxy"]


def test_tokens_expire_on_the_nth_request(notebook, api):
    notebook.admin.set_faults(expire_tokens_on_request=[3])
    assert [api.get("/notes").status_code for _ in range(4)] == [200, 200, 401, 401]


def test_a_plan_with_an_unknown_key_or_status_is_refused_and_names_what_is_allowed(notebook):
    with pytest.raises(AdminCallFailed, match=r"unknown fault settings \['drop_rate'\]; known: .*'fail_next'"):
        notebook.admin.set_faults(drop_rate=0.5)
    with pytest.raises(AdminCallFailed, match=r"injected statuses are \(429, 503\), not 500"):
        notebook.admin.set_faults(fail_next=[500])


def test_a_reset_clears_the_plan(notebook, api):
    notebook.admin.set_faults(fail_next=[503, 503])
    notebook.admin.reset()
    pair = httpx.post(notebook.base_url + TOKEN_PATH, data={"grant_type": "client_credentials"},
                      auth=(CLIENT_ID, CLIENT_SECRET)).json()
    fresh = httpx.get(notebook.base_url + "/api/notes", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert fresh.status_code == 200
