"""Screenshots of the Dagster UI after the demo, in headless Chromium (Debian's `chromium` package), to check
by eye what the UI shows per period (issue 11): the row-count plot of accounting_documents over periods, the
money plots of quickbooks_postings (source vs posted per destination), a partition's sortable tables, and the
checks of the postings asset, each evaluation named by its period.

    .venv/bin/python scripts/ui_screenshots.py [--home /tmp/bridge_shots] [--out shots/] [--port 3999]

Runs `bridge demo` into HOME unless its database exists, starts `bridge ui` there, waits until it answers,
takes one PNG per page into OUT, then stops the UI with SIGTERM (which stops everything it started).
Not part of the test suite: it needs a browser and a minute.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PAGES = {
    "accounting_documents_plots": "/assets/accounting_documents?view=plots",
    "accounting_documents_2026-09": "/assets/accounting_documents?view=partitions&partition=2026-09",
    "quickbooks_postings_plots": "/assets/quickbooks_postings?view=plots",
    "quickbooks_postings_checks": "/assets/quickbooks_postings?view=checks",
    "reconciliation_2026-09": "/assets/reconciliation?view=partitions&partition=2026-09",
    "asset_graph": "/asset-groups",
}


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QBO_", "SEDONA_API_", "SERVICETRADE_", "BRIDGE_", "DAGSTER_"))}
    env.update(PYTHONPATH=str(ROOT), BRIDGE_HOME=str(home / "home"), DAGSTER_HOME=str(home / "dagster_home"))
    return env


def _bridge(*args: str) -> list[str]:
    return [sys.executable, "-m", "bridge_assets.cli", *args]


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bridge ui stopped early (exit {process.returncode})")
        try:
            if httpx.get(url + "/server_info", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"the UI did not answer at {url} within {timeout:.0f} s")


def _screenshot(browser: str, url: str, target: Path, size: str) -> None:
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={size}", "--virtual-time-budget=25000", f"--screenshot={target}", url],
                   check=True, timeout=180, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default="/tmp/bridge_shots")
    parser.add_argument("--out", default=str(ROOT / "var" / "screenshots"))
    parser.add_argument("--port", type=int, default=3999)
    parser.add_argument("--size", default="1600,1400")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("no chromium: apt-get install chromium")
    home, out = Path(args.home), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = _environment(home)
    if not (home / "home" / "bridge.duckdb").exists():
        subprocess.run(_bridge("demo"), env=env, cwd=ROOT, check=True)
    base = f"http://127.0.0.1:{args.port}"
    with open(home / "ui.log", "w") as log:
        ui = subprocess.Popen(_bridge("ui", "--port", str(args.port)), env=env, cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_up(base, ui)
        for name, path in PAGES.items():
            _screenshot(browser, base + path, out / f"{name}.png", args.size)
            print(f"{out / (name + '.png')}  <- {base + path}")
    finally:
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
