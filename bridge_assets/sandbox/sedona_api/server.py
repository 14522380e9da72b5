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
import subprocess
from pathlib import Path
from typing import Any, Iterator

from bridge_assets.sandbox import serving
from bridge_assets.sandbox.sedona_api.app import create_app
from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings

# The shared plumbing, under the names this module has always offered.
LISTENING = serving.LISTENING
PROJECT_ROOT = serving.PROJECT_ROOT
bind_loopback = serving.bind_loopback
uvicorn_config = serving.uvicorn_config

EMULATOR_NAME = "SedonaAPI"  # as in "the SedonaAPI emulator did not start"
EMULATOR_MODULE = "bridge_assets.sandbox.sedona_api"


class AdminCallFailed(RuntimeError):
    pass


class AdminClient(serving.AdminHttpClient):
    """The `/_emulator/...` endpoints as methods, for tests and for the bridge's sandbox set-up."""

    call_failed = AdminCallFailed

    def _request_body(self, payload: Any) -> dict[str, Any]:
        # Dates, Decimals and the like go out as their str() (a Book's values), not as an error.
        content = None if payload is None else json.dumps(payload, default=str).encode("utf-8")
        return {"content": content, "headers": {"Content-Type": "application/json"} if content else None}

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
        serving.serve_in_thread(uvicorn_config(app), name=EMULATOR_NAME, thread_name="sedona-api-emulator",
                                host=host, port=port, after_stop=app.state.emulator.store.close) as base_url,
        contextlib.closing(AdminClient(base_url)) as admin,
    ):
        yield EmulatorHandle(base_url, Path(state_path), settings, admin)


@contextlib.contextmanager
def spawn_emulator(state_path: str | Path, settings: EmulatorSettings | None = None, *,
                   host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 30.0) -> Iterator[SpawnedEmulator]:
    """The emulator as `python -m bridge_assets.sandbox.sedona_api` in its own process.

    Pass the `port` of a previous (killed) emulator to come back at the same URL. The child's log
    goes to `<state_path>.log`.
    """
    settings = settings or EmulatorSettings()
    state_path = Path(state_path)

    def make_handle(base_url: str, process: subprocess.Popen, log_path: Path) -> SpawnedEmulator:
        return SpawnedEmulator(base_url, state_path, settings, AdminClient(base_url), process, log_path)

    with serving.spawn_module(EMULATOR_MODULE, name=EMULATOR_NAME, state_path=state_path,
                              settings=settings.to_mapping(), make_handle=make_handle, host=host, port=port,
                              startup_timeout=startup_timeout) as handle:
        yield handle
