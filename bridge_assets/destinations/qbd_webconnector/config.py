"""Every setting of QuickBooks Desktop through the Web Connector, read in this one place from a mapping
(the environment). The password is only ever held by the service's settings (never logged or stored).

| variable | default | meaning |
|---|---|---|
| `QBD_WC_USERNAME`, `QBD_WC_PASSWORD` | (required for the service) | what the bookkeeper types into the Web Connector (password: environment only) |
| `QBD_COMPANY` | `QuickBooks Desktop` | the company's name in the bridge (its OwnerID/FileID GUIDs derive from it) |
| `QBD_COMPANY_FILE` | `""` | the company file the Web Connector opens (`""`: the one open in QuickBooks) |
| `QBD_WC_QUEUE` | `$BRIDGE_HOME/qbd/webconnector.sqlite3` | the queue the bridge and the service share |
| `QBD_WC_HOST`, `QBD_WC_PORT` | `127.0.0.1`, `8720` | where `bridge webconnector` listens |
| `QBD_WC_APP_URL` | `http://localhost:8720/qbwc` | the service's address as the Web Connector reaches it (HTTPS unless localhost) |
| `QBD_WC_SUPPORT_URL` | `<AppURL's host>/support` | the .qwc's AppSupport (the Web Connector wants it on the AppURL's host; the service answers it) |
| `QBD_WC_SERVICE_URL` | (none) | set when the service already runs elsewhere: `bridge ui` then does not serve it beside Dagster |
| `QBD_WC_RUN_EVERY_MINUTES` | `1` | the .qwc's Scheduler/RunEveryNMinutes |
| `QBD_WC_WAIT_SECONDS` | `900` | how long the bridge waits for the Web Connector to ask for queued work |
| `QBD_WC_ANSWER_SECONDS` | `300` | how long a handed-out request may take before its outcome is unknown |
| `QBD_WC_LINGER_SECONDS` | `2` | how long an open session waits for the bridge's next step |
| `QBD_AUTO_CREATE_CUSTOMERS`, `QBD_AUTO_CREATE_ITEMS` | `true` | add missing customers / service items, or fail the document with a sentence |
| `QBD_INCOME_ACCOUNT` | `Services` | the income account of new service items |
| `QBD_TAX_ITEM` | `Sales Tax (source)` | the item of the line that carries the source's tax |
| `QBD_BATCH_SIZE` | `50` | documents per qbXML message set |
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from urllib.parse import urljoin
from pathlib import Path
from typing import Any, Mapping

from bridge_assets.destinations.kit.settings import Env
from bridge_assets.destinations.base import DestinationError

GUID_NAMESPACE = uuid.UUID("5b6f3c1e-0d4a-4c1f-9a52-6e0f2b7d8a10")


@dataclasses.dataclass(frozen=True)
class QbdConfig:
    queue_path: Path
    company: str = "QuickBooks Desktop"
    company_file: str = ""
    user_name: str = ""
    password: str = dataclasses.field(default="", repr=False)
    host: str = "127.0.0.1"
    port: int = 8720
    app_url: str = "http://localhost:8720/qbwc"
    support_url: str = "http://localhost:8720/support"
    service_url: str = ""           # the service already runs there (QBD_WC_SERVICE_URL)
    run_every_minutes: int = 1
    wait_s: float = 900.0
    answer_s: float = 300.0
    linger_s: float = 2.0
    auto_create_customers: bool = True
    auto_create_items: bool = True
    income_account: str = "Services"
    tax_item: str = "Sales Tax (source)"
    batch_size: int = 50

    @property
    def owner_id(self) -> str:
        return "{" + str(uuid.uuid5(GUID_NAMESPACE, f"owner:{self.company}")).upper() + "}"

    @property
    def file_id(self) -> str:
        return "{" + str(uuid.uuid5(GUID_NAMESPACE, f"file:{self.company}")).upper() + "}"


def from_env(settings: Any = None, environ: Mapping[str, str] | None = None) -> QbdConfig:
    env = Env(os.environ if environ is None else environ, "QuickBooks Desktop")
    text, flag = env.text, env.flag

    def number(name: str, default: float, kind=float):
        value = text(name)
        try:
            result = default if value is None else kind(value)
        except ValueError:
            raise DestinationError(f"{name} must be a number, not {value!r}") from None
        if result <= 0:
            raise DestinationError(f"{name} must be above 0, not {value!r}")
        return result

    home = Path(getattr(settings, "home", None) or text("BRIDGE_HOME", "var")).absolute()
    port = int(number("QBD_WC_PORT", 8720, int))
    app_url = text("QBD_WC_APP_URL", f"http://localhost:{port}/qbwc")
    return QbdConfig(
        queue_path=Path(text("QBD_WC_QUEUE") or home / "qbd" / "webconnector.sqlite3"),
        company=text("QBD_COMPANY", "QuickBooks Desktop"),
        company_file=(env.environ.get("QBD_COMPANY_FILE") or "").strip(),
        user_name=text("QBD_WC_USERNAME", ""),
        password=env.environ.get("QBD_WC_PASSWORD") or "",
        host=text("QBD_WC_HOST", "127.0.0.1"),
        port=port,
        app_url=app_url,
        support_url=text("QBD_WC_SUPPORT_URL", urljoin(app_url, "/support")),
        service_url=text("QBD_WC_SERVICE_URL", ""),
        run_every_minutes=int(number("QBD_WC_RUN_EVERY_MINUTES", 1, int)),
        wait_s=float(number("QBD_WC_WAIT_SECONDS", 900.0)),
        answer_s=float(number("QBD_WC_ANSWER_SECONDS", 300.0)),
        linger_s=float(number("QBD_WC_LINGER_SECONDS", 2.0)),
        auto_create_customers=flag("QBD_AUTO_CREATE_CUSTOMERS", True),
        auto_create_items=flag("QBD_AUTO_CREATE_ITEMS", True),
        income_account=text("QBD_INCOME_ACCOUNT", "Services"),
        tax_item=text("QBD_TAX_ITEM", "Sales Tax (source)"),
        batch_size=int(number("QBD_BATCH_SIZE", 50, int)),
    )
