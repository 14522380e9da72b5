"""Deciding when a file in the watched folder is ready: seen twice with the same size and mtime.

A file still being copied grows or is touched between two looks; a file renamed into place is
complete the moment it appears but is still confirmed on the next look. Hidden and temporary names
(`.part`, `.tmp`, `~$...`) are never taken.
"""

from __future__ import annotations

from pathlib import Path

from bridge_assets.sources.sedona_export import is_candidate

Snapshot = dict[str, list[int]]   # path -> [size, mtime_ns]


def scan(folder: Path) -> Snapshot:
    if not folder.exists():
        return {}
    snapshot: Snapshot = {}
    for path in sorted(folder.iterdir()):
        if is_candidate(path):
            stat = path.stat()
            snapshot[str(path)] = [stat.st_size, stat.st_mtime_ns]
    return snapshot


def stable(previous: Snapshot, current: Snapshot) -> list[Path]:
    """Files present in both looks, unchanged and not empty."""
    return [Path(p) for p, seen in current.items() if previous.get(p) == seen and seen[0] > 0]


def still_waiting(current: Snapshot, taken: list[Path]) -> Snapshot:
    """What to remember for the next look: everything not taken this time."""
    done = {str(p) for p in taken}
    return {p: v for p, v in current.items() if p not in done}
