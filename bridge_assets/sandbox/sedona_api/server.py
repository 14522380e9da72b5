"""Start the emulator on a free loopback port: in a thread (`run_emulator`) or as its own process
(`spawn_emulator`, which a test can kill -9 and start again on the same state file).

    with run_emulator(tmp_path / "sedona.sqlite3") as sedona:
        sedona.admin.seed_book(generate_book(7, 2000))
        client = SedonaApiClient(sedona.client_config())
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from bridge_assets.sandbox.kit import emulator, serving
from bridge_assets.sandbox.kit.serving import AdminCallFailed
from bridge_assets.sandbox.sedona_api.admin import load_seed
from bridge_assets.sandbox.sedona_api.app import create_app
from bridge_assets.sandbox.sedona_api.seed import seed_from_book
from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings


class AdminClient(serving.AdminHttpClient):
    """The `/_emulator/...` endpoints as methods, for tests and for the bridge's sandbox set-up."""

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
class EmulatorHandle(emulator.EmulatorHandle):
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


SpawnedEmulator = emulator.spawned_type(EmulatorHandle)


def _seed_at_start(app: Any, args: Any, settings: EmulatorSettings) -> None:
    book = emulator.book_from_arguments(args)
    if book is not None:
        load_seed(app.state.emulator.store, seed_from_book(book, open_periods=settings.open_periods))


KIND = emulator.EmulatorKind(
    name="SedonaAPI", module="bridge_assets.sandbox.sedona_api",
    description="Local emulator of a SedonaAPI 2.0 tenant (SedonaOffice).",
    state_help="SQLite file holding the company", create_app=create_app, settings_type=EmulatorSettings,
    admin_client=AdminClient, handle=EmulatorHandle, spawned=SpawnedEmulator,
    options=emulator.seed_options(lines=2000), prepare=_seed_at_start,
)
run_emulator = KIND.run
spawn_emulator = KIND.spawn
