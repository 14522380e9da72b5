"""The emulators of accounting platforms that `bridge demo`, `bridge ui` and `bridge revert` stand up for
the destinations BRIDGE_DESTINATIONS names, when no real account of that platform is configured.

A platform's emulator joins the demo with one line in `SANDBOXES` (README, "Adding a platform"): the
variable whose presence means a real account is configured (then nothing is started), a label, and a
context manager that starts the emulator with its state in the given folder and yields the environment
that points the bridge's adapter at it (base URL, tenant, client id and secret, token store...).
QuickBooks Online is started by `cli.quickbooks_sandbox` itself, since it also chooses the default
destinations.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Callable, ContextManager, Iterator


@dataclasses.dataclass(frozen=True)
class DestinationSandbox:
    label: str                                                   # "Xero emulator"
    configured_by: str                                           # e.g. XERO_CLIENT_ID: set means a real account
    start: Callable[[Path], ContextManager[tuple[str, dict[str, str]]]]   # folder -> (base URL, environment)


def _quickbooks_desktop(folder: Path) -> ContextManager[tuple[str, dict[str, str]]]:
    from bridge_assets.sandbox.qbd.stand_up import quickbooks_desktop

    return quickbooks_desktop(folder)


# BRIDGE_DESTINATIONS name -> how the sandbox stands that platform up. One line per platform.
SANDBOXES: dict[str, DestinationSandbox] = {
    "qbd_webconnector": DestinationSandbox("QuickBooks Desktop + Web Connector emulator", "QBD_WC_PASSWORD",
                                           _quickbooks_desktop),
}


def named_destinations(environ=None) -> list[str]:
    env = os.environ if environ is None else environ
    return [name.strip() for name in (env.get("BRIDGE_DESTINATIONS") or "").split(",") if name.strip()]


@contextlib.contextmanager
def platform_sandboxes(folder: Path, environ=None) -> Iterator[list[tuple[str, str, dict[str, str]]]]:
    """Start the emulator of every named destination that has one and no real account configured.

    Yields (label, base URL, environment) per emulator started; the caller puts the environment in
    place for the length of its command. Emulators stop when the block ends.
    """
    env = os.environ if environ is None else environ
    folder.mkdir(parents=True, exist_ok=True)
    started = []
    with contextlib.ExitStack() as stack:
        for name in named_destinations(env):
            sandbox = SANDBOXES.get(name)
            if sandbox is None or (env.get(sandbox.configured_by) or "").strip():
                continue
            base_url, values = stack.enter_context(sandbox.start(folder))
            started.append((sandbox.label, base_url, values))
        yield started
