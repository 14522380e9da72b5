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
