"""python -m bridge_assets.sandbox.servicetrade --host 127.0.0.1 --port 0 --state st.sqlite3 [--seed 7 --lines 300]

The first line on stdout is `ServiceTrade emulator listening on http://HOST:PORT` (flushed), so a parent
process can start it on port 0 and learn the URL. The API is under `/api` of that URL. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import uvicorn

from bridge_assets.sandbox.servicetrade.app import create_app
from bridge_assets.sandbox.servicetrade.seed import seed_from_book
from bridge_assets.sandbox.servicetrade.server import bind_loopback, uvicorn_config
from bridge_assets.sandbox.servicetrade.settings import EmulatorSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge_assets.sandbox.servicetrade",
                                     description="Local emulator of the ServiceTrade API (invoices, comments, auth).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--state", required=True, type=Path, help="SQLite file holding the account")
    parser.add_argument("--settings-json", default=None, help="EmulatorSettings as a JSON object")
    parser.add_argument("--settings-file", type=Path, default=None, help="EmulatorSettings in a JSON file")
    parser.add_argument("--time-scale", type=float, default=None, help="60 makes a minute last a second")
    parser.add_argument("--seed", type=int, default=None, help="load the sample book with this seed at start")
    parser.add_argument("--lines", type=int, default=300, help="size of the sample book, in invoice lines")
    parser.add_argument("--first-period", default="2026-08")
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    values: dict = {}
    if args.settings_file:
        values.update(json.loads(args.settings_file.read_text()))
    if args.settings_json:
        values.update(json.loads(args.settings_json))
    if args.time_scale is not None:
        values["time_scale"] = args.time_scale
    try:
        settings = EmulatorSettings.from_mapping(values)
    except (TypeError, ValueError) as problem:
        parser.error(str(problem))

    app = create_app(args.state, settings)
    if args.seed is not None:
        from bridge_assets.sandbox.book import generate_book

        book = generate_book(args.seed, args.lines, args.first_period, args.months)
        seed_from_book(book, app.state.emulator.store, fields=settings.fields)
    sock = bind_loopback(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"ServiceTrade emulator listening on http://{host}:{port}", flush=True)
    uvicorn.Server(uvicorn_config(app, args.log_level)).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
