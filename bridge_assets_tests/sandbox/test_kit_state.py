"""The kit's serving and state: an emulator started as its own process, killed -9 and started again on
the same file and port, has lost nothing committed: its data, its tokens, its journal."""

from __future__ import annotations

import httpx

from bridge_assets_tests.sandbox import kit_toy
from bridge_assets_tests.sandbox.kit_toy import CLIENT_ID, CLIENT_SECRET, TOKEN_PATH


def test_a_killed_emulator_comes_back_with_its_notes_tokens_and_journal(tmp_path):
    state = tmp_path / "notebook.sqlite3"
    with kit_toy.KIND.spawn(state) as first:
        pair = httpx.post(first.base_url + TOKEN_PATH, data={"grant_type": "client_credentials"},
                          auth=(CLIENT_ID, CLIENT_SECRET)).json()
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        assert httpx.post(first.base_url + "/api/notes", json={"text": "before the crash"},
                          headers=headers).status_code == 200
        port = int(first.base_url.rsplit(":", 1)[1])
        first.kill()
        assert not first.alive
    with kit_toy.KIND.spawn(state, port=port) as second:
        assert second.base_url == first.base_url
        after = httpx.get(second.base_url + "/api/notes", headers=headers)
        assert after.json() == {"notes": [{"id": 1, "text": "before the crash"}]}
        refreshed = httpx.post(second.base_url + TOKEN_PATH, auth=(CLIENT_ID, CLIENT_SECRET),
                               data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
        assert refreshed.status_code == 200
        assert [e["method"] for e in second.admin.journal()] == ["POST", "GET"]
    assert not second.alive


def test_a_spawned_emulator_takes_its_settings_from_the_parent(tmp_path):
    settings = kit_toy.Settings(per_minute=7, time_scale=30)
    with kit_toy.KIND.spawn(tmp_path / "notebook.sqlite3", settings) as child:
        shown = httpx.get(child.base_url + "/_emulator/settings").json()
        assert (shown["per_minute"], shown["time_scale"]) == (7, 30)
        assert httpx.get(child.base_url + "/_emulator/health").json() == {"status": "ok"}
