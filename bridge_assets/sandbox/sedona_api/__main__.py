"""python -m bridge_assets.sandbox.sedona_api --port 0 --state sedona.sqlite3 [--seed 7 --lines 2000]

The first line on stdout is `SedonaAPI emulator listening on http://HOST:PORT` (flushed), so a
parent process can start it on port 0 and learn the URL. Logs go to stderr.
"""

from __future__ import annotations

import sys

from bridge_assets.sandbox.sedona_api.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
