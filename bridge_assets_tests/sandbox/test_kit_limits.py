"""The kit's rate limits, given as data, over real HTTP: a minute window, a day window, requests at once.

Time is shrunk, not the rules: with `time_scale` a "minute" or a "day" passes in a second or two.
"""

from __future__ import annotations

import concurrent.futures
import time

import httpx

from bridge_assets_tests.sandbox import kit_toy
from bridge_assets_tests.sandbox.kit_toy import CLIENT_ID, CLIENT_SECRET, TOKEN_PATH


def bearer(handle) -> dict[str, str]:
    pair = httpx.post(handle.base_url + TOKEN_PATH, data={"grant_type": "client_credentials"},
                      auth=(CLIENT_ID, CLIENT_SECRET)).json()
    return {"Authorization": f"Bearer {pair['access_token']}"}


def statuses(handle, headers: dict[str, str], count: int) -> list[int]:
    return [httpx.get(handle.base_url + "/api/notes", headers=headers).status_code for _ in range(count)]


def test_the_minute_window_refuses_with_the_platforms_429_until_it_slides(tmp_path):
    settings = kit_toy.Settings(per_minute=3, time_scale=30)  # a minute lasts two seconds
    with kit_toy.KIND.run(tmp_path / "notebook.sqlite3", settings) as handle:
        headers = bearer(handle)
        assert statuses(handle, headers, 4) == [200, 200, 200, 429]
        refused = httpx.get(handle.base_url + "/api/notes", headers=headers)
        assert refused.headers["x-rate-limit-problem"] == "minute"
        time.sleep(2.1)
        assert statuses(handle, headers, 3) == [200, 200, 200]


def test_the_day_window_still_refuses_after_a_minute_and_admits_the_next_day(tmp_path):
    # A day lasts two seconds (and the access token eight).
    settings = kit_toy.Settings(per_minute=100, per_day=4, time_scale=43200, access_token_lifetime_s=4 * 86400)
    with kit_toy.KIND.run(tmp_path / "notebook.sqlite3", settings) as handle:
        headers = bearer(handle)
        assert statuses(handle, headers, 5) == [200, 200, 200, 200, 429]
        time.sleep(0.1)  # more than an emulated minute, less than a day
        assert statuses(handle, headers, 1) == [429]
        time.sleep(2.0)
        assert statuses(handle, headers, 1) == [200]


def test_refused_requests_do_not_count_against_the_window(tmp_path):
    settings = kit_toy.Settings(per_minute=2, time_scale=30)
    with kit_toy.KIND.run(tmp_path / "notebook.sqlite3", settings) as handle:
        headers = bearer(handle)
        statuses(handle, headers, 2)
        assert statuses(handle, headers, 5) == [429] * 5
        time.sleep(2.1)
        assert statuses(handle, headers, 2) == [200, 200]


def test_more_requests_at_once_than_allowed_are_refused_while_the_others_run(tmp_path):
    settings = kit_toy.Settings(concurrent=2)
    with kit_toy.KIND.run(tmp_path / "notebook.sqlite3", settings) as handle:
        headers = bearer(handle)
        handle.admin.set_faults(latency_ms=1500)  # each admitted request holds its slot for 1.5 s
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = sorted(pool.map(lambda _: statuses(handle, headers, 1)[0], range(4)))
        assert answers == [200, 200, 429, 429]
        handle.admin.set_faults()
        assert statuses(handle, headers, 2) == [200, 200]  # the slots were given back
