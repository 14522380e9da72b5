"""Taking a file out of the inbox without losing a line.

A writer may still hold a file open (SedonaOffice pausing mid-export, a slow copy). So a file is never
moved while it may be open: its bytes are COPIED into the archive (hashed on the way, named by their
sha256), read from that copy, and only once the run has received them is the inbox file removed, and
only if it still holds exactly those bytes (same size, time and sha256). A file that grew or changed
stays in the inbox and is taken later as a new version of itself.

A file another program still has open is neither taken nor removed nor moved: on Linux the kernel
says so (a file lease can be taken only on a file nobody else has open); elsewhere the quiet period
alone decides. Unlinking a file a paused writer still holds would lose whatever it writes next.
The removal itself cannot lose a late write either: the file is first renamed aside (a writer that
opens the name again starts a new file, taken later), checked through an open handle, unlinked, and
checked once more through that handle; bytes written in between are put back into the inbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import hashlib
import os
import shutil
import signal
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:          # not POSIX: the quiet period alone decides
    fcntl = None  # type: ignore[assignment]

_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class Taken:
    """The bytes of an inbox file as read: a copy in the archive, and what the file looked like then."""

    path: Path            # the file in the inbox (or the archived file itself, when re-reading one)
    copy: Path            # the bytes read, in the archive: `<sha256[:12]>_<name>`
    sha256: str
    size: int
    mtime_ns: int
    fresh: bool = False   # the copy was made now (False: the archive already held these bytes under this name)

    @property
    def name(self) -> str:
        return self.path.name


def archive_path(name: str, archive: Path, sha256: str) -> Path:
    return archive / f"{sha256[:12]}_{name}"


def is_quiet(path: Path, quiet_seconds: float, now: float | None = None) -> bool:
    """Not written to for `quiet_seconds` (BRIDGE_INBOX_QUIET_SECONDS)."""
    now = now if now is not None else dt.datetime.now().timestamp()
    return now - path.stat().st_mtime >= quiet_seconds


def open_elsewhere(path: Path) -> bool:
    """Another program has the file open (Linux: a write lease is refused on a file open anywhere else).
    False when the system cannot tell (no leases here): then the quiet period alone decides."""
    if fcntl is None or not hasattr(fcntl, "F_SETLEASE"):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        # Should an open() race the lease, the kernel signals its holder: SIGURG (ignored by default),
        # never the default SIGIO, which would end this process.
        fcntl.fcntl(fd, getattr(fcntl, "F_SETSIG", 10), signal.SIGURG)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EBUSY)
    else:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)


def digest(handle) -> str:
    handle.seek(0)
    hashed = hashlib.sha256()
    for chunk in iter(lambda: handle.read(_CHUNK), b""):
        hashed.update(chunk)
    return hashed.hexdigest()


def take(path: Path, archive: Path) -> Taken | None:
    """Copy `path` into the archive, hashing on the way. None when it changed while being copied
    (it is being written: left in the inbox for a later look)."""
    if archive in path.parents:                    # re-reading an archived file: it is its own copy
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            return Taken(path, path, digest(handle), stat.st_size, stat.st_mtime_ns)
    archive.mkdir(parents=True, exist_ok=True)
    # hidden: never taken for an archived file; the thread in the name: files are taken side by side (prefetch)
    temp = archive / f".taking-{os.getpid()}-{threading.get_ident()}-{path.name}"
    hashed = hashlib.sha256()
    copied = 0
    try:
        with open(path, "rb") as source, open(temp, "wb") as target:
            before = os.fstat(source.fileno())
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                hashed.update(chunk)
                target.write(chunk)
                copied += len(chunk)
            target.flush()
            os.fsync(target.fileno())
            after = os.fstat(source.fileno())
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or copied != after.st_size:
            temp.unlink(missing_ok=True)
            return None
        sha = hashed.hexdigest()
        copy = archive_path(path.name, archive, sha)
        if copy.exists():                          # the same name always holds the same bytes: keep the first
            return Taken(path, copy, sha, after.st_size, after.st_mtime_ns, fresh=False)
        os.replace(temp, copy)
        return Taken(path, copy, sha, after.st_size, after.st_mtime_ns, fresh=True)
    finally:
        temp.unlink(missing_ok=True)


def still_as_taken(taken: Taken) -> bool:
    """The inbox file holds exactly the bytes taken (same size, time and sha256)."""
    try:
        with open(taken.path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            return (stat.st_size, stat.st_mtime_ns) == (taken.size, taken.mtime_ns) and digest(handle) == taken.sha256
    except FileNotFoundError:
        return False


REMOVED, STILL_OPEN, CHANGED = "removed", "still open", "changed"


def remove_if_unchanged(taken: Taken) -> str:
    """Remove the inbox file if it still holds exactly the bytes taken and nobody has it open. Returns
    REMOVED (also when it is already gone), STILL_OPEN or CHANGED; a file not removed stays (under its
    name, or beside it if the name was taken again meanwhile)."""
    if taken.path == taken.copy:
        return REMOVED
    if open_elsewhere(taken.path):
        return STILL_OPEN                          # a paused writer may still add to it: looked at again later
    aside = taken.path.with_name(f".removing-{os.getpid()}-{taken.path.name}")
    try:
        os.rename(taken.path, aside)
    except FileNotFoundError:
        return REMOVED                             # already gone (the sensor removed a leftover copy)
    with open(aside, "rb") as handle:
        stat = os.fstat(handle.fileno())
        if (stat.st_size, stat.st_mtime_ns) != (taken.size, taken.mtime_ns) or digest(handle) != taken.sha256:
            put_back(aside, taken.path)
            return CHANGED
        os.unlink(aside)
        later = os.fstat(handle.fileno())
        if (later.st_size, later.st_mtime_ns) != (stat.st_size, stat.st_mtime_ns):
            # written to in the instant between the check and the unlink: the whole file goes back
            handle.seek(0)
            restored = free_name(taken.path)
            with open(restored, "xb") as out:
                shutil.copyfileobj(handle, out)
            return CHANGED
    return REMOVED


def free_name(path: Path) -> Path:
    """`path`, or `name (2).csv`, `name (3).csv`, ... the first that does not exist."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
    return candidate


def put_back(aside: Path, path: Path) -> Path:
    """Return a file renamed aside to its name, never replacing a file that took the name meanwhile."""
    while True:
        target = free_name(path)
        try:
            os.link(aside, target)                 # fails if the name exists: never overwrites
        except FileExistsError:
            continue
        os.unlink(aside)
        return target


def move_aside(path: Path, folder: Path, note_suffix: str, note: str, *, name: str | None = None) -> Path:
    """Move a file out of the inbox into `folder`, stamped, with a note beside it. Never deletes it."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    target = free_name(folder / f"{stamp}_{name or path.name}")
    target.with_name(target.name + note_suffix).write_text(note, encoding="utf-8")
    if path.exists():
        shutil.move(str(path), str(target))
    return target
