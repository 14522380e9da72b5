"""The commands the README gives: `bridge demo`, `bridge ui`, `bridge summary`, `bridge revert`
(commands/revert.py), `bridge held` (commands/held.py), `bridge reread`, `bridge webhooks`,
`bridge servicetrade-webhooks`.

`demo` runs the real code path on the embedded defaults: it generates a sample alarm-company book,
drops its export files into the watched inbox, materializes every asset for those billing periods in
one run, and prints what happened. Running it again posts nothing new.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Iterator

from bridge_assets.commands.stopping import stop_group, stop_on_signals
from bridge_assets.commands.summary import print_summary
from bridge_assets.runtime.environment import temporary_environment
from bridge_assets.runtime.settings import BridgeSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _dagster_home(settings: BridgeSettings) -> Path:
    """Instance storage beside the bridge's own files, configured by the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.home / "dagster_home").absolute()
    home.mkdir(parents=True, exist_ok=True)
    source = PROJECT_ROOT / "dagster.yaml"
    if source.exists() and not (home / "dagster.yaml").exists():
        shutil.copy(source, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


SANDBOX_CLIENT_ID = "bridge-sandbox-app"
# Not a secret: the key of the local emulator's sandbox app, the same on every machine.
SANDBOX_CLIENT_SECRET = "bridge-sandbox-app-key"
SANDBOX_TIME_SCALE = "10"
DEMO_SEED, DEMO_LINES, DEMO_FIRST_PERIOD, DEMO_MONTHS = 7, 5_000, "2026-08", 3


@contextlib.contextmanager
def quickbooks_sandbox(settings: BridgeSettings) -> Iterator[str | None]:
    """Unless real QuickBooks Online keys are configured (QBO_CLIENT_ID), start the QuickBooks Online
    emulator for the length of the command and point the bridge at it: a company that persists in
    `$BRIDGE_HOME/sandbox/`, tokens minted without a browser, limits at a 10x time scale (so the demo
    takes seconds, not minutes), and `qbo` added to the destinations unless BRIDGE_DESTINATIONS is set. The emulators of the other destinations
    BRIDGE_DESTINATIONS names start too, each unless its own account is configured (sandbox/destinations.py)."""
    with _quickbooks_online_sandbox(settings) as emulator, _other_platform_sandboxes(settings):
        yield emulator


@contextlib.contextmanager
def _other_platform_sandboxes(settings: BridgeSettings) -> Iterator[None]:
    """The emulators of the other named destinations (sandbox/destinations.py), pointed at for the block."""
    from bridge_assets.sandbox.destinations import platform_sandboxes

    with platform_sandboxes(settings.home / "sandbox") as started:
        values: dict[str, str] = {}
        for label, base_url, environment in started:
            print(f"{label} (sandbox, no account needed) at {base_url}")
            values.update(environment)
        with temporary_environment(values):
            yield


@contextlib.contextmanager
def _quickbooks_online_sandbox(settings: BridgeSettings) -> Iterator[str | None]:
    if os.environ.get("QBO_CLIENT_ID"):
        yield None
        return
    from bridge_assets.sandbox.qbo import EmulatorSettings, spawn_emulator

    folder = settings.home / "sandbox"
    folder.mkdir(parents=True, exist_ok=True)
    emulator_settings = EmulatorSettings(
        clients={SANDBOX_CLIENT_ID: SANDBOX_CLIENT_SECRET}, refresh_token_rotation="daily",
        time_scale=float(SANDBOX_TIME_SCALE), **_sandbox_webhooks(),
    )
    with spawn_emulator(folder / "qbo_company.sqlite3", emulator_settings) as qbo:
        realm_file = folder / "qbo_realm_id.txt"
        if realm_file.exists():
            realm = realm_file.read_text().strip()
        else:
            realm = qbo.admin.create_company(company_name="Sample Alarm Co (sandbox)")
            realm_file.write_text(realm)
        store = settings.home / "secrets" / "qbo_tokens.json"
        values = {
            "QBO_BASE_URL": qbo.base_url, "QBO_REALM_ID": realm, "QBO_TOKEN_URL": qbo.token_url,
            "QBO_CLIENT_ID": SANDBOX_CLIENT_ID, "QBO_CLIENT_SECRET": SANDBOX_CLIENT_SECRET,
            "QBO_TIME_SCALE": SANDBOX_TIME_SCALE, "QBO_TOKEN_STORE": str(store),
        }
        if not store.exists():
            values["QBO_REFRESH_TOKEN"] = qbo.admin.mint_tokens(realm, client_id=SANDBOX_CLIENT_ID)["refresh_token"]
        if not os.environ.get("BRIDGE_DESTINATIONS"):
            values["BRIDGE_DESTINATIONS"] = "qbo,staging_csv,qbd_iif,qbd_webconnector"
        with temporary_environment(values):
            yield qbo.base_url


# The sandbox ServiceTrade account is the company's service department: a smaller book of its own.
SERVICETRADE_BOOK_SEED_OFFSET = 1000
SERVICETRADE_BOOK_SHARE = 10


@contextlib.contextmanager
def source_sandboxes(settings: BridgeSettings, *, seed: int, lines: int, first_period: str,
                     months: int) -> Iterator[list[str]]:
    """Unless a real tenant is configured (SEDONA_API_BASE_URL, SERVICETRADE_BASE_URL), start the
    SedonaAPI 2.0 and ServiceTrade emulators for the length of the command and point the bridge at them.

    SedonaAPI serves the same book as the export files (so both paths meet on the same canonical
    documents, and its payments flow too); ServiceTrade holds the service department's own invoices,
    waiting in `pending_accounting`. Each emulator keeps its state in `$BRIDGE_HOME/sandbox/` and is
    seeded once, so edits made to it between runs (a deleted or voided invoice) are seen by the bridge."""
    from bridge_assets.sandbox.book import generate_book

    folder = settings.home / "sandbox"
    folder.mkdir(parents=True, exist_ok=True)
    started: list[str] = []
    with contextlib.ExitStack() as stack:
        values: dict[str, str] = {}
        if not os.environ.get("SEDONA_API_BASE_URL"):
            from bridge_assets.sandbox.sedona_api import spawn_emulator as spawn_sedona

            sedona = stack.enter_context(spawn_sedona(folder / "sedona_api.sqlite3"))
            if not sedona.admin.records("Customer"):
                sedona.admin.seed_book(generate_book(seed=seed, lines=lines, first_period=first_period, months=months),
                                       open_periods=months)
            values.update(sedona.client_environment())
            started.append(f"SedonaAPI 2.0 emulator at {sedona.base_url}")
        if not os.environ.get("SERVICETRADE_BASE_URL"):
            from bridge_assets.sandbox.servicetrade import spawn_emulator as spawn_servicetrade

            servicetrade = stack.enter_context(spawn_servicetrade(folder / "servicetrade.sqlite3",
                                                                  _servicetrade_sandbox_settings()))
            if not servicetrade.admin.invoices():
                servicetrade.admin.seed_book(generate_book(
                    seed=seed + SERVICETRADE_BOOK_SEED_OFFSET, lines=max(30, lines // SERVICETRADE_BOOK_SHARE),
                    first_period=first_period, months=months))
            values.update({"SERVICETRADE_BASE_URL": servicetrade.api_url, "SERVICETRADE_USERNAME": "bridge",
                           "SERVICETRADE_PASSWORD": "bridge-sandbox-password"})
            started.append(f"ServiceTrade emulator at {servicetrade.base_url}")
        stack.enter_context(temporary_environment(values))
        yield started


def _sandbox_webhooks() -> dict:
    """With QBO_WEBHOOK_VERIFIER_TOKEN set, the emulator signs and sends change notifications to the
    receiver `bridge webhooks` serves, as Intuit would (BRIDGE_WEBHOOK_URL to send them elsewhere)."""
    if not os.environ.get("QBO_WEBHOOK_VERIFIER_TOKEN", "").strip():
        return {}
    port = os.environ.get("BRIDGE_WEBHOOK_PORT", "8710")
    # The token itself stays in the environment the emulator inherits, never on its command line.
    return {"webhook_url": os.environ.get("BRIDGE_WEBHOOK_URL") or f"http://127.0.0.1:{port}/webhooks/quickbooks"}


def _servicetrade_sandbox_settings():
    """With SERVICETRADE_WEBHOOK_SECRET set, the emulator sends its webhook messages to the receiver
    `bridge servicetrade-webhooks` serves (BRIDGE_SERVICETRADE_WEBHOOK_PORT, 8711), as ServiceTrade would.
    The secret stays in the environment the emulator inherits: its command line names only the variable."""
    from bridge_assets.sandbox.servicetrade import EmulatorSettings

    if not os.environ.get("SERVICETRADE_WEBHOOK_SECRET", "").strip():
        return EmulatorSettings()
    port = os.environ.get("BRIDGE_SERVICETRADE_WEBHOOK_PORT", "8711")
    return EmulatorSettings(webhook_url=f"http://127.0.0.1:{port}/webhooks/servicetrade/{{SERVICETRADE_WEBHOOK_SECRET}}")


def drop_sample_exports(settings: BridgeSettings, *, seed: int, lines: int, first_period: str, months: int,
                        defects: tuple[str, ...] = ()) -> list[Path]:
    """Generate the book and place its files in the inbox the way a careful copier does: under a
    temporary name first, then renamed into place (so the watcher never sees half a file)."""
    from bridge_assets.sandbox.book import generate_book
    from bridge_assets.sandbox.export_writer import write_exports

    book = generate_book(seed=seed, lines=lines, first_period=first_period, months=months)
    staging = settings.work / "generated"
    if staging.exists():
        shutil.rmtree(staging)
    written = write_exports(book, staging, defects=defects)
    settings.inbox.mkdir(parents=True, exist_ok=True)
    dropped = []
    for path in written:
        part = settings.inbox / (path.name + ".part")
        shutil.copyfile(path, part)
        target = settings.inbox / path.name
        part.replace(target)
        dropped.append(target)
    return dropped


def run_periods(settings: BridgeSettings, first: str, last: str, files: list[Path] | None = None, reread: bool = False):
    """One run of the whole job over a range of billing periods (a single-run backfill)."""
    import dagster as dg

    from bridge_assets.definitions import build_definitions
    from bridge_assets.defs.dead_runs import in_process_run
    from bridge_assets.defs.decorators import op_name
    from bridge_assets.defs.sensors import RANGE_END, RANGE_START

    _dagster_home(settings)
    defs = build_definitions(settings.home)
    job = defs.resolve_job_def("bridge_job")
    run_config = {
        "ops": {op_name("sedona_export_lines"): {"config": {"files": [str(f) for f in files or []], "min_age_seconds": 0,
                                                   "reread": reread}}},
        # Progress and problems on the terminal; the step-by-step engine events stay in the UI.
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }
    run_id, process = in_process_run()     # the run names this process, so a kill at any moment is found dead
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(
            instance=instance, run_config=run_config, run_id=run_id,
            tags={RANGE_START: first, RANGE_END: last, **process}, raise_on_error=False,
        )


def _period_range(first: str, months: int) -> list[str]:
    year, month = map(int, first.split("-"))
    out = []
    for i in range(months):
        y, m = divmod(month - 1 + i, 12)
        out.append(f"{year + y:04d}-{m + 1:02d}")
    return out


def cmd_demo(args: argparse.Namespace) -> int:
    stop_on_signals()
    if args.registry is not None or args.companies:
        return _demo_every_company(args)
    try:
        return _demo_with_sandboxes(args)
    except KeyboardInterrupt as stop:
        print(f"bridge demo stopped ({stop.args[0] if stop.args else 'SIGINT'}): the emulators it started are stopped; "
              "the run, if one had begun, is marked failed and the next run settles what it left in flight.", flush=True)
        return 130


def _demo_every_company(args: argparse.Namespace) -> int:
    """With a company registry (or --companies N, which writes a sample one): every company at once, each its
    own process, book, emulators and DuckDB file, on the deployment's one Dagster instance."""
    from bridge_assets.commands.companies import demo_every_company, write_sample_registry
    from bridge_assets.runtime.companies import load_registry

    registry = args.registry
    if registry is None:
        write_sample_registry(BridgeSettings.from_env().home / "companies.toml", args.companies)
        registry = load_registry()
    _dagster_home(BridgeSettings.from_env())
    import dagster as dg

    with dg.DagsterInstance.get():      # its storage made once, here: the companies' processes would race to
        pass                            # create the same tables (two alembic heads in one runs.db)
    return demo_every_company(registry, lambda seed: _demo_argv(args, seed), args.seed)


def _demo_argv(args: argparse.Namespace, seed: int) -> list[str]:
    """The arguments of one company's `bridge demo`, with its own seed."""
    defects = [part for defect in args.defect or () for part in ("--defect", defect)]
    return ["demo", "--seed", str(seed), "--lines", str(args.lines), "--first-period", args.first_period,
            "--months", str(args.months), *defects]


def _demo_with_sandboxes(args: argparse.Namespace) -> int:
    settings = BridgeSettings.from_env()
    settings.folders.create()
    with quickbooks_sandbox(settings) as emulator, source_sandboxes(
            settings, seed=args.seed, lines=args.lines, first_period=args.first_period, months=args.months) as sources:
        if emulator:
            print(f"QuickBooks Online emulator (sandbox company, no Intuit account needed) at {emulator}")
        for line in sources:
            print(line)
        return _demo(args, BridgeSettings.from_env())


def _demo(args: argparse.Namespace, settings: BridgeSettings) -> int:
    periods = _period_range(args.first_period, args.months)
    # The demo's periods are billing periods of this process whatever the data holds so far (canonical/periods.py).
    os.environ.setdefault("BRIDGE_FIRST_PERIOD", min(periods[0], _first_period_now(settings)))
    print(f"Generating a sample alarm-company book (seed {args.seed}, about {args.lines} lines, {periods[0]} to {periods[-1]})")
    dropped = drop_sample_exports(settings, seed=args.seed, lines=args.lines, first_period=args.first_period,
                                  months=args.months, defects=tuple(args.defect or ()))
    print(f"Dropped {len(dropped)} export file(s) into {settings.inbox}")
    print(f"Materializing every asset for {periods[0]}..{periods[-1]} in one run (destinations: {', '.join(settings.destinations)})")
    result = run_periods(settings, periods[0], periods[-1], files=dropped)
    failed_checks = [
        e.asset_check_evaluation_data for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.asset_check_evaluation_data.passed
    ]
    for check in failed_checks:
        severity = ("blocking check failed" if check.blocking else "check failed") \
            if check.severity.value == "ERROR" else "warning"
        print(f"  {severity}: {check.check_name}: {check.description}")
    print_summary(settings, periods, result.run_id, run_succeeded=result.success)
    company = f"--company {os.environ['BRIDGE_COMPANY']} " if os.environ.get("BRIDGE_COMPANY") else ""
    print(f"\nRun id {result.run_id} (`bridge {company}revert --run {result.run_id}` previews undoing it)")
    if not result.success:
        print(f"\nThe run did not finish (run id {result.run_id}); open the UI (`bridge ui`) to see which step failed and why.")
        return 1
    return 0


def _first_period_now(settings: BridgeSettings) -> str:
    from bridge_assets.canonical.periods import first_period

    return first_period(settings)


def cmd_reread(args: argparse.Namespace) -> int:
    """Read one archived file again under the current configuration and run the periods it touches."""
    from bridge_assets.sources.sedona_export import intake
    from bridge_assets.sources.sedona_export import reread
    from bridge_assets.sources.sedona_export.parser import AliasTable, ExportFileRefused
    from bridge_assets.runtime.storage import Database

    settings = BridgeSettings.from_env()
    try:
        with Database(settings.database_path).connect() as con:
            intake.ensure_schema(con)
            found = reread.find(con, args.file)
        aliases = AliasTable.from_toml(settings.header_aliases_file)
        _, periods = intake.periods_in(found.archived_as, aliases, settings.work, name=found.file_name)
    except (reread.RereadError, ExportFileRefused, ValueError) as problem:
        print(f"Nothing was read again: {problem}", file=sys.stderr)
        return 2
    periods = sorted(set(periods) | set(found.periods))
    print(f"Reading {found.file_name} (archived as {found.archived_as}) again for {', '.join(periods)}")
    with quickbooks_sandbox(settings):
        result = run_periods(BridgeSettings.from_env(), periods[0], periods[-1], files=[found.archived_as], reread=True)
    print_summary(settings, periods, result.run_id, run_succeeded=result.success)
    return 0 if result.success else 1


def cmd_summary(args: argparse.Namespace) -> int:
    settings = BridgeSettings.from_env()
    print_summary(settings, _period_range(args.first_period, args.months))
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    """`dagster dev` on the same defaults (and the same QuickBooks Online emulator as `demo`), sensor and
    schedule running. Started in its own session with SIGINT at its default, so stopping it (Ctrl-C or
    SIGTERM) stops the webserver and daemon too, then the emulators, and says so."""
    stop_on_signals()
    settings = BridgeSettings.from_env()
    settings.folders.create()
    try:
        if args.registry is not None:
            return _ui_every_company(args, args.registry)
        with quickbooks_sandbox(settings) as emulator, source_sandboxes(
                settings, seed=DEMO_SEED, lines=DEMO_LINES, first_period=DEMO_FIRST_PERIOD, months=DEMO_MONTHS) as sources:
            if emulator:
                print(f"QuickBooks Online emulator (sandbox company) at {emulator}")
            for line in sources:
                print(line)
            return _ui(args, settings)
    except KeyboardInterrupt as stop:
        print(f"bridge ui stopped ({stop.args[0] if stop.args else 'SIGINT'}): webserver, daemon and emulators are "
              "stopped.", flush=True)
        return 130


def _ui_every_company(args: argparse.Namespace, registry) -> int:
    """One code location per company on one instance, each company's emulators started in its own environment
    (its own sandbox folder, sample book and QuickBooks company), their settings handed on as <KEY>__<NAME>."""
    from bridge_assets.commands.companies import company_environments, write_workspace
    from bridge_assets.commands.webconnector import ServiceNotStarted, beside_ui

    with contextlib.ExitStack() as stack:
        def start(key: str) -> None:
            company = BridgeSettings.from_env()
            company.folders.create()
            stack.enter_context(quickbooks_sandbox(company))
            stack.enter_context(beside_ui(company))    # its Web Connector service, on its own port
            for line in stack.enter_context(source_sandboxes(company, seed=DEMO_SEED + registry.keys.index(key),
                                                             lines=DEMO_LINES, first_period=DEMO_FIRST_PERIOD,
                                                             months=DEMO_MONTHS)):
                print(f"[{key}] {line}")
            print(f"[{key}] inbox {company.inbox}; DuckDB file {company.database_path}")
        try:
            company_environments(registry, start)
        except ServiceNotStarted as problem:
            print(problem, file=sys.stderr)
            return 2
        settings = BridgeSettings.from_env()
        return _ui(args, settings, write_workspace(registry, _dagster_home(settings)), companies_serve=True)


def _ui(args: argparse.Namespace, settings: BridgeSettings, workspace: Path = PROJECT_ROOT / "workspace.yaml",
        companies_serve: bool = False) -> int:
    """`dagster dev` on `workspace`; the Web Connector's service beside it, unless each company serves its own
    (`companies_serve`: started by `_ui_every_company`)."""
    _dagster_home(settings)
    command = [str(Path(sys.executable).with_name("dagster")), "dev", "-w", str(workspace),
               "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port}  (inbox: {settings.inbox}; Ctrl-C stops it)")
    from bridge_assets.commands.webconnector import beside_ui

    with contextlib.nullcontext() if companies_serve else beside_ui(settings):   # QuickBooks Desktop's Web Connector
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, start_new_session=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            return process.wait()
        finally:
            stop_group(process)


def cmd_webhooks(args: argparse.Namespace) -> int:
    """Serve the QuickBooks Online webhook receiver (see bridge_assets/destinations/qbo/webhooks.py)."""
    from bridge_assets.destinations.qbo import webhooks

    return _serve_receiver(webhooks, args)


def cmd_servicetrade_webhooks(args: argparse.Namespace) -> int:
    """Serve the ServiceTrade webhook receiver (see bridge_assets/sources/servicetrade/webhooks.py)."""
    from bridge_assets.sources.servicetrade import webhooks

    return _serve_receiver(webhooks, args)


def _serve_receiver(webhooks, args: argparse.Namespace) -> int:
    """A webhook receiver module's `serve` until Ctrl-C; a missing setting is said and exits 2."""
    try:
        webhooks.serve(BridgeSettings.from_env().home, args.host, args.port)
    except webhooks.WebhookSettingMissing as problem:
        print(problem, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", category=Warning, module="dagster")
    parser = argparse.ArgumentParser(prog="bridge", description=__doc__.splitlines()[0])
    parser.add_argument("--company", help="the company of the registry this command is for (BRIDGE_COMPANY)")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="generate a sample book, drop its exports, run every asset, print a summary")
    demo.add_argument("--seed", type=int, default=DEMO_SEED)
    demo.add_argument("--lines", type=int, default=DEMO_LINES)
    demo.add_argument("--first-period", default=DEMO_FIRST_PERIOD)
    demo.add_argument("--months", type=int, default=DEMO_MONTHS)
    demo.add_argument("--defect", action="append", help="add a realistic defect (renamed_column, bad_amount, ...)")
    demo.add_argument("--companies", type=int, metavar="N", help="without a registry, write one of N sample companies; "
                                                                 "with a registry, every company runs at once")
    demo.set_defaults(func=cmd_demo)
    summary = sub.add_parser("summary", help="print documents per state and totals per period")
    summary.add_argument("--first-period", default="2026-08")
    summary.add_argument("--months", type=int, default=3)
    summary.set_defaults(func=cmd_summary)
    ui = sub.add_parser("ui", help="open the Dagster UI with the sensor and schedule running")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)
    from bridge_assets.commands.revert import add_revert_command

    add_revert_command(sub, quickbooks_sandbox)
    from bridge_assets.commands.held import add_held_command

    add_held_command(sub)
    again = sub.add_parser("reread", help="read one archived export file again (after changing the header alias "
                                          "table), then run its periods; nothing is posted twice")
    again.add_argument("file", help="the archived file (path or name) or the first characters of its sha256")
    again.set_defaults(func=cmd_reread)
    hooks = sub.add_parser("webhooks", help="receive QuickBooks Online webhooks (signed with QBO_WEBHOOK_VERIFIER_TOKEN) "
                                            "and request mirror refreshes")
    hooks.add_argument("--host", default=os.environ.get("BRIDGE_WEBHOOK_HOST", "127.0.0.1"))
    hooks.add_argument("--port", type=int, default=int(os.environ.get("BRIDGE_WEBHOOK_PORT", "8710")))
    hooks.set_defaults(func=cmd_webhooks)
    st_hooks = sub.add_parser("servicetrade-webhooks", help="receive ServiceTrade webhook messages (on the hook URL "
                                                            "holding SERVICETRADE_WEBHOOK_SECRET) and request runs")
    st_hooks.add_argument("--host", default=os.environ.get("BRIDGE_WEBHOOK_HOST", "127.0.0.1"))
    st_hooks.add_argument("--port", type=int, default=int(os.environ.get("BRIDGE_SERVICETRADE_WEBHOOK_PORT", "8711")))
    st_hooks.set_defaults(func=cmd_servicetrade_webhooks)
    from bridge_assets.commands.webconnector import add_webconnector_command

    add_webconnector_command(sub)
    from bridge_assets.commands.companies import add_companies_command, settle_company
    from bridge_assets.runtime.companies import RegistryError

    add_companies_command(sub)
    args = parser.parse_args(argv)
    try:
        args.registry = settle_company(args.command, args.company)
    except RegistryError as problem:
        print(problem, file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
