"""The kit's paced HTTP client: limits kept, Retry-After honoured, jitter bounded, give-ups that say what to do."""

from __future__ import annotations

import email.utils
import logging
import random
import threading

import httpx
import pytest

from bridge_assets.destinations.kit.http import (
    Backoff,
    DailyLimitSpent,
    PacedClient,
    Platform,
    PlatformUnavailable,
    Retry,
)
from bridge_assets.destinations.kit.limits import Limits

from .loopback import RecordingApi, serving

FAST = Backoff(first_s=0.01, max_s=30.0)


def scripted(*answers: int | Exception, headers: dict[str, str] | None = None):
    """A MockTransport answering with `answers` in turn (the last one repeated), and the requests it saw."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, headers=headers if answer == 429 else None, json={})

    return httpx.MockTransport(handle), seen


# --- pacing, over loopback ----------------------------------------------------------------------------


def test_requests_from_several_threads_stay_under_the_per_minute_limit_and_are_evenly_spaced():
    # 20 a "minute" with the minute shortened to 2 s: one slot every ~0.1 s.
    limits = Limits(requests_per_minute=20, time_scale=30)
    api = RecordingApi()
    with serving(api.app) as url:
        client = PacedClient(Platform("Loopback", limits), base_url=url, timeout=10.0)
        threads = [threading.Thread(target=lambda: [client.send("GET", "/items") for _ in range(6)])
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.close()
    arrivals = sorted(api.arrivals)
    assert len(arrivals) == 24
    # No window shorter than the limit's minute holds more than its 20 requests (a burst would put all 24 in one).
    window = limits.minute * 0.95
    assert max(sum(1 for t in arrivals if start <= t < start + window) for start in arrivals) <= 20
    gaps = sorted(b - a for a, b in zip(arrivals, arrivals[1:]))
    assert gaps[len(gaps) // 2] == pytest.approx(limits.request_interval, rel=0.25)   # even, not bursts


def test_a_minutes_slots_keep_a_wall_clock_slack_even_when_an_emulator_shortens_the_minute():
    from bridge_assets.destinations.kit.limits import JITTER_S

    real = Limits(requests_per_minute=60, batch_requests_per_minute=40)           # the platform's own clock
    assert real.request_interval == pytest.approx(1.0 * 1.02) and real.batch_interval == pytest.approx(1.5 * 1.02)
    fast = Limits(requests_per_minute=5, batch_requests_per_minute=5, time_scale=60)   # a minute lasts 1 s
    # five slots span the emulated minute plus at least JITTER_S, not plus 2% of one second (20 ms), which a
    # loaded test machine's scheduling delay exceeds: the sixth request would meet the first in the window
    assert 5 * fast.request_interval == pytest.approx(fast.minute + JITTER_S)
    assert 5 * fast.batch_interval == pytest.approx(fast.minute + JITTER_S)
    assert Limits().request_interval == 0.0


def test_no_more_requests_are_in_flight_than_the_platform_allows():
    api = RecordingApi(delay_s=0.05)
    with serving(api.app) as url:
        client = PacedClient(Platform("Loopback", Limits(concurrent_requests=2)), base_url=url, timeout=10.0)
        threads = [threading.Thread(target=lambda: [client.send("GET", "/items") for _ in range(3)])
                   for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.close()
    assert len(api.arrivals) == 18
    assert api.most_in_flight == 2


def test_a_batch_takes_a_batch_slot_as_well_as_a_request_slot():
    waits: list[float] = []
    clock = [0.0]
    transport, _ = scripted(200)
    limits = Limits(requests_per_minute=600, batch_requests_per_minute=60)
    client = PacedClient(Platform("Batches", limits), transport=transport, sleep=waits.append, clock=lambda: clock[0])
    client.send("POST", "https://api.example/batch", batch=True)
    client.send("POST", "https://api.example/batch", batch=True)     # the next batch slot is a second away
    client.send("GET", "https://api.example/one")                    # a plain request waits behind it
    assert waits == [pytest.approx(1.02), pytest.approx(1.02 + 0.102)]


def test_a_spent_daily_budget_is_refused_at_once_naming_the_platform_and_when_to_run_again():
    transport, seen = scripted(200)
    client = PacedClient(Platform("Xero", Limits(requests_per_day=3)), transport=transport)
    for _ in range(3):
        client.send("GET", "https://api.example/Invoices")
    with pytest.raises(DailyLimitSpent) as spent:
        client.send("GET", "https://api.example/Invoices")
    assert len(seen) == 3
    assert "Xero" in str(spent.value) and "3 a day" in str(spent.value) and "run again" in str(spent.value)


# --- backoff -------------------------------------------------------------------------------------------


def test_retry_after_in_seconds_is_honoured():
    waits: list[float] = []
    transport, seen = scripted(429, 200, headers={"Retry-After": "3"})
    client = PacedClient(Platform("Xero", retry=Retry(backoff=FAST)), transport=transport, sleep=waits.append)
    assert client.send("GET", "https://api.example/Invoices").status_code == 200
    assert len(seen) == 2 and waits == [3.0]


def test_retry_after_as_an_http_date_is_honoured():
    waits: list[float] = []
    now = 1_800_000_000.0
    dated = {"Retry-After": email.utils.formatdate(now + 7, usegmt=True)}
    client = PacedClient(Platform("Xero", retry=Retry(backoff=FAST)), sleep=waits.append, wall_clock=lambda: now,
                         transport=httpx.MockTransport(
                             lambda request: httpx.Response(503, headers=dated) if not waits else httpx.Response(200)))
    assert client.send("GET", "https://api.example/Invoices").status_code == 200
    assert waits == [pytest.approx(7.0)]


def test_a_retry_after_longer_than_the_cap_waits_the_cap_and_a_429_holds_the_other_requests():
    waits: list[float] = []
    clock = [100.0]
    transport, _ = scripted(429, 200, headers={"Retry-After": "3600"})
    client = PacedClient(Platform("Xero", retry=Retry(backoff=Backoff(first_s=0.01, max_s=60.0))),
                         transport=transport, sleep=waits.append, clock=lambda: clock[0])
    client.send("GET", "https://api.example/Invoices")
    assert waits == [60.0]
    assert client.pacer.reserve() == pytest.approx(60.0)       # another caller now waits out the same hold


@pytest.mark.parametrize("floor_share", [0.0, 0.5])
def test_jitter_stays_between_its_floor_and_the_doubling_ceiling(floor_share: float):
    backoff = Backoff(first_s=1.0, max_s=8.0, floor_share=floor_share)
    rng = random.Random(20261205)
    for retry, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)):
        pauses = [backoff.pause(retry, rng) for _ in range(2000)]
        assert all(floor_share * ceiling <= p <= ceiling for p in pauses)
        assert min(pauses) < floor_share * ceiling + 0.05 * ceiling     # spread over the whole range,
        assert max(pauses) > 0.95 * ceiling                            # not bunched at one value


def test_backoff_gives_up_after_its_tries_naming_the_platform_the_call_and_what_to_do():
    transport, seen = scripted(503)
    client = PacedClient(Platform("Xero", retry=Retry(tries=3, backoff=FAST)), transport=transport,
                         sleep=lambda s: None)
    with pytest.raises(PlatformUnavailable) as gave_up:
        client.send("GET", "https://api.example/Invoices?page=2")
    message = str(gave_up.value)
    assert len(seen) == 3
    assert "Xero" in message and "GET https://api.example/Invoices" in message and "after 3 tries" in message
    assert "503" in message and "run again" in message and "page=2" not in message


def test_dropped_connections_are_retried_and_the_give_up_says_so():
    transport, seen = scripted(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), 200)
    client = PacedClient(Platform("Wave", retry=Retry(tries=3, backoff=FAST)), transport=transport,
                         sleep=lambda s: None)
    assert client.send("GET", "https://api.example/x").status_code == 200
    transport, _ = scripted(httpx.ConnectError("refused"))
    client = PacedClient(Platform("Wave", retry=Retry(tries=2, backoff=FAST)), transport=transport,
                         sleep=lambda s: None)
    dropped = r"Wave did not answer .*\(connection dropped \(ConnectError\)\) after 2 tries"
    with pytest.raises(PlatformUnavailable, match=dropped):
        client.send("GET", "https://api.example/x")


def test_the_platform_decides_what_is_worth_another_try():
    # Xero: a 429 for the daily limit (X-Rate-Limit-Problem: day) will not pass in seconds; the minute one will.
    def retryable(response: httpx.Response) -> bool:
        return response.status_code in (429, 503) and response.headers.get("X-Rate-Limit-Problem") != "day"

    transport, seen = scripted(429, headers={"X-Rate-Limit-Problem": "day"})
    client = PacedClient(Platform("Xero", retryable=retryable, retry=Retry(backoff=FAST)), transport=transport,
                         sleep=lambda s: None)
    assert client.send("GET", "https://api.example/Invoices").status_code == 429
    assert len(seen) == 1


# --- auth and secrets ----------------------------------------------------------------------------------


class CountingAuth:
    def __init__(self) -> None:
        self.token = "secret-access-token-1"
        self.renewals = 0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def renew(self, rejected) -> bool:
        self.renewals += 1
        self.token = f"secret-access-token-{self.renewals + 1}"
        return True


def test_a_401_renews_the_credentials_once_and_a_second_401_goes_back_to_the_caller():
    transport, seen = scripted(401, 200)
    auth = CountingAuth()
    client = PacedClient(Platform("Xero"), transport=transport)
    assert client.send("GET", "https://api.example/Invoices", auth=auth).status_code == 200
    assert auth.renewals == 1 and seen[1].headers["Authorization"] == "Bearer secret-access-token-2"

    transport, seen = scripted(401)
    client = PacedClient(Platform("Xero"), transport=transport)
    assert client.send("GET", "https://api.example/Invoices", auth=CountingAuth()).status_code == 401
    assert len(seen) == 2


def test_tokens_and_authorization_headers_never_reach_the_log(caplog):
    caplog.set_level(logging.DEBUG)
    transport, _ = scripted(401, 503, httpx.ConnectError("refused"), 200)
    client = PacedClient(Platform("Xero", retry=Retry(backoff=FAST)), transport=transport, sleep=lambda s: None)
    client.send("GET", "https://api.example/Invoices", auth=CountingAuth())
    assert "retry" in caplog.text and "Xero" in caplog.text
    assert "secret-access-token" not in caplog.text and "Bearer" not in caplog.text


def test_every_client_has_explicit_timeouts():
    client = PacedClient(Platform("Xero"))
    timeout = client.http.timeout
    assert None not in (timeout.connect, timeout.read, timeout.write, timeout.pool)
