"""Screenshots of the Dagster UI after the demo, in headless Chromium (Debian's `chromium` package), to check
by eye what the UI shows per period (issue 11): the row-count plot of accounting_documents over periods, the
money plots of quickbooks_postings (source vs posted per destination), a partition's tables, and the
checks of the postings asset, each evaluation named by its period.

    .venv/bin/python scripts/ui_screenshots.py [--home /tmp/bridge_shots] [--out shots/] [--port 3999]

Runs `bridge demo` into HOME unless its database exists, starts `bridge ui` there, waits until it answers,
takes one PNG per page into OUT, then stops the UI with SIGTERM (which stops everything it started).
Not part of the test suite: it needs a browser and a minute.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# name -> (path, what to do on the page before the screenshot: click buttons by their text, filter metadata keys)
PAGES = {
    "accounting_documents_plots": ("/assets/accounting_documents", {"filter": "documents", "click": ["Plots"], "scroll": "Metadata"}),
    "quickbooks_postings_money_plots": ("/assets/quickbooks_postings", {"filter": "money", "click": ["Plots"], "scroll": "Metadata"}),
    "quickbooks_postings_failed_plots": ("/assets/quickbooks_postings", {"filter": "failed", "click": ["Plots"], "scroll": "Metadata"}),
    "accounting_documents_2026-09_tables": ("/assets/accounting_documents?view=partitions&partition=2026-09", {}),
    "reconciliation_2026-09_destinations": ("/assets/reconciliation?view=partitions&partition=2026-09", {}),
    "quickbooks_postings_checks": ("/assets/quickbooks_postings?view=checks", {}),
}
SETTLE_S = 12.0


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


class Page:
    """One Chromium tab driven over the DevTools protocol (websockets, installed with dagster-webserver)."""

    def __init__(self, browser: str, port: int, profile: Path, size: tuple[int, int]) -> None:
        self.process = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--remote-debugging-port={port}",
             f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                url = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
                break
            except (httpx.HTTPError, StopIteration):
                if time.monotonic() > deadline:
                    raise SystemExit("chromium did not open its DevTools port")
                time.sleep(0.5)
        from websockets.sync.client import connect

        warnings.filterwarnings("ignore", category=DeprecationWarning, module=__name__)

        self.socket = connect(url, max_size=64 * 1024 * 1024)
        self.ids = 0
        self.call("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1], deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params):
        self.ids += 1
        self.socket.send(json.dumps({"id": self.ids, "method": method, "params": params}))
        while True:
            answer = json.loads(self.socket.recv())
            if answer.get("id") == self.ids:
                return answer.get("result", {})

    def run(self, script: str):
        return self.call("Runtime.evaluate", expression=script, awaitPromise=True).get("result", {}).get("value")

    def click(self, text: str) -> bool:
        return bool(self.run(f"""(() => {{
            const hit = [...document.querySelectorAll('button')].find(b => b.innerText.trim() === {json.dumps(text)});
            if (hit) hit.click(); return !!hit; }})()"""))

    def filter(self, text: str) -> bool:
        """Type into the metadata filter (React reads the native setter and an input event)."""
        return bool(self.run(f"""(() => {{
            const box = [...document.querySelectorAll('input')].find(i => (i.placeholder || '').startsWith('Filter metadata'));
            if (!box) return false;
            Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(box, {json.dumps(text)});
            box.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()"""))

    def shot(self, url: str, target: Path, actions: dict) -> None:
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        time.sleep(SETTLE_S)
        self.click("Skip")                            # the "Join the Dagster community" dialog, first visit only
        if actions.get("filter"):
            self.filter(actions["filter"])
            time.sleep(1)
        for text in actions.get("click", ()):
            self.click(text)
            time.sleep(3)
        if actions.get("scroll"):
            self.run(f"""(() => {{
                const at = [...document.querySelectorAll('div, span, h1, h2, h3, h4')]
                    .find(e => e.childElementCount === 0 && e.innerText && e.innerText.trim() === {json.dumps(actions["scroll"])});
                if (at) at.scrollIntoView({{block: 'start'}}); return !!at; }})()""")
            time.sleep(2)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        target.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default="/tmp/bridge_shots")
    parser.add_argument("--out", default=str(ROOT / "var" / "screenshots"))
    parser.add_argument("--port", type=int, default=3999)
    parser.add_argument("--size", default="1600,1800")
    parser.add_argument("--pages", nargs="*", help="only the pages whose name contains one of these words")
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
    page = None
    try:
        _wait_until_up(base, ui)
        width, height = (int(v) for v in args.size.split(","))
        page = Page(browser, args.port + 1, home / "chromium_profile", (width, height))
        for name, (path, actions) in PAGES.items():
            if args.pages and not any(word in name for word in args.pages):
                continue
            page.shot(base + path, out / f"{name}.png", actions)
            print(f"{out / (name + '.png')}  <- {base + path} {actions or ''}")
    finally:
        if page is not None:
            page.close()
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
