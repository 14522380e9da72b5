"""Start the emulator on a free loopback port: in a thread (`run_emulator`) or as its own process
(`spawn_emulator`, which a test can kill -9 to play a crash and start again on the same state file).

    with run_emulator(tmp_path / "qbo.sqlite3") as qbo:
        realm_id = qbo.admin.create_company()
        tokens = qbo.admin.mint_tokens(realm_id)
        httpx.get(f"{qbo.company_url(realm_id)}/preferences",
                  headers={"Authorization": f"Bearer {tokens['access_token']}"})
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
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

from bridge_assets.sandbox.qbo.app import create_app
from bridge_assets.sandbox.qbo.oauth import AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH
from bridge_assets.sandbox.qbo.settings import EmulatorSettings

LISTENING = re.compile(r"listening on (http://\S+)")
PROJECT_ROOT = Path(__file__).resolve().parents[3]


class AdminCallFailed(RuntimeError):
    pass


class AdminClient:
    """The `/_emulator/...` endpoints as methods, for tests and for the bridge's sandbox set-up."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=f"{base_url}/_emulator", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=payload, params=params)
        if response.status_code != 200:
            raise AdminCallFailed(f"{method} /_emulator{path} answered {response.status_code}: {response.text}")
        return response.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def create_company(self, realm_id: str | None = None, *, company_name: str | None = None,
                       sales_tax_rate: Any = None, warn_duplicate_doc_number: bool | None = None,
                       preferences: dict[str, Any] | None = None) -> str:
        payload: dict[str, Any] = {"realmId": realm_id, "CompanyName": company_name, "Preferences": preferences}
        if sales_tax_rate is not None:
            payload["sales_tax_rate"] = str(sales_tax_rate)
        if warn_duplicate_doc_number is not None:
            payload["warn_duplicate_doc_number"] = warn_duplicate_doc_number
        return self._call("POST", "/companies", {k: v for k, v in payload.items() if v is not None})["realmId"]

    def configure_company(self, realm_id: str, **config: Any) -> dict[str, Any]:
        if "sales_tax_rate" in config:
            config["sales_tax_rate"] = str(config["sales_tax_rate"])
        return self._call("POST", f"/companies/{realm_id}/config", config)["config"]

    def change_preferences(self, realm_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/companies/{realm_id}/preferences", changes)["Preferences"]

    def set_book_close_date(self, realm_id: str, close: dt.date | str | None) -> dict[str, Any]:
        value = close.isoformat() if isinstance(close, dt.date) else close
        return self._call("POST", f"/companies/{realm_id}/book-close-date", {"BookCloseDate": value})["Preferences"]

    def mint_tokens(self, realm_id: str | None = None, client_id: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/oauth/tokens", {"realmId": realm_id, "client_id": client_id})

    def mint_authorization_code(self, realm_id: str | None = None, client_id: str | None = None,
                                redirect_uri: str | None = None) -> str:
        return self._call("POST", "/oauth/authorization-code",
                          {"realmId": realm_id, "client_id": client_id, "redirect_uri": redirect_uri})["code"]

    def register_client(self, client_id: str, client_secret: str) -> None:
        self._call("POST", "/clients", {"client_id": client_id, "client_secret": client_secret})

    def expire_access_tokens(self, realm_id: str | None = None, access_token: str | None = None) -> int:
        return self._call("POST", "/oauth/expire", {"realmId": realm_id, "access_token": access_token})["expired"]

    def set_faults(self, realm_id: str | None = None, **plan: Any) -> dict[str, Any]:
        return self._call("POST", "/faults", {"realmId": realm_id, **plan})["plan"]

    def clear_faults(self, realm_id: str | None = None) -> None:
        self._call("DELETE", "/faults", params={"realmId": realm_id} if realm_id else None)

    def reset(self, realm_id: str | None = None) -> None:
        self._call("POST", "/reset", {"realmId": realm_id} if realm_id else {})

    def dump(self, realm_id: str, entity: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every object of one entity, inactive and voided included, with no token and no throttle."""
        answer = self._call("GET", f"/companies/{realm_id}/entities/{entity}")
        return answer[entity] + (answer["Deleted"] if include_deleted else [])

    def journal(self, realm_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/companies/{realm_id}/journal")["journal"]


@dataclasses.dataclass
class EmulatorHandle:
    base_url: str
    state_path: Path
    settings: EmulatorSettings
    admin: AdminClient

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def revoke_url(self) -> str:
        return self.base_url + REVOKE_PATH

    @property
    def authorize_url(self) -> str:
        return self.base_url + AUTHORIZE_PATH

    @property
    def api_base_url(self) -> str:
        """What replaces https://quickbooks.api.intuit.com in the client's configuration."""
        return self.base_url

    def company_url(self, realm_id: str) -> str:
        return f"{self.base_url}/v3/company/{realm_id}"


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
    # h11 explicitly: the dropped-response fault reaches the transport through its protocol object.
    return uvicorn.Config(app, log_level=log_level, access_log=False, http="h11", ws="none", lifespan="off",
                          timeout_graceful_shutdown=2)


@contextlib.contextmanager
def run_emulator(state_path: str | Path, settings: EmulatorSettings | None = None, *,
                 host: str = "127.0.0.1", port: int = 0) -> Iterator[EmulatorHandle]:
    """The emulator in a background thread of this process; stops (and closes its file) on exit."""
    settings = settings or EmulatorSettings()
    app = create_app(state_path, settings=settings)
    sock = bind_loopback(host, port)
    server = uvicorn.Server(uvicorn_config(app))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="qbo-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the QBO emulator did not start")
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
    """The emulator as `python -m bridge_assets.sandbox.qbo` in its own process.

    Pass the `port` of a previous (killed) emulator to come back at the same URL. The child's log
    goes to `<state_path>.log`.
    """
    settings = settings or EmulatorSettings()
    state_path = Path(state_path)
    log_path = state_path.with_name(state_path.name + ".log")
    command = [sys.executable, "-m", "bridge_assets.sandbox.qbo", "--host", host, "--port", str(port),
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
            raise RuntimeError(f"the QBO emulator did not start; see {log_path}")
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
