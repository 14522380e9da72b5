"""The commands of a deployment with many companies (runtime/companies.py): `bridge companies`, the
sample registry `bridge demo --companies N` starts with, the demo of every company at once, and the
workspace `bridge ui` serves (one code location per company).

Each company runs in a process of its own (`bridge --company KEY ...`): a process serves one company.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Iterator, Mapping

from bridge_assets.runtime.companies import (COMPANY_VARIABLE, Registry, RegistryError, enter_company, is_secret,
                                             load_registry)

# The commands that, with a registry and no company named, act on every company.
EVERY_COMPANY = {"demo", "ui", "companies"}


def settle_company(command: str, company: str | None) -> Registry | None:
    """Make this process the company named (--company, else BRIDGE_COMPANY) and return None; with a registry
    and no company named, return the registry for a command that acts on every company, or refuse."""
    company = company or os.environ.get(COMPANY_VARIABLE, "").strip() or None
    if company:
        enter_company(company)
        return None
    registry = load_registry()
    if registry is not None and command not in EVERY_COMPANY:
        raise RegistryError(f"{registry.path} names {len(registry.companies)} companies; say which one `bridge "
                            f"{command}` is for: bridge --company <key> {command} ... (one of {', '.join(registry.keys)})")
    return registry

# The sample companies of `bridge demo --companies N`: a dealer group's member companies.
SAMPLE_COMPANIES = (
    ("northside", "Northside Alarm & Monitoring (sandbox)"),
    ("harbor", "Harbor Security Systems (sandbox)"),
    ("summit", "Summit Fire & Life Safety (sandbox)"),
    ("valley", "Valley Integrated Security (sandbox)"),
    ("lakeshore", "Lakeshore Access Control (sandbox)"),
    ("prairie", "Prairie Guard Services (sandbox)"),
)


def write_sample_registry(path: Path, count: int) -> Path:
    """A registry of `count` sandbox companies at `path` (each its own home beside it); refuses to replace one."""
    if not 1 <= count <= len(SAMPLE_COMPANIES):
        raise RegistryError(f"--companies {count}: the sample registry has 1 to {len(SAMPLE_COMPANIES)} companies")
    if path.exists():
        raise RegistryError(f"{path} exists already; `bridge demo` runs its companies as they are "
                            "(remove it to start from a new sample registry)")
    lines = ["# The companies this deployment runs (README, \"Many companies\"). Written by `bridge demo --companies`.",
             "# Secrets never go here: set them in the environment as <KEY>__<SETTING>, e.g. NORTHSIDE__QBO_CLIENT_SECRET.",
             ""]
    for key, title in SAMPLE_COMPANIES[:count]:
        lines += [f"[company.{key}]", f'title = "{title}"', ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def describe(registry: Registry, environ: Mapping[str, str] | None = None) -> list[str]:
    """A line per company: key, title, home, destinations and which secrets the environment holds (names only)."""
    environ = os.environ if environ is None else environ
    out = [f"{len(registry.companies)} companies in {registry.path}:"]
    for company in registry.companies.values():
        settings = registry.environment(company.key, environ)
        secrets = sorted(name for name in settings if is_secret(name) and environ.get(company.variable_prefix + name))
        destinations = settings.get("BRIDGE_DESTINATIONS", "(default)")
        out.append(f"  {company.key}: {company.title}; home {company.home}; destinations {destinations}; "
                   f"secrets set: {', '.join(secrets) or 'none'}")
    return out


def cmd_companies(args: argparse.Namespace) -> int:
    try:
        registry = load_registry()
        if args.sample:
            home = Path(os.environ.get("BRIDGE_HOME", "var")).absolute()
            write_sample_registry(home / "companies.toml", args.sample)
            registry = load_registry()
    except RegistryError as problem:
        print(problem, file=sys.stderr)
        return 2
    if registry is None:
        print("No company registry: the bridge runs one company (BRIDGE_HOME). `bridge companies --sample 2` "
              "writes a registry of two sandbox companies; README, \"Many companies\", says how to write your own.")
        return 0
    print("\n".join(describe(registry)))
    return 0


def add_companies_command(sub) -> None:
    companies = sub.add_parser("companies", help="list the companies of the registry (or write a sample one)")
    companies.add_argument("--sample", type=int, metavar="N", help="write a registry of N sandbox companies first")
    companies.set_defaults(func=cmd_companies)


def demo_every_company(registry: Registry, demo_argv: Callable[[int], list[str]], seed: int) -> int:
    """`bridge --company KEY demo ...` for every company at once, each in its own process with its own
    sample book (`demo_argv(seed + its position)`: the demo's arguments), its own emulators and DuckDB file;
    their lines prefixed by the key."""
    processes = []
    for index, key in enumerate(registry.keys):
        command = [sys.executable, "-m", "bridge_assets.cli", "--company", key, *demo_argv(seed + index)]
        processes.append((key, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                                env={k: v for k, v in os.environ.items() if k != COMPANY_VARIABLE})))
    print(f"Running the demo for {len(processes)} companies at once: {', '.join(registry.keys)}", flush=True)
    readers = [threading.Thread(target=_relay, args=(key, process.stdout), daemon=True) for key, process in processes]
    for reader in readers:
        reader.start()
    try:
        codes = {key: process.wait() for key, process in processes}
    finally:
        for _, process in processes:
            if process.poll() is None:
                process.terminate()
    for reader in readers:
        reader.join(timeout=5)
    failed = [key for key, code in codes.items() if code]
    print(f"Every company's demo finished: {len(codes) - len(failed)} succeeded"
          + (f", {len(failed)} failed ({', '.join(failed)})" if failed else ""), flush=True)
    return max(codes.values(), default=0)


def _relay(key: str, stream: Iterator[str]) -> None:
    for line in stream:
        print(f"[{key}] {line}", end="", flush=True)


def write_workspace(registry: Registry, folder: Path) -> Path:
    """A Dagster workspace with one code location per company (bridge_assets/company_locations.py)."""
    lines = ["# One code location per company of " + str(registry.path) + " (written by `bridge ui`).", "load_from:"]
    for key in registry.keys:
        lines += ["  - python_module:", "      module_name: bridge_assets.company_locations",
                  f"      attribute: {key}", f"      location_name: {key}"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "workspace.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def company_environments(registry: Registry, start: Callable[[str], None]) -> dict[str, str]:
    """Run `start(key)` for each company inside that company's environment (a sandbox's emulators, which
    leave their URLs and keys in os.environ and keep running), and return what each changed as the
    company's own variables (<KEY>__<NAME>), which a process of the company reads back as its settings.
    os.environ is the deployment's again afterwards, plus those variables."""
    base = dict(os.environ)
    exported: dict[str, str] = {}
    try:
        for key in registry.keys:
            company_env = registry.environment(key, base)
            os.environ.clear()
            os.environ.update(company_env)
            start(key)
            prefix = registry.company(key).variable_prefix
            exported.update({prefix + name: value for name, value in os.environ.items()
                             if company_env.get(name) != value})
    finally:
        os.environ.clear()
        os.environ.update(base)
        os.environ.update(exported)
    return exported
