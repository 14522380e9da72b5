"""How every local emulator (`qbo`, `sedona_api`, `servicetrade`) is put on a loopback port.

`emulator.EmulatorKind` builds each emulator's `run_emulator` / `spawn_emulator` / `python -m` from
these pieces:

- `bind_loopback` and `uvicorn_config`: the socket and the uvicorn settings every emulator runs with;
- `serve_in_thread`: uvicorn in a background thread of the calling process (`run_emulator`);
- `spawn_module`: `python -m <emulator>` as a child process that a test can kill -9 and start again
  on the same state file (`spawn_emulator`), with `ChildProcessControl` for the handle's
  `alive` / `kill` / `stop`;
- `AdminHttpClient`: the client side of the `/_emulator/...` control panel (admin.py is the server side).

The line a child prints first, `<Name> emulator listening on http://HOST:PORT`, is written by
`cli.announce_and_serve` and read back here with `LISTENING`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import uvicorn

LISTENING = re.compile(r"listening on (http://\S+)")
# The directory holding the `bridge_assets` package: put on the child's PYTHONPATH so that
# `python -m bridge_assets.sandbox.<name>` imports this checkout even when it is not installed.
PROJECT_ROOT = Path(__file__).resolve().parents[3]

ADMIN_PREFIX = "/_emulator"


# --- the listening socket and uvicorn ----------------------------------------------------------------

def bind_loopback(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket, so the URL is known (and connectable) before the server starts.

    Binding here rather than letting uvicorn bind means port 0 can be used (the kernel picks a free
    port and `getsockname` tells which) and the URL can be printed or handed out before uvicorn has
    finished starting: a client that connects early waits in the listen backlog instead of being
    refused. SO_REUSEADDR lets a restarted emulator take back the port of one that was just killed
    (its old connections still in TIME_WAIT), so it comes back at the same URL.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def base_url_of(sock: socket.socket) -> str:
    """`http://HOST:PORT` of a socket from `bind_loopback` (the port the kernel chose for port 0)."""
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def uvicorn_config(app: Any, log_level: str = "warning", **options: Any) -> uvicorn.Config:
    """The uvicorn settings every emulator runs with; `options` adds or overrides (qbo pins http="h11").

    No access log (the emulators keep their own journal), no websockets and no lifespan events (none
    of them uses either), and at most two seconds of graceful shutdown, so stopping an emulator that
    a client still holds a connection to does not hang a test.
    """
    return uvicorn.Config(app, log_level=log_level, access_log=False, ws="none", lifespan="off",
                          timeout_graceful_shutdown=2, **options)


# --- in a thread of this process ---------------------------------------------------------------------

@contextlib.contextmanager
def serve_in_thread(config: uvicorn.Config, *, name: str, thread_name: str, host: str = "127.0.0.1",
                    port: int = 0, after_stop: Callable[[], None] | None = None,
                    startup_timeout: float = 15.0) -> Iterator[str]:
    """Serve `config.app` from a daemon thread on a fresh loopback socket; yields the base URL.

    Returns only once uvicorn reports `started`, so the first request of a test cannot race the
    server's start; raises `RuntimeError("the <name> emulator did not start")` if the thread dies or
    `startup_timeout` passes first. On exit the server is asked to stop (`should_exit`, the same flag
    its own signal handler sets), the thread is joined, `after_stop` runs (the emulators close their
    SQLite store there, once no request can still be using it) and the socket is closed.

    Signals: uvicorn installs its SIGINT/SIGTERM handlers only when it runs in the main thread, so
    here it installs none and Ctrl-C keeps reaching the test runner as KeyboardInterrupt; the
    `finally` below then stops the server. The thread is a daemon so that, should the join time out,
    a stuck server can never keep the interpreter from exiting.
    """
    sock = bind_loopback(host, port)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=thread_name, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the {name} emulator did not start")
        time.sleep(0.01)
    try:
        yield base_url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if after_stop is not None:
            after_stop()
        sock.close()


# --- as a child process ------------------------------------------------------------------------------

class _SpawnedHandle(Protocol):
    admin: AdminHttpClient

    def stop(self) -> None: ...


H = TypeVar("H", bound=_SpawnedHandle)


def child_environment() -> dict[str, str]:
    """This process's environment, plus what the child needs to import this checkout and talk at once.

    PYTHONUNBUFFERED: the child's "listening on" line must reach the pipe when it is printed, not
    when a buffer fills (the emulator also flushes it; this covers anything printed before).
    """
    python_path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": python_path, "PYTHONUNBUFFERED": "1"}


def read_first_line(process: subprocess.Popen, timeout: float) -> str:
    """The child's first stdout line, or "" if none came within `timeout` (or stdout closed).

    Read in a helper thread because a pipe read cannot time out: a child that hangs before printing
    must not hang the caller.
    """
    first_line: list[str] = []
    reader = threading.Thread(target=lambda: first_line.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return first_line[0] if first_line else ""


def drain_stdout(process: subprocess.Popen) -> None:
    """Keep reading the child's stdout, in a daemon thread, for as long as the child lives.

    Only the first line is wanted, but the pipe stays open: if nobody read it, anything more the
    child (or a library inside it) prints would fill the pipe buffer, and the child would block on
    a write, which looks exactly like a hung server.
    """

    def drain() -> None:
        with process.stdout:          # closed at the child's end of file: no pipe left for the collector
            process.stdout.read()

    threading.Thread(target=drain, daemon=True).start()


def wait_healthy(probe: Callable[[], object], timeout: float,
                 retry_on: tuple[type[BaseException], ...]) -> None:
    """Call `probe` until it returns; retry on `retry_on` every 50 ms, re-raise once `timeout` is spent.

    The "listening" line is printed when the socket is bound, before uvicorn serves; this waits until
    the emulator actually answers.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except retry_on:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def spawn_module(module: str, *, name: str, state_path: Path, settings: Mapping[str, Any],
                 make_handle: Callable[[str, subprocess.Popen, Path], H], host: str = "127.0.0.1",
                 port: int = 0, startup_timeout: float = 30.0) -> Iterator[H]:
    """`python -m <module> --host --port --state --settings-json` as a child; yields its handle.

    The child's stderr (its log) is appended to `<state_path>.log`. Its first stdout line names the
    URL (`LISTENING`); `make_handle(base_url, process, log_path)` builds the emulator's handle, whose
    `admin.health()` is then polled until it answers. If any of that fails (no line within
    `startup_timeout`: `RuntimeError("the <name> emulator did not start; see <log>")`) the child is
    killed and reaped before the error propagates, so a failed start leaves no stray process holding
    the port or the state file. On exit the handle's admin client is closed and the child stopped.
    """
    log_path = state_path.with_name(state_path.name + ".log")
    command = [sys.executable, "-m", module, "--host", host, "--port", str(port),
               "--state", str(state_path), "--settings-json", json.dumps(settings)]
    env = child_environment()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    try:
        match = LISTENING.search(read_first_line(process, startup_timeout))
        if match is None:
            raise RuntimeError(f"the {name} emulator did not start; see {log_path}")
        drain_stdout(process)
        handle = make_handle(match.group(1), process, log_path)
        wait_healthy(handle.admin.health, startup_timeout, (httpx.HTTPError, AdminCallFailed))
    except BaseException:
        process.kill()
        process.wait()
        raise
    try:
        yield handle
    finally:
        handle.admin.close()
        handle.stop()


