"""`bridge ui` stops everything it started on SIGTERM: the Dagster webserver, daemon and code server (their
own session and process group), and the emulators. Started as a background shell starts it, with SIGINT
ignored (DAGSTER_NOTES: that used to leave the webserver and daemon running)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
STARTUP_S = 180.0
STOP_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) of every process on the machine."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        out[int(stat.parent.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return out


def _descendants(root: int) -> dict[int, int]:
    """pid -> process group of every living descendant of `root` (and `root`)."""
    table = _processes()
    found, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        if pid in table and table[pid][2] != "Z":
            found[pid] = table[pid][1]
        frontier += [child for child, (parent, _, _) in table.items() if parent == pid and child not in found]
    return found


def _environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QBO_", "SEDONA_API_", "SERVICETRADE_", "BRIDGE_", "DAGSTER_"))}
    env.update(PYTHONPATH=str(ROOT), BRIDGE_HOME=str(tmp_path / "home"), DAGSTER_HOME=str(tmp_path / "dagster_home"),
               BRIDGE_FIRST_PERIOD="2026-08")
    return env


def test_sigterm_to_bridge_ui_leaves_no_process_of_its_groups_running(tmp_path):
    port = _free_port()
    log = open(tmp_path / "ui.log", "w+")
    ui = subprocess.Popen(
        [sys.executable, "-m", "bridge_assets.cli", "ui", "--port", str(port)], cwd=ROOT, env=_environment(tmp_path),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))        # as a background shell starts it
    seen: dict[int, int] = {}
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            seen.update(_descendants(ui.pid))
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert ui.poll() is None, (tmp_path / "ui.log").read_text()
            assert time.monotonic() < deadline, "the UI did not answer in time:\n" + (tmp_path / "ui.log").read_text()
            time.sleep(1)
        time.sleep(2)
        seen.update(_descendants(ui.pid))
        groups = set(seen.values())
        # The UI's own group and dagster dev's (its own session): the webserver, daemon and emulators are in them.
        assert len(seen) >= 6 and len(groups) >= 2, seen

        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=STOP_S) == 130
    finally:
        if ui.poll() is None:
            ui.kill()
            ui.wait()
    deadline = time.monotonic() + 10
    while True:
        left = {pid: (pgid, state) for pid, (_, pgid, state) in _processes().items()
                if state != "Z" and (pid in seen or pgid in groups)}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert left == {}, f"still running after SIGTERM: {left}"
    said = (tmp_path / "ui.log").read_text()
    assert "bridge ui stopped (SIGTERM): webserver, daemon and emulators are stopped." in said
