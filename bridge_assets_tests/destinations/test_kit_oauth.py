"""The kit's OAuth2 token store against a real token endpoint on loopback: rotation, locking, single use.

The same store serves QuickBooks Online (form grant, HTTP Basic, rotating refresh tokens), Xero
(30-minute access tokens, a refresh token that rotates every time) and FreshBooks (JSON grant with
the client's keys in the body, single-use refresh tokens); only the provider data differs.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from bridge_assets.destinations.kit.oauth import (
    OAuthProvider,
    OAuthSession,
    ReconnectRequired,
    Tokens,
    TokenStore,
)

from .loopback import TokenEndpoint, serving

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def xero() -> Iterator[tuple[TokenEndpoint, str]]:
    endpoint = TokenEndpoint(expires_in=1800, grace_s=1800)
    with serving(endpoint.app) as url:
        yield endpoint, url


@pytest.fixture
def freshbooks() -> Iterator[tuple[TokenEndpoint, str]]:
    endpoint = TokenEndpoint(single_use=True, json_body=True, expires_in=43200)
    with serving(endpoint.app) as url:
        yield endpoint, url


def xero_provider(url: str) -> OAuthProvider:
    return OAuthProvider(platform="Xero", token_url=f"{url}/token", refresh_token_setting="XERO_REFRESH_TOKEN",
                         client_settings="XERO_CLIENT_ID and XERO_CLIENT_SECRET")


def freshbooks_provider(url: str) -> OAuthProvider:
    return OAuthProvider(platform="FreshBooks", token_url=f"{url}/token", client_auth="body", body_format="json",
                         single_use_refresh=True, extra_fields={"redirect_uri": "https://bridge.example/callback"},
                         refresh_token_setting="FRESHBOOKS_REFRESH_TOKEN")


def session(endpoint: TokenEndpoint, provider: OAuthProvider, store_path: Path, **options) -> OAuthSession:
    return OAuthSession(TokenStore(store_path), provider, endpoint.client_id, endpoint.client_secret,
                        timeout=10.0, sleep=lambda s: None, **options)


def seeded(endpoint: TokenEndpoint, store_path: Path) -> Path:
    TokenStore(store_path).seed(endpoint.mint())
    return store_path


def test_a_rotated_refresh_token_is_in_the_file_before_the_access_token_reaches_the_api(xero, tmp_path: Path):
    endpoint, url = xero
    store_path = seeded(endpoint, tmp_path / "tokens.json")
    seed = TokenStore(store_path).load().refresh_token
    on_disk_when_used: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        on_disk_when_used.append(TokenStore(store_path).load().refresh_token)
        return httpx.Response(200)

    oauth = session(endpoint, xero_provider(url), store_path)
    token = oauth.access_token()
    httpx.Client(transport=httpx.MockTransport(api)).get(f"{url}/me", headers={"Authorization": f"Bearer {token}"})
    assert endpoint.grants == 1
    assert on_disk_when_used == [TokenStore(store_path).load().refresh_token]
    assert on_disk_when_used[0] != seed and on_disk_when_used[0] in endpoint.live
    assert stat.S_IMODE(os.stat(store_path).st_mode) == 0o600


def test_a_rotated_token_that_cannot_be_saved_is_never_used(xero, tmp_path: Path):
    endpoint, url = xero
    store_path = seeded(endpoint, tmp_path / "tokens.json")
    (tmp_path / "tokens.json.tmp").mkdir()          # the atomic write's temp file cannot be created
    oauth = session(endpoint, xero_provider(url), store_path)
    with pytest.raises(OSError):
        oauth.access_token()
    assert endpoint.grants == 1 and oauth.refreshes == 0     # issued, not saved, so not handed to anyone


def test_thirty_minute_access_tokens_are_reused_until_just_before_they_expire(xero, tmp_path: Path):
    endpoint, url = xero
    store_path = seeded(endpoint, tmp_path / "tokens.json")
    now = [1_800_000_000.0]
    oauth = session(endpoint, xero_provider(url), store_path, clock=lambda: now[0])
    first = oauth.access_token()
    now[0] += 27 * 60
    assert oauth.access_token() == first and endpoint.grants == 1
    now[0] += 2 * 60                                  # 29 minutes: inside the two-minute leeway
    second = oauth.access_token()
    assert second != first and endpoint.grants == 2
    assert httpx.get(f"{url}/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_single_use_refresh_tokens_are_spent_once_and_each_new_one_is_kept(freshbooks, tmp_path: Path):
    endpoint, url = freshbooks
    store_path = seeded(endpoint, tmp_path / "tokens.json")
    spent: list[str] = []
    for _ in range(3):       # three runs, each with a fresh session on the same store, each after a 401
        stored = TokenStore(store_path).load()
        spent.append(stored.refresh_token)
        assert session(endpoint, freshbooks_provider(url), store_path).refresh(stored.access_token)
    assert endpoint.grants == 3 and len(set(spent)) == 3
    assert not any(token in endpoint.live for token in spent)              # every one was single-use
    assert TokenStore(store_path).load().refresh_token in endpoint.live     # the stored one is the live one


class LoseFirstAnswer(httpx.BaseTransport):
    """The token endpoint does its work, but its first answer never arrives (a timeout on the way back)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lost = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if not self.lost:
            self.lost = True
            response.read()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response


