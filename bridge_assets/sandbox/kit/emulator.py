"""One emulator, described once: its name, module, app factory, settings and admin client.

From that description (`EmulatorKind`) come the three ways every emulator is started:

    run(state_path, settings)       in a thread of this process (tests), on a given or free loopback port
    spawn(state_path, settings)     as `python -m <module>` in its own process, which a test can kill -9
                                    and start again on the same state file (and port)
    main(argv)                      that `python -m <module>` itself: prints
                                    "<Name> emulator listening on http://HOST:PORT", serves until stopped

An emulator's `server.py` keeps only what is its own: the admin client's methods and the URLs its
handle offers. Its `create_app(state_path, settings=...)` returns a Starlette app whose
`state.emulator.store` is the SQLite state closed once the server has stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge_assets.sandbox.kit import cli, serving
from bridge_assets.sandbox.kit.faults import FaultInjector
from bridge_assets.sandbox.kit.limits import RateLimiter
from bridge_assets.sandbox.kit.state import SqliteState


@dataclasses.dataclass
class Parts:
    """The parts of one running emulator, reachable as `app.state.emulator` (for tests and tools)."""

    settings: Any
    store: SqliteState
    faults: FaultInjector
    auth: Any = None                    # who may call: the emulator's authenticator or OAuth provider
    throttle: RateLimiter | None = None


class EmulatorApp(Starlette):
    """The emulator as one ASGI app: its routes, its parts as `state.emulator`, and optionally an
    `outermost` layer around Starlette itself (QuickBooks' dropped-response gateway must sit outside
    Starlette's own error middleware, because it needs the server's raw `send` to abort the connection)."""

    def __init__(self, parts: Parts, routes: list, outermost: Callable[[ASGIApp], ASGIApp] | None = None) -> None:
        super().__init__(routes=routes)
        self.state.emulator = parts
        self._outermost = outermost(super().__call__) if outermost else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._outermost is None:
            await super().__call__(scope, receive, send)
        else:
            await self._outermost(scope, receive, send)


@dataclasses.dataclass
class EmulatorHandle:
    """A running emulator: where it listens, which file holds its state, its settings and admin client."""

    base_url: str
    state_path: Path
    settings: Any
    admin: serving.AdminHttpClient


class OAuthEndpoints:
    """The URLs of an emulator's OAuth 2.0 endpoints, for a handle that names their paths."""

    token_path: ClassVar[str]
    revoke_path: ClassVar[str]
    authorize_path: ClassVar[str]
    base_url: str

    @property
    def token_url(self) -> str:
        return self.base_url + self.token_path

    @property
    def revoke_url(self) -> str:
        return self.base_url + self.revoke_path

    @property
    def authorize_url(self) -> str:
        return self.base_url + self.authorize_path


def spawned_type(handle: type) -> type:
    """`handle` for an emulator in its own process: `process` and `log_path` added, and `alive`,
    `kill` (the crash a restart test plays) and `stop` from `serving.ChildProcessControl`."""
    spawned = dataclasses.make_dataclass(
        "SpawnedEmulator", [("process", subprocess.Popen | None, dataclasses.field(default=None)),
                            ("log_path", Path | None, dataclasses.field(default=None))],
        bases=(handle, serving.ChildProcessControl))
    spawned.__module__ = handle.__module__
    return spawned


@dataclasses.dataclass(frozen=True)
class Option:
    """One command-line option an emulator adds to --host/--port/--state/--settings-json."""

    flags: tuple[str, ...]
    options: Mapping[str, Any]


TIME_SCALE = Option(("--time-scale",), {"type": float, "default": None, "help": "60 makes a minute last a second"})


def seed_options(lines: int) -> tuple[Option, ...]:
    """--seed, --lines, --first-period, --months: the sample book to load at start."""
    return (Option(("--seed",), {"type": int, "default": None,
                                 "help": "load the sample book with this seed at start (replaces the state's)"}),
            Option(("--lines",), {"type": int, "default": lines, "help": "size of the sample book, in lines"}),
            Option(("--first-period",), {"default": "2026-08"}),
            Option(("--months",), {"type": int, "default": 3}))


