"""python -m bridge_assets.sandbox.wave --host 127.0.0.1 --port 0 --state wave.sqlite3 [--time-scale 60]

The first line on stdout is `Wave emulator listening on http://HOST:PORT` (flushed); the GraphQL endpoint
is `/graphql/public` of that URL and the token endpoint `/oauth2/token/`. Logs go to stderr.
"""

from __future__ import annotations

import sys

from bridge_assets.sandbox.wave.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
