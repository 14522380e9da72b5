"""Start the emulator on a free loopback port: in a thread (`run_emulator`) or as its own process
(`spawn_emulator`, which a test can kill -9 and start again on the same state file).

    with run_emulator(tmp_path / "st.sqlite3") as st:
        st.admin.seed(seed=7, lines=300)
        with ServiceTradeClient(st.api_url, username="bridge", password="bridge-sandbox-password") as client:
            for invoice in client.pending_invoices("2026-08"):
                ...
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
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bridge_assets.sandbox.servicetrade.app import create_app
from bridge_assets.sandbox.servicetrade.settings import EmulatorSettings

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

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=payload, params=params)
        if response.status_code != 200:
            raise AdminCallFailed(f"{method} /_emulator{path} answered {response.status_code}: {response.text}")
        return json.loads(response.content, parse_float=Decimal)  # money stays exact

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def settings(self) -> dict[str, Any]:
        return self._call("GET", "/settings")

    def reset(self) -> None:
        self._call("POST", "/reset")

    def seed(self, seed: int = 1, lines: int = 200, first_period: str = "2026-08", months: int = 3,
             **options: Any) -> dict[str, Any]:
        """Generate the sample book and load it; options: status, credit_style, replace."""
        return self._call("POST", "/seed", {"seed": seed, "lines": lines, "first_period": first_period,
                                            "months": months, **options})

    def seed_book(self, book: Any, **options: Any) -> dict[str, Any]:
        plain = book if isinstance(book, dict) else book.to_dict()
        return self._call("POST", "/seed", {"book": plain, **options})

    def register_user(self, username: str, password: str) -> None:
        self._call("POST", "/users", {"username": username, "password": password})

    def register_client(self, client_id: str, client_secret: str) -> None:
        self._call("POST", "/clients", {"client_id": client_id, "client_secret": client_secret})

    def mint_tokens(self, client_id: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/oauth/tokens", {"client_id": client_id})

    def expire(self, **what: Any) -> dict[str, int]:
        """Expire sessions and access tokens now; username=, client_id=, refresh_tokens=True narrow or widen."""
        return self._call("POST", "/expire", what)["expired"]

    def sessions(self) -> list[dict[str, Any]]:
        return self._call("GET", "/sessions")["sessions"]

    def tokens(self) -> list[dict[str, Any]]:
        return self._call("GET", "/tokens")["tokens"]

    def invoices(self, status: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/invoices", params={"status": status} if status else None)["invoices"]

    def invoice(self, invoice_id: int) -> dict[str, Any]:
        return self._call("GET", f"/invoices/{invoice_id}")["invoice"]

    def create_invoices(self, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call("POST", "/invoices", {"invoices": specs})["invoices"]

    def edit_invoice(self, invoice_id: int, **changes: Any) -> dict[str, Any]:
        return self._call("POST", f"/invoices/{invoice_id}", changes)["invoice"]

    def comments(self, entity_id: int | None = None, entity_type: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("entityId", entity_id), ("entityType", entity_type)) if v is not None}
        return self._call("GET", "/comments", params=params or None)["comments"]

    def customers(self) -> list[dict[str, Any]]:
        return self._call("GET", "/customers")["customers"]

    def locations(self) -> list[dict[str, Any]]:
        return self._call("GET", "/locations")["locations"]

    def jobs(self) -> list[dict[str, Any]]:
        return self._call("GET", "/jobs")["jobs"]

    def set_faults(self, **plan: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", plan)["faults"]

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def journal(self, since: int = 0) -> list[dict[str, Any]]:
        return self._call("GET", "/journal", params={"since": since})["journal"]


@dataclasses.dataclass
class EmulatorHandle:
    base_url: str
    state_path: Path
    settings: EmulatorSettings
    admin: AdminClient

    @property
    def api_url(self) -> str:
        """What replaces https://api.servicetrade.com/api in the client's configuration."""
        return self.base_url + "/api"


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
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="servicetrade-emulator",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the ServiceTrade emulator did not start")
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
    """The emulator as `python -m bridge_assets.sandbox.servicetrade` in its own process.

    Pass the `port` of a previous (killed) emulator to come back at the same URL. The child's log
    goes to `<state_path>.log`.
    """
    settings = settings or EmulatorSettings()
    state_path = Path(state_path)
    log_path = state_path.with_name(state_path.name + ".log")
    command = [sys.executable, "-m", "bridge_assets.sandbox.servicetrade", "--host", host, "--port", str(port),
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
            raise RuntimeError(f"the ServiceTrade emulator did not start; see {log_path}")
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
