"""python -m bridge_assets.sandbox.quickfile --host 127.0.0.1 --port 0 --state qf.sqlite3 [--time-scale 60]

The first line on stdout is `QuickFile emulator listening on http://HOST:PORT`; methods are POSTed to
`/1_2/<category>/<method>` of that URL. Logs go to stderr.
"""

from __future__ import annotations

import sys

from bridge_assets.sandbox.quickfile.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
