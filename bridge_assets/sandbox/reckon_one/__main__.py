"""python -m bridge_assets.sandbox.reckon_one --host 127.0.0.1 --port 0 --state r1.sqlite3 [--time-scale 60]

The first line on stdout is `Reckon One emulator listening on http://HOST:PORT`; the API is `/r1/v2` of that
URL and the token endpoint `/connect/token`. Logs go to stderr.
"""

from __future__ import annotations

import sys

from bridge_assets.sandbox.reckon_one.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
