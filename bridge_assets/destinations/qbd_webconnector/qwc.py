"""The .qwc file a bookkeeper adds to the QuickBooks Web Connector ("Add an application"), facts §2.

OwnerID and FileID are GUIDs in braces, stable per company (derived from QBD_COMPANY), so a regenerated
file is the same application to the Web Connector. The password is not in it: the bookkeeper types it
into the Web Connector (QBD_WC_PASSWORD on our side).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from bridge_assets.destinations.qbd_webconnector.config import QbdConfig
from bridge_assets.destinations.qbd_webconnector.qbxml import E

APP_NAME = "Invoice bridge"


def qwc_document(config: QbdConfig) -> str:
    if not config.user_name:
        raise ValueError("the .qwc file names the Web Connector's user: set QBD_WC_USERNAME")
    url = config.app_url
    if not (url.startswith("https://") or url.startswith("http://localhost") or url.startswith("http://127.0.0.1")):
        raise ValueError(f"QBD_WC_APP_URL is {url}: the Web Connector accepts http only for localhost; "
                         f"serve `bridge webconnector` behind HTTPS and give that address")
    root = E("QBWCXML",
             E("AppName", f"{APP_NAME} ({config.company})"),
             E("AppID", ""),
             E("AppURL", url),
             E("AppDescription", "Posts SedonaOffice and ServiceTrade billing into QuickBooks Desktop, exactly once."),
             E("AppSupport", config.support_url),
             E("UserName", config.user_name),
             E("OwnerID", config.owner_id),
             E("FileID", config.file_id),
             E("QBType", "QBFS"),
             E("Style", "Document"),
             E("Scheduler", E("RunEveryNMinutes", str(config.run_every_minutes))),
             E("IsReadOnly", "false"))
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
