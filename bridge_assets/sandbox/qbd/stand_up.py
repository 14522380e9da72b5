"""QuickBooks Desktop for `bridge demo` / `bridge ui` / `bridge revert` when no real Web Connector is
configured (QBD_WC_PASSWORD unset): the bridge's own QBWC service (`bridge webconnector`, its own process,
as a bookkeeper would run it) and the emulated company whose Web Connector polls it. Yields the emulator's
address and the QBD_* environment that points the destination at the shared queue.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from bridge_assets.sandbox.kit import serving
from bridge_assets.sandbox.qbd.server import EmulatorSettings, run_emulator

LISTENING = re.compile(r"listening on (http://\S+)")
USER = "sandbox-bookkeeper"


@contextlib.contextmanager
def quickbooks_desktop(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {"QBD_WC_USERNAME": USER, "QBD_WC_PASSWORD": secrets.token_urlsafe(18),
           "QBD_COMPANY": "Sample Alarm Co (sandbox)", "QBD_WC_QUEUE": str(folder / "qbd_webconnector_queue.sqlite3"),
           "QBD_WC_WAIT_SECONDS": "120", "QBD_WC_ANSWER_SECONDS": "60", "QBD_WC_LINGER_SECONDS": "1"}
    log_path = folder / "qbd_webconnector_service.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "bridge_assets.cli", "webconnector", "--port", "0"],
                                   stdout=subprocess.PIPE, stderr=log, text=True,
                                   env={**serving.child_environment(), **env})
    try:
        match = LISTENING.search(serving.read_first_line(process, 60.0))
        if match is None:
            raise RuntimeError(f"the bridge's Web Connector service did not start; see {log_path}")
        serving.drain_stdout(process)
        settings = EmulatorSettings(service_url=match.group(1), user_name=USER, password=env["QBD_WC_PASSWORD"],
                                    poll_s=0.05, noop_s=0.05)
        with run_emulator(folder / "qbd_company.sqlite3", settings) as qbd:
            yield qbd.base_url, {**env, "QBD_WC_SERVICE_URL": match.group(1)}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
