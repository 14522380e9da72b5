"""Is the process that ran something still there? For finding runs that died without a word (SIGKILL,
power cut, out-of-memory killer), which leave their run marked started and their pool slot taken.

A pid alone is not proof: after a crash the number may be given to another process. On Linux the
process's start time (from /proc) is compared with the moment the pid was recorded; a process that
started later is someone else. A zombie (killed, not yet reaped by its parent) is gone too.
Elsewhere only "is there a process with this pid" can be asked.
"""

from __future__ import annotations

import os
from pathlib import Path

# The start time in /proc has clock-tick resolution and boot time whole seconds: allow for both.
START_TIME_SLACK_S = 2.0


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _linux_status(pid: int) -> tuple[str, float] | None:
    """(state letter, start time as a Unix timestamp) of `pid`, or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()        # after "pid (command) "; the command may hold spaces
    state, start_ticks = fields[0], int(fields[19])
    boot = _boot_time() or 0.0
    return state, boot + start_ticks / os.sysconf("SC_CLK_TCK")


def process_gone(pid: int, recorded_at: float) -> bool:
    """True when the process `pid`, recorded as running at `recorded_at` (Unix time), is no longer running."""
    if pid <= 0:
        return False
    if Path("/proc/self/stat").exists():
        status = _linux_status(pid)
        if status is None:
            return True
        state, started = status
        return state in ("Z", "X") or started > recorded_at + START_TIME_SLACK_S
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
