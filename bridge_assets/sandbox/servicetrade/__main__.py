"""python -m bridge_assets.sandbox.servicetrade --host 127.0.0.1 --port 0 --state st.sqlite3 [--seed 7 --lines 300]

The first line on stdout is `ServiceTrade emulator listening on http://HOST:PORT` (flushed), so a parent
process can start it on port 0 and learn the URL. The API is under `/api` of that URL. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import sys

from bridge_assets.sandbox import cli_support
from bridge_assets.sandbox.servicetrade.app import create_app
from bridge_assets.sandbox.servicetrade.seed import seed_from_book
from bridge_assets.sandbox.servicetrade.server import EMULATOR_NAME, uvicorn_config
from bridge_assets.sandbox.servicetrade.settings import EmulatorSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge_assets.sandbox.servicetrade",
                                     description="Local emulator of the ServiceTrade API (invoices, comments, auth).")
    cli_support.add_server_arguments(parser, state_help="SQLite file holding the account")
    parser.add_argument("--time-scale", type=float, default=None, help="60 makes a minute last a second")
    parser.add_argument("--seed", type=int, default=None, help="load the sample book with this seed at start")
    parser.add_argument("--lines", type=int, default=300, help="size of the sample book, in invoice lines")
    parser.add_argument("--first-period", default="2026-08")
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    settings = cli_support.settings_from_arguments(parser, args, EmulatorSettings, time_scale=args.time_scale)

    app = create_app(args.state, settings)
    if args.seed is not None:
        from bridge_assets.sandbox.book import generate_book

        book = generate_book(args.seed, args.lines, args.first_period, args.months)
        seed_from_book(book, app.state.emulator.store, fields=settings.fields)
    cli_support.announce_and_serve(app, name=EMULATOR_NAME, host=args.host, port=args.port, log_level=args.log_level,
                                   config=uvicorn_config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
