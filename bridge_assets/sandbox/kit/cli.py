"""What every emulator's `python -m bridge_assets.sandbox.<name>` and `EmulatorSettings` share.

The command line is the contract with `serving.spawn_module`: it passes `--host`, `--port`,
`--state` and `--settings-json`, and reads back the first stdout line,
`<Name> emulator listening on http://HOST:PORT`. Options beyond those (`--seed`, `--time-scale`,
...) are the emulator's `EmulatorKind.options` (emulator.py).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from bridge_assets.sandbox.kit.serving import base_url_of, bind_loopback

S = TypeVar("S")


def add_server_arguments(parser: argparse.ArgumentParser, *, state_help: str) -> None:
    """--host, --port, --state (described by `state_help`), --settings-json and --settings-file."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--state", required=True, type=Path, help=state_help)
    parser.add_argument("--settings-json", default=None, help="EmulatorSettings as a JSON object")
    parser.add_argument("--settings-file", type=Path, default=None, help="EmulatorSettings in a JSON file")


def settings_from_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace, settings_type: type[S],
                            **overrides: Any) -> S:
    """The settings the command line asks for: --settings-file, then --settings-json over it, then
    `overrides` that are not None (options such as --time-scale).

    A setting that does not exist or does not validate is a usage error (exit status 2 with the
    reason), not a traceback.
    """
    values: dict = {}
    if args.settings_file:
        values.update(json.loads(args.settings_file.read_text()))
    if args.settings_json:
        values.update(json.loads(args.settings_json))
    values.update({name: value for name, value in overrides.items() if value is not None})
    try:
        return settings_type.from_mapping(values)
    except (TypeError, ValueError) as problem:
        parser.error(str(problem))


def announce_and_serve(app: Any, *, name: str, host: str, port: int, log_level: str,
                       config: Callable[[Any, str], uvicorn.Config]) -> None:
    """Bind, print `<name> emulator listening on http://HOST:PORT` (flushed), then serve until stopped.

    The line is printed after the socket is bound and before uvicorn starts: a parent that started
    the emulator on port 0 learns the URL from it, and a connection made at once waits in the listen
    backlog. `config(app, log_level)` is the emulator's `uvicorn_config`. uvicorn runs in the main
    thread here, so it handles SIGINT and SIGTERM itself and shuts down gracefully on either.
    """
    sock = bind_loopback(host, port)
    print(f"{name} emulator listening on {base_url_of(sock)}", flush=True)
    uvicorn.Server(config(app, log_level)).run(sockets=[sock])