class ChildProcessControl:
    """`alive`, `kill` and `stop` for a handle (a dataclass) whose `process` field is the child.

    `kill` is the crash a restart test plays; `stop` is the polite way out. In the child uvicorn runs
    in the main thread and so owns SIGINT and SIGTERM: SIGTERM makes it finish the requests in hand
    (for at most `timeout_graceful_shutdown`) and exit; if it has not gone within 5 s it is killed.
    """

    process: subprocess.Popen | None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush beyond what SQLite already committed."""
        if self.alive:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()


# --- the /_emulator control panel: client side -------------------------------------------------------

class AdminCallFailed(RuntimeError):
    """An admin call answered anything but 200; the message has the method, path, status and answer."""


class AdminHttpClient:
    """What every emulator's `AdminClient` shares: one HTTP client on `<base_url>/_emulator`.

    `_call(method, path, payload, params)` sends one request and returns the decoded answer; any
    status but 200 raises `AdminCallFailed` with the answer's text. How the payload goes out
    (`_request_body`) and how the answer is read (`_decode`) are the emulators' own business and may
    be overridden.
    """

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=f"{base_url}{ADMIN_PREFIX}", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _request_body(self, payload: Any) -> dict[str, Any]:
        """The httpx keyword arguments that carry `payload` (None: no body)."""
        return {"json": payload}

    def _decode(self, response: httpx.Response) -> Any:
        return response.json()

    def _call(self, method: str, path: str, payload: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, params=params, **self._request_body(payload))
        if response.status_code != 200:
            raise AdminCallFailed(
                f"{method} {ADMIN_PREFIX}{path} answered {response.status_code}: {response.text}")
        return self._decode(response)

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")
