"""python -m bridge_assets.sandbox.sedona_api --port 0 --state sedona.sqlite3 [--seed 7 --lines 2000]

The first line on stdout is `SedonaAPI emulator listening on http://HOST:PORT` (flushed), so a
parent process can start it on port 0 and learn the URL. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import uvicorn

from bridge_assets.sandbox.sedona_api.admin import load_seed
from bridge_assets.sandbox.sedona_api.app import create_app
from bridge_assets.sandbox.sedona_api.seed import seed_from_book
from bridge_assets.sandbox.sedona_api.server import bind_loopback, uvicorn_config
from bridge_assets.sandbox.sedona_api.settings import EmulatorSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge_assets.sandbox.sedona_api",
                                     description="Local emulator of a SedonaAPI 2.0 tenant (SedonaOffice).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--state", required=True, type=Path, help="SQLite file holding the company")
    parser.add_argument("--settings-json", default=None, help="EmulatorSettings as a JSON object")
    parser.add_argument("--settings-file", type=Path, default=None, help="EmulatorSettings in a JSON file")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed the company from this sample book (replaces what the state file holds)")
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--first-period", default="2026-08")
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    values: dict = {}
    if args.settings_file:
        values.update(json.loads(args.settings_file.read_text()))
    if args.settings_json:
        values.update(json.loads(args.settings_json))
    try:
        settings = EmulatorSettings.from_mapping(values)
    except (TypeError, ValueError) as problem:
        parser.error(str(problem))

    app = create_app(args.state, settings)
    if args.seed is not None:
        from bridge_assets.sandbox.book import generate_book

        book = generate_book(args.seed, args.lines, args.first_period, args.months)
        load_seed(app.state.emulator.store, seed_from_book(book, open_periods=settings.open_periods))
    sock = bind_loopback(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"SedonaAPI emulator listening on http://{host}:{port}", flush=True)
    uvicorn.Server(uvicorn_config(app, args.log_level)).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
