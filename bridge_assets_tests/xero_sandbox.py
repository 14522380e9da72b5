"""The Xero emulator on loopback with the bridge pointed at it (shared by the Xero tests)."""

from __future__ import annotations

import contextlib
from pathlib import Path

CLIENT_ID, CLIENT_SECRET = "xero-test-app", "xero-test-secret"
TIME_SCALE = 300          # an emulated minute lasts 0.2 s: Xero's 60 a minute without waiting minutes


@contextlib.contextmanager
def xero(tmp_path: Path, monkeypatch, *, time_scale: float = TIME_SCALE):
    """The emulator with its default organisation, a connection made without a browser, and
    `BRIDGE_DESTINATIONS=xero` with the XERO_* variables pointing at it."""
    from bridge_assets.sandbox.xero import EmulatorSettings, run_emulator

    settings = EmulatorSettings(clients={CLIENT_ID: CLIENT_SECRET}, time_scale=time_scale)
    with run_emulator(tmp_path / "xero.sqlite3", settings) as emulator:
        tokens = emulator.admin.mint_tokens(emulator.tenant_id, CLIENT_ID)
        for name, value in {"XERO_BASE_URL": emulator.api_url, "XERO_TOKEN_URL": emulator.token_url,
                            "XERO_CLIENT_ID": CLIENT_ID, "XERO_CLIENT_SECRET": CLIENT_SECRET,
                            "XERO_TENANT_ID": emulator.tenant_id, "XERO_REFRESH_TOKEN": tokens["refresh_token"],
                            "XERO_TOKEN_STORE": str(tmp_path / "xero_tokens.json"),
                            "XERO_TIME_SCALE": str(time_scale), "BRIDGE_DESTINATIONS": "xero"}.items():
            monkeypatch.setenv(name, value)
        yield emulator
