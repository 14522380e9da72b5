"""python -m bridge_assets.sandbox.qbo --host 127.0.0.1 --port 0 --state state.sqlite3

The first line on stdout is `QBO emulator listening on http://HOST:PORT` (flushed), so a parent
process can start it on port 0 and learn the URL. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import sys

from bridge_assets.sandbox import cli_support
from bridge_assets.sandbox.qbo.app import create_app
from bridge_assets.sandbox.qbo.server import EMULATOR_NAME, uvicorn_config
from bridge_assets.sandbox.qbo.settings import EmulatorSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge_assets.sandbox.qbo",
                                     description="Local emulator of the QuickBooks Online Accounting API v3.")
    cli_support.add_server_arguments(parser, state_help="SQLite file holding the books")
    parser.add_argument("--time-scale", type=float, default=None, help="60 makes a minute last a second")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    settings = cli_support.settings_from_arguments(parser, args, EmulatorSettings, time_scale=args.time_scale)

    app = create_app(args.state, settings=settings)
    cli_support.announce_and_serve(app, name=EMULATOR_NAME, host=args.host, port=args.port, log_level=args.log_level,
                                   config=uvicorn_config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
