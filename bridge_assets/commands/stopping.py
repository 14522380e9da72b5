"""How `bridge ui` and `bridge demo` stop: SIGTERM and SIGINT alike unwind the command, so everything it started
stops on the way out (the emulators as their `with` blocks end; `dagster dev`'s whole process group, which is
its own session, by `stop_group`), and the command says so."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


class Stopped(KeyboardInterrupt):
    """SIGTERM, raised where the command is, like Ctrl-C: every `with` block unwinds, so what the command started
    (emulators, the Dagster webserver and daemon) is stopped on the way out."""


def stop_on_signals() -> None:
    """SIGTERM and SIGINT both stop the command cleanly. SIGINT is set back to Python's default too: a command
    started in the background by a non-interactive shell inherits it ignored (DAGSTER_NOTES)."""
    def stop(signum, frame):
        # Once: a second signal must not cut the stopping short (and leave a child behind).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise Stopped(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)



# How long the webserver and daemon get to stop after SIGTERM before their process group is killed.
STOP_GRACE_S = 20.0


def stop_group(process: subprocess.Popen) -> None:
    """Stop `dagster dev` and everything in its process group (webserver, daemon, code server): SIGTERM, and
    SIGKILL for whatever is left after STOP_GRACE_S. Its own session, so nothing else is touched."""
    def signal_group(signum: int) -> bool:
        try:
            os.killpg(process.pid, signum)
            return True
        except ProcessLookupError:
            return False

    if not signal_group(signal.SIGTERM):
        process.wait()
        return
    print("stopping the Dagster webserver and daemon...", flush=True)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline and _group_alive(process.pid):
        time.sleep(0.2)
    if signal_group(signal.SIGKILL):
        print("  (killed what had not stopped in time)", flush=True)
    process.wait()


def _group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (a zombie waiting to be reaped does not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False
