"""The README's first command: a sample book through every asset, then again with nothing new posted."""

from __future__ import annotations

from bridge_assets import cli


def test_demo_posts_the_sample_book_then_posts_nothing_on_a_second_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    for name in ("BRIDGE_DESTINATIONS", "BRIDGE_DATABASE", "BRIDGE_INBOX", "BRIDGE_OUTPUT"):
        monkeypatch.delenv(name, raising=False)

    assert cli.main(["demo", "--lines", "400", "--months", "2"]) == 0
    first = capsys.readouterr().out
    assert "This run:" in first and "created" in first
    assert "staging_csv  posted" in first and "qbd_iif      posted" in first
    assert "database" in first and "bridge.duckdb" in first

    assert cli.main(["demo", "--lines", "400", "--months", "2"]) == 0
    second = capsys.readouterr().out
    assert "This run posted nothing new" in second
    assert list((tmp_path / "home" / "inbox").iterdir()) == []


def _sandbox_section() -> str:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    return readme[readme.index("## The sandbox"):readme.index("## Layout")]


def test_the_readme_names_the_state_files_the_sandbox_really_writes(tmp_path, monkeypatch):
    import re

    from bridge_assets.runtime.settings import BridgeSettings

    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "home"))
    for name in ("QBO_CLIENT_ID", "SEDONA_API_BASE_URL", "SERVICETRADE_BASE_URL", "BRIDGE_DESTINATIONS"):
        monkeypatch.delenv(name, raising=False)
    settings = BridgeSettings.from_env()
    with cli.quickbooks_sandbox(settings), cli.source_sandboxes(settings, seed=7, lines=60, first_period="2026-08",
                                                                 months=1):
        written = {p.name for p in (settings.home / "sandbox").iterdir()}
    section = _sandbox_section()
    # the table's rows (the command lines below it start emulators of any platform, with any state file)
    named = set(re.findall(r"^\| `var/sandbox/([\w.]+\.(?:sqlite3|txt))`", section, flags=re.M))
    assert named and named <= written, f"README names {sorted(named - written)}; the sandbox writes {sorted(written)}"
    assert {n for n in written if n.endswith(".sqlite3")} <= named
    assert "next step" not in section and "only while the emulator runs" in section


def test_a_third_party_app_connects_to_the_sandbox_company_as_the_readme_says(tmp_path, monkeypatch):
    """The README's three steps, done with a plain HTTP client as someone else's tool would."""
    import os
    from urllib.parse import parse_qs, urlencode, urlsplit

    import httpx

    from bridge_assets.runtime.settings import BridgeSettings

    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "home"))
    for name in ("QBO_CLIENT_ID", "BRIDGE_DESTINATIONS"):
        monkeypatch.delenv(name, raising=False)
    settings = BridgeSettings.from_env()
    with cli.quickbooks_sandbox(settings) as url:
        assert os.environ["QBO_BASE_URL"] == url
        realm = (settings.home / "sandbox" / "qbo_realm_id.txt").read_text().strip()
        app, secret, callback = "my-app", "my-secret", "http://localhost:8080/callback"
        assert httpx.post(f"{url}/_emulator/clients", json={"client_id": app, "client_secret": secret}).status_code == 200
        consent = httpx.get(f"{url}/connect/oauth2?" + urlencode({
            "client_id": app, "redirect_uri": callback, "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting", "state": "xyz", "realmId": realm}))
        assert consent.status_code == 302 and consent.headers["location"].startswith(callback)
        back = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["location"]).query).items()}
        assert back["state"] == "xyz" and back["realmId"] == realm
        exchange = {"grant_type": "authorization_code", "code": back["code"], "redirect_uri": callback}
        tokens = httpx.post(f"{url}/oauth2/v1/tokens/bearer", data=exchange, auth=(app, secret))
        assert tokens.status_code == 200, tokens.text
        info = httpx.get(f"{url}/v3/company/{realm}/companyinfo/{realm}",
                         headers={"Authorization": f"Bearer {tokens.json()['access_token']}", "Accept": "application/json"})
        assert info.status_code == 200 and info.json()["CompanyInfo"]["CompanyName"] == "Sample Alarm Co (sandbox)"
        again = httpx.post(f"{url}/oauth2/v1/tokens/bearer", data=exchange, auth=(app, secret))
        assert again.json()["error"] == "invalid_grant"                       # a code is used once
