"""python -m bridge_assets.sandbox.sedona_api --port 0 --state sedona.sqlite3 [--seed 7 --lines 2000]

The first line on stdout is `SedonaAPI emulator listening on http://HOST:PORT` (flushed), so a
parent process can start it on port 0 and learn the URL. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import sys

from bridge_assets.sandbox import cli_support
from bridge_assets.sandbox.sedona_api.admin import load_seed
from bridge_assets.sandbox.sedona_api.app import create_app
from bridge_assets.sandbox.sedona_api.seed import seed_from_book
from bridge_assets.sandbox.sedona_api.server import EMULATOR_NAME, uvicorn_config
from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge_assets.sandbox.sedona_api",
                                     description="Local emulator of a SedonaAPI 2.0 tenant (SedonaOffice).")
    cli_support.add_server_arguments(parser, state_help="SQLite file holding the company")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed the company from this sample book (replaces what the state file holds)")
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--first-period", default="2026-08")
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    settings = cli_support.settings_from_arguments(parser, args, EmulatorSettings)

    app = create_app(args.state, settings)
    if args.seed is not None:
        from bridge_assets.sandbox.book import generate_book

        book = generate_book(args.seed, args.lines, args.first_period, args.months)
        load_seed(app.state.emulator.store, seed_from_book(book, open_periods=settings.open_periods))
    cli_support.announce_and_serve(app, name=EMULATOR_NAME, host=args.host, port=args.port, log_level=args.log_level,
                                   config=uvicorn_config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
