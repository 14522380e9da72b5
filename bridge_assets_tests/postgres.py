"""A PostgreSQL server of the test's own, on loopback: the binaries the `pgserver` wheel ships (PostgreSQL 16, a
test extra), a data folder in tmp, a free port, password authentication, stopped at the end.

PostgreSQL refuses to run as root; under root (CI's machine) the server runs as the unprivileged `nobody`, which
owns only the server's own folder (and a copy of the binaries there when the checkout is where `nobody` cannot
enter). Nothing is skipped: a server that cannot start fails the test that needs it,
with the server's log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

UNPRIVILEGED = "nobody"


@dataclasses.dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    db_name: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.db_name}"

    def environment(self) -> dict[str, str]:
        """The variables deploy/dagster.postgres.yaml reads the server from."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": self.password, "DAGSTER_PG_DB": self.db_name}


def _binaries() -> Path:
    spec = importlib.util.find_spec("pgserver")      # found, not imported: only its binaries are used
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the PostgreSQL tests need the `pgserver` wheel (PostgreSQL binaries); it is in the test "
                           "extras: pip install -e '.[test]'")
    folder = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
    if not (folder / "postgres").exists():
        raise RuntimeError(f"{folder} holds no `postgres` binary: the pgserver wheel is incomplete; reinstall it")
    return folder


def _runnable_by(bin_dir: Path, user: str | None, folder: Path) -> Path:
    """`bin_dir`, or a copy of the wheel's binaries (and the libraries they load, beside them as in the wheel)
    inside `folder` when `user` cannot reach them (a checkout under /root, whose folder others cannot enter)."""
    if user is None:
        return bin_dir
    try:
        if subprocess.run([str(bin_dir / "postgres"), "-V"], user=user, capture_output=True, timeout=30).returncode == 0:
            return bin_dir
    except PermissionError:
        pass
    package = bin_dir.parent.parent                   # site-packages/pgserver
    shutil.copytree(package / "pginstall", folder / "pgserver" / "pginstall", ignore=shutil.ignore_patterns("include"))
    libraries = package.parent / "pgserver.libs"
    if libraries.exists():
        shutil.copytree(libraries, folder / "pgserver.libs")
    return folder / "pgserver" / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(command: list[str], user: str | None, log: Path | None = None, password: str | None = None) -> None:
    """Run a server command (as `user` when given), failing with its output and the server's log."""
    env = {**os.environ, "PGPASSWORD": password} if password else None
    done = subprocess.run(command, user=user, env=env, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode:
        server_log = log.read_text(errors="replace")[-4000:] if log and log.exists() else "(no server log)"
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                           f"server log:\n{server_log}")


@contextlib.contextmanager
def running_postgres() -> Iterator[Postgres]:
    """Start a PostgreSQL server on 127.0.0.1 in a folder of its own and stop it (and remove the folder) after."""
    bin_dir = _binaries()
    user = UNPRIVILEGED if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="bridge-pg-"))     # under /tmp, which `nobody` can traverse
    data, log, password_file = folder / "data", folder / "server.log", folder / "password"
    password = secrets.token_hex(16)
    password_file.write_text(password + "\n")
    if user:
        entry = pwd.getpwnam(user)
        for path in (folder, password_file):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    try:
        bin_dir = _runnable_by(bin_dir, user, folder)
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "bridge", f"--pwfile={password_file}",
              "--auth=scram-sha-256", "--encoding=UTF8", "--no-sync"], user)
        for attempt in range(3):
            port = _free_port()
            options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=200"
            try:
                _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "30",
                      "start"], user, log)
                break
            except RuntimeError:
                if attempt == 2:                     # a port taken between the probe and the start: try another
                    raise
        _run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "bridge", "dagster"], user, log, password)
        yield Postgres("127.0.0.1", port, "bridge", password, "dagster")
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], user=user,
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server for the session (per xdist worker), its URL and connection settings."""
    try:
        context = running_postgres()
        server = context.__enter__()
    except RuntimeError as problem:
        pytest.fail(f"the test PostgreSQL server did not start: {problem}", pytrace=False)
    try:
        yield server
    finally:
        context.__exit__(None, None, None)
