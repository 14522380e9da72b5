"""python -m bridge_assets.sandbox.kashflow --host 127.0.0.1 --port 0 --state kf.sqlite3

The first line on stdout is `KashFlow emulator listening on http://HOST:PORT`; the service is
`/api/service.asmx` of that URL, its WSDL at `/api/service.asmx?WSDL`.
"""

from __future__ import annotations

import sys

from bridge_assets.sandbox.kashflow.server import KIND

if __name__ == "__main__":
    sys.exit(KIND.main())
