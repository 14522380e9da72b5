"""QuickBooks Desktop on loopback for tests: the bridge's QBWC service (in a thread) and the emulated
company whose Web Connector polls it (in a thread), with the QBD_* environment the destination reads."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Iterator

from bridge_assets.destinations.qbd_webconnector import config, service
from bridge_assets.sandbox.qbd.server import EmulatorSettings, run_emulator

USER, PASSWORD = "bookkeeper", "sandbox-qbwc-password"


@dataclasses.dataclass
class QuickBooksDesktop:
    service: service.Running
    emulator: Any
    environment: dict[str, str]

    @property
    def admin(self):
        return self.emulator.admin


def environment(folder: Path, **overrides: str) -> dict[str, str]:
    return {"QBD_WC_QUEUE": str(folder / "webconnector.sqlite3"), "QBD_WC_USERNAME": USER,
            "QBD_WC_PASSWORD": PASSWORD, "QBD_COMPANY": "Sample Alarm Co", "QBD_WC_WAIT_SECONDS": "20",
            "QBD_WC_ANSWER_SECONDS": "3", "QBD_WC_LINGER_SECONDS": "0.3", **overrides}


@contextlib.contextmanager
def quickbooks_desktop(folder: Path, monkeypatch=None, *, poll_s: float = 0.02, **overrides: str) -> Iterator[QuickBooksDesktop]:
    folder.mkdir(parents=True, exist_ok=True)
    env = environment(folder, **overrides)
    if monkeypatch is not None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
    running = service.serve_in_thread(service.ServiceSettings.from_config(config.from_env(environ=env)))
    try:
        settings = EmulatorSettings(service_url=running.url, user_name=USER, password=PASSWORD, poll_s=poll_s,
                                    noop_s=poll_s)
        with run_emulator(folder / "qbd_company.sqlite3", settings) as emulator:
            yield QuickBooksDesktop(running, emulator, env)
    finally:
        running.stop()
