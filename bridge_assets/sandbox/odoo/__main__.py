"""python -m bridge_assets.sandbox.odoo --host 127.0.0.1 --port 0 --state odoo.sqlite3

The first line on stdout is `Odoo emulator listening on http://HOST:PORT` (flushed). The XML-RPC API
is `/xmlrpc/2/common` and `/xmlrpc/2/object` of that URL. Logs go to stderr.
"""

from __future__ import annotations

import sys

from bridge_assets.sandbox.odoo.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