def book_from_arguments(args: argparse.Namespace) -> Any:
    """The sample book the seed options ask for, or None without --seed."""
    if args.seed is None:
        return None
    from bridge_assets.sandbox.book import generate_book  # only needed when seeding

    return generate_book(args.seed, args.lines, args.first_period, args.months)


@dataclasses.dataclass(frozen=True)
class EmulatorKind:
    name: str                                   # as in "the QBO emulator did not start"
    module: str                                 # python -m <module>
    description: str                            # the command's --help line
    state_help: str                             # what the --state file holds
    create_app: Callable[..., Any]              # create_app(state_path, settings=...)
    settings_type: type                         # a dataclass with from_mapping / to_mapping
    admin_client: type[serving.AdminHttpClient]
    handle: type                                # an EmulatorHandle subclass
    spawned: type                               # spawned_type(handle)
    options: tuple[Option, ...] = ()
    overrides: tuple[str, ...] = ()             # options that override a setting of the same name
    prepare: Callable[[Any, argparse.Namespace, Any], None] | None = None  # (app, args, settings), e.g. seed
    uvicorn_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def uvicorn_config(self, app: Any, log_level: str = "warning") -> uvicorn.Config:
        return serving.uvicorn_config(app, log_level, **self.uvicorn_options)

    @contextlib.contextmanager
    def run(self, state_path: str | Path, settings: Any = None, *, host: str = "127.0.0.1",
            port: int = 0) -> Iterator[Any]:
        """The emulator in a background thread of this process; stops (and closes its file) on exit."""
        settings = settings or self.settings_type()
        app = self.create_app(state_path, settings=settings)
        thread_name = self.module.rsplit(".", 1)[-1].replace("_", "-") + "-emulator"
        with (
            serving.serve_in_thread(self.uvicorn_config(app), name=self.name, thread_name=thread_name, host=host,
                                    port=port, after_stop=app.state.emulator.store.close) as base_url,
            contextlib.closing(self.admin_client(base_url)) as admin,
        ):
            yield self.handle(base_url, Path(state_path), settings, admin)

    @contextlib.contextmanager
    def spawn(self, state_path: str | Path, settings: Any = None, *, host: str = "127.0.0.1", port: int = 0,
              startup_timeout: float = 30.0) -> Iterator[Any]:
        """The emulator as `python -m <module>` in its own process.

        Pass the `port` of a previous (killed) emulator to come back at the same URL. The child's log
        goes to `<state_path>.log`.
        """
        settings = settings or self.settings_type()
        state_path = Path(state_path)

        def make_handle(base_url: str, process: subprocess.Popen, log_path: Path) -> Any:
            return self.spawned(base_url, state_path, settings, self.admin_client(base_url), process, log_path)

        with serving.spawn_module(self.module, name=self.name, state_path=state_path,
                                  settings=settings.to_mapping(), make_handle=make_handle, host=host, port=port,
                                  startup_timeout=startup_timeout) as handle:
            yield handle

    def main(self, argv: list[str] | None = None) -> int:
        """`python -m <module> --host --port --state [--settings-json|--settings-file] [options]`."""
        parser = argparse.ArgumentParser(prog=f"python -m {self.module}", description=self.description)
        cli.add_server_arguments(parser, state_help=self.state_help)
        for option in self.options:
            parser.add_argument(*option.flags, **option.options)
        parser.add_argument("--log-level", default="warning")
        args = parser.parse_args(argv)
        overrides = {name: getattr(args, name) for name in self.overrides}
        settings = cli.settings_from_arguments(parser, args, self.settings_type, **overrides)
        app = self.create_app(args.state, settings=settings)
        if self.prepare is not None:
            self.prepare(app, args, settings)
        cli.announce_and_serve(app, name=self.name, host=args.host, port=args.port, log_level=args.log_level,
                               config=self.uvicorn_config)
        return 0
