"""Start the emulator on a free loopback port: in a thread (`run_emulator`) or as its own process
(`spawn_emulator`, which a test can kill -9 and start again on the same state file).

    with run_emulator(tmp_path / "sedona.sqlite3") as sedona:
        sedona.admin.seed_book(generate_book(7, 2000))
        client = SedonaApiClient(sedona.client_config())
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import uvicorn

from bridge_assets.sandbox.sedona_api.app import create_app
from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings

LISTENING = re.compile(r"listening on (http://\S+)")
PROJECT_ROOT = Path(__file__).resolve().parents[3]


class AdminCallFailed(RuntimeError):
    pass


class AdminClient:
    """The `/_emulator/...` endpoints as methods, for tests and for the bridge's sandbox set-up."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=f"{base_url}/_emulator", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, payload: Any = None, params: dict[str, Any] | None = None) -> Any:
        content = None if payload is None else json.dumps(payload, default=str).encode("utf-8")
        response = self._http.request(method, path, content=content, params=params,
                                      headers={"Content-Type": "application/json"} if content else None)
        if response.status_code != 200:
            raise AdminCallFailed(f"{method} /_emulator{path} answered {response.status_code}: {response.text}")
        return response.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def reset(self) -> None:
        self._call("POST", "/reset", {})

    def seed_book(self, book: Any, *, open_periods: int | None = None) -> dict[str, Any]:
        """Seed from a `Book` (or its `to_dict()`): the same invoices the export files hold."""
        plain = book.to_dict() if hasattr(book, "to_dict") else book
        payload: dict[str, Any] = {"book": plain}
        if open_periods is not None:
            payload["open_periods"] = open_periods
        return self._call("POST", "/seed", payload)

    def seed(self, seed: int = 7, lines: int = 2000, first_period: str = "2026-08", months: int = 3,
             *, open_periods: int | None = None) -> dict[str, Any]:
        """Let the emulator generate the book itself (same arguments, same book)."""
        payload: dict[str, Any] = {"seed": seed, "lines": lines, "first_period": first_period, "months": months}
        if open_periods is not None:
            payload["open_periods"] = open_periods
        return self._call("POST", "/seed", payload)

    def records(self, model: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        answer = self._call("GET", f"/records/{model}")
        return answer["records"] + (answer["deleted"] if include_deleted else [])

    def create(self, model: str, doc: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
        return self._call("POST", f"/records/{model}", doc, params={"force": "true"} if force else None)

    def edit(self, model: str, record_id: int, changes: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
        return self._call("PATCH", f"/records/{model}/{record_id}", changes, params={"force": "true"} if force else None)

    def create_invoice(self, doc: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
        return self._call("POST", "/invoices", doc, params={"force": "true"} if force else None)

    def edit_invoice(self, number: int | str, changes: dict[str, Any], *, force: bool = False) -> dict[str, Any]:
        return self._call("PATCH", f"/invoices/{number}", changes, params={"force": "true"} if force else None)

    def delete_invoice(self, number: int | str, *, force: bool = False) -> dict[str, Any]:
        return self._call("DELETE", f"/invoices/{number}", params={"force": "true"} if force else None)

    def periods(self) -> list[dict[str, Any]]:
        return self._call("GET", "/periods")["periods"]

    def set_period_status(self, period: str, status: str) -> dict[str, Any]:
        return self._call("POST", f"/periods/{period}", {"Status": status})

    def expire_tokens(self) -> int:
        return self._call("POST", "/tokens/expire", {})["expired"]

    def set_faults(self, **plan: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", plan)["plan"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def journal(self) -> list[dict[str, Any]]:
        return self._call("GET", "/journal")["journal"]


@dataclasses.dataclass
class EmulatorHandle:
    base_url: str
    state_path: Path
    settings: EmulatorSettings
    admin: AdminClient

    @property
    def api_base_url(self) -> str:
        """What replaces https://<tenant>api.sedonaoffice.com/api/ in the bridge's configuration."""
        return f"{self.base_url}/api/"

    def client_environment(self) -> dict[str, str]:
        """The SEDONA_API_* variables that point the bridge's client at this emulator."""
        s = self.settings
        return {
            "SEDONA_API_BASE_URL": self.api_base_url,
            "SEDONA_API_USERNAME": s.username,
            "SEDONA_API_PASSWORD": s.password,
            "SEDONA_API_KEY": s.api_key if (s.auth_scheme == "api_key" or s.token_requires_api_key) else "",
            "SEDONA_API_AUTH": s.auth_scheme,
            "SEDONA_API_TOKEN_PATH": s.token_path.removeprefix("/api/"),
            "SEDONA_API_KEY_HEADER": s.api_key_header,
            "SEDONA_API_PAGING": s.paging,
        }


@dataclasses.dataclass
class SpawnedEmulator(EmulatorHandle):
    process: subprocess.Popen | None = None
    log_path: Path | None = None

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


def bind_loopback(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket, so the URL is known (and connectable) before the server starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, log_level: str = "warning") -> uvicorn.Config:
    return uvicorn.Config(app, log_level=log_level, access_log=False, ws="none", lifespan="off",
                          timeout_graceful_shutdown=2)


@contextlib.contextmanager
def run_emulator(state_path: str | Path, settings: EmulatorSettings | None = None, *,
                 host: str = "127.0.0.1", port: int = 0) -> Iterator[EmulatorHandle]:
    """The emulator in a background thread of this process; stops (and closes its file) on exit."""
    settings = settings or EmulatorSettings()
    app = create_app(state_path, settings)
    sock = bind_loopback(host, port)
    server = uvicorn.Server(uvicorn_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sedona-api-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the SedonaAPI emulator did not start")
        time.sleep(0.01)
    bound_host, bound_port = sock.getsockname()[:2]
    base_url = f"http://{bound_host}:{bound_port}"
    handle = EmulatorHandle(base_url, Path(state_path), settings, AdminClient(base_url))
    try:
        yield handle
    finally:
        handle.admin.close()
        server.should_exit = True
        thread.join(timeout=10)
        app.state.emulator.store.close()
        sock.close()


@contextlib.contextmanager
def spawn_emulator(state_path: str | Path, settings: EmulatorSettings | None = None, *,
                   host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 30.0) -> Iterator[SpawnedEmulator]:
    """The emulator as `python -m bridge_assets.sandbox.sedona_api` in its own process.

    Pass the `port` of a previous (killed) emulator to come back at the same URL. The child's log
    goes to `<state_path>.log`.
    """
    settings = settings or EmulatorSettings()
    state_path = Path(state_path)
    log_path = state_path.with_name(state_path.name + ".log")
    command = [sys.executable, "-m", "bridge_assets.sandbox.sedona_api", "--host", host, "--port", str(port),
               "--state", str(state_path), "--settings-json", json.dumps(settings.to_mapping())]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    try:
        first_line: list[str] = []
        reader = threading.Thread(target=lambda: first_line.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(startup_timeout)
        match = LISTENING.search(first_line[0]) if first_line else None
        if match is None:
            raise RuntimeError(f"the SedonaAPI emulator did not start; see {log_path}")
        # Keep draining stdout so the child can never block on a full pipe.
        threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
        base_url = match.group(1)
        handle = SpawnedEmulator(base_url, state_path, settings, AdminClient(base_url), process, log_path)
        _wait_healthy(handle, startup_timeout)
    except BaseException:
        process.kill()
        process.wait()
        raise
    try:
        yield handle
    finally:
        handle.admin.close()
        handle.stop()


def _wait_healthy(handle: EmulatorHandle, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            handle.admin.health()
            return
        except (httpx.HTTPError, AdminCallFailed):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