def test_a_single_use_token_spent_by_a_lost_answer_asks_for_a_reconnect_and_says_why(freshbooks, tmp_path: Path):
    endpoint, url = freshbooks
    store_path = seeded(endpoint, tmp_path / "tokens.json")
    oauth = session(endpoint, freshbooks_provider(url), store_path, transport=LoseFirstAnswer())
    with pytest.raises(ReconnectRequired) as refused:
        oauth.access_token()
    message = str(refused.value)
    assert "FreshBooks" in message and "FRESHBOOKS_REFRESH_TOKEN" in message and "lost on the way" in message
    assert endpoint.client_secret not in message and TokenStore(store_path).load().refresh_token not in message


# A bridge process of its own: a session on the shared store that waits for "go", then asks for a token.
CHILD = """
import json, sys, time
from pathlib import Path
from bridge_assets.destinations.kit.oauth import OAuthProvider, OAuthSession, TokenStore

url, store, folder, name = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
provider = OAuthProvider(platform="Xero", token_url=url + "/token")
oauth = OAuthSession(TokenStore(store), provider, "kit-client", "kit-secret-never-logged-5Zq", timeout=10.0)
(folder / ("ready-" + name)).touch()
deadline = time.monotonic() + 60
while not (folder / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.001)
print(json.dumps({"token": oauth.access_token(), "refreshes": oauth.refreshes}))
"""


def test_two_processes_refreshing_at_once_make_one_token_call(tmp_path: Path):
    endpoint = TokenEndpoint(delay_s=0.5)     # the grant stays open long enough for the second process to queue
    with serving(endpoint.app) as url:
        store_path = seeded(endpoint, tmp_path / "tokens.json")
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        children = [subprocess.Popen([sys.executable, "-c", CHILD, url, str(store_path), str(tmp_path), name],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
                    for name in ("first", "second")]
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready-{n}").exists() for n in ("first", "second")):
            assert time.monotonic() < deadline and all(c.poll() is None for c in children), \
                [c.communicate() for c in children if c.poll() is not None]
            time.sleep(0.01)
        (tmp_path / "go").touch()
        answers = []
        for child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
            answers.append(json.loads(out.strip().splitlines()[-1]))
    assert endpoint.calls == 1 and endpoint.grants == 1
    assert answers[0]["token"] == answers[1]["token"]                   # the second used the token the first saved
    assert sorted(a["refreshes"] for a in answers) == [0, 1]
    assert TokenStore(store_path).load().refresh_token in endpoint.live


def test_the_store_never_shows_a_token_and_refuses_a_damaged_file_with_what_to_do(tmp_path: Path):
    tokens = Tokens("rt-very-secret", "at-very-secret", 1.0)
    assert "secret" not in repr(tokens)
    store_path = tmp_path / "tokens.json"
    store_path.write_text("{not json")
    provider = xero_provider("https://identity.xero.com/connect")
    with pytest.raises(Exception, match="tokens.json is not readable JSON.*XERO_REFRESH_TOKEN"):
        TokenStore(store_path, provider).load()
