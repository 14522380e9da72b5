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
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bridge_assets.sandbox import serving
from bridge_assets.sandbox.servicetrade.app import create_app
from bridge_assets.sandbox.servicetrade.settings import EmulatorSettings

# The shared plumbing, under the names this module has always offered.
LISTENING = serving.LISTENING
PROJECT_ROOT = serving.PROJECT_ROOT
bind_loopback = serving.bind_loopback
uvicorn_config = serving.uvicorn_config

EMULATOR_NAME = "ServiceTrade"  # as in "the ServiceTrade emulator did not start"
EMULATOR_MODULE = "bridge_assets.sandbox.servicetrade"


class AdminCallFailed(RuntimeError):
    pass


class AdminClient(serving.AdminHttpClient):
    """The `/_emulator/...` endpoints as methods, for tests and for the bridge's sandbox set-up."""

    call_failed = AdminCallFailed

    def _decode(self, response: httpx.Response) -> Any:
        return json.loads(response.content, parse_float=Decimal)  # money stays exact

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
class SpawnedEmulator(EmulatorHandle, serving.ChildProcessControl):
    process: subprocess.Popen | None = None
    log_path: Path | None = None


@contextlib.contextmanager
def run_emulator(state_path: str | Path, settings: EmulatorSettings | None = None, *,
                 host: str = "127.0.0.1", port: int = 0) -> Iterator[EmulatorHandle]:
    """The emulator in a background thread of this process; stops (and closes its file) on exit."""
    settings = settings or EmulatorSettings()
    app = create_app(state_path, settings)
    with (
        serving.serve_in_thread(uvicorn_config(app), name=EMULATOR_NAME, thread_name="servicetrade-emulator",
                                host=host, port=port, after_stop=app.state.emulator.store.close) as base_url,
        contextlib.closing(AdminClient(base_url)) as admin,
    ):
        yield EmulatorHandle(base_url, Path(state_path), settings, admin)


@contextlib.contextmanager
def spawn_emulator(state_path: str | Path, settings: EmulatorSettings | None = None, *,
                   host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 30.0) -> Iterator[SpawnedEmulator]:
    """The emulator as `python -m bridge_assets.sandbox.servicetrade` in its own process.

    Pass the `port` of a previous (killed) emulator to come back at the same URL. The child's log
    goes to `<state_path>.log`.
    """
    settings = settings or EmulatorSettings()
    state_path = Path(state_path)

    def make_handle(base_url: str, process: subprocess.Popen, log_path: Path) -> SpawnedEmulator:
        return SpawnedEmulator(base_url, state_path, settings, AdminClient(base_url), process, log_path)

    with serving.spawn_module(EMULATOR_MODULE, name=EMULATOR_NAME, state_path=state_path, settings=settings.to_mapping(),
                              make_handle=make_handle, host=host, port=port,
                              startup_timeout=startup_timeout) as handle:
        yield handle
