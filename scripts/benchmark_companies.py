"""Benchmark: four companies posting to QuickBooks Online at once, against one company alone.

One QuickBooks Online emulator (one Intuit, its own process, Intuit's limits per company: 500 requests and
40 batch requests a minute, 10 at a time) holds a QuickBooks company (realm) per bridge company. A company
registry (runtime/companies.py) names the bridge companies, each with its own home and DuckDB ledger, its
realm (QBO_REALM_ID) and document number prefix in the file, its secrets as <KEY>__QBO_CLIENT_SECRET and
<KEY>__QBO_REFRESH_TOKEN in the environment. Each company runs in a process of its own, as the run queue
runs a company's run: `enter_company(key)`, then its own sample month (another seed, the same size)
received, mapped and planned, customers and items found or created before the clock, then
`posting.execute_plan` through `QboDestination.from_env` when told to go.

(a) one company (`solo`, the first company's book in a realm of its own) posts alone: the baseline,
    documents per emulated minute;
(b) four companies post at once: total documents / (last finish - first start), and each company's own.

Prints each figure, total/one (target: at least 3x), the requests and 429s in the emulator's journal while
posting, in all and per company (target: 429s at most 1% of requests), and each company's ledger check:
every document it posted is in its own realm exactly once (posted in its ledger == distinct DocNumbers read
back in its realm == documents there) and none of another company's numbers is in its realm.

Measured on this project's 2-core machine shared with three other sessions (the defaults: --lines 2000, 780 to
811 documents a company, --time-scale 2; four runs, load average 3.7 to 6.2): one company alone 1,058 to 1,072
documents/min (at the ceiling of 40 batches a minute), four at once 3,433 to 4,126 in total (3.2 to 3.9x),
255 requests and no 429 while posting (93 before the clock, no 429), every ledger check ok; the whole script
70 to 76 s. Each company's posting takes about 0.1 s of CPU a batch (two DuckDB opens of ~15 ms each, the
content hash check, the ledger's frames, the JSON) and the emulator about 15 ms a request, so four companies
need about 0.7 of a core at 2x: at 6x (two cores' worth) the same run measured 1.6x (1.0x under --profile, load 8 to 10), limited by the
machine, not by the limits or the pacing (`--profile` shows where each company's time goes).
Run: .venv/bin/python scripts/benchmark_companies.py [--lines 2000] [--time-scale 2] [--seed 11] [--keep DIR]
     [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_kit import CLIENT_ID, CLIENT_SECRET, PERIOD, emulated_minutes, journal_counts, prepare

import duckdb

from bridge_assets.destinations.qbo.adapter import QboDestination
from bridge_assets.ledger import posting
from bridge_assets.runtime.companies import REGISTRY_VARIABLE, Registry, enter_company, load_registry
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.sandbox.qbo import EmulatorSettings, SpawnedEmulator, spawn_emulator

SCRIPT = Path(__file__).resolve()
BASELINE = "solo"
COMPANIES = ("northside", "harbor", "summit", "valley")
SAID = "BENCHMARK "          # a child's answers on stdout start with this; anything else there is passed over
TARGET_RATIO, TARGET_THROTTLED = 3.0, 0.01


@dataclasses.dataclass(frozen=True)
class StandUp:
    registry: Registry
    realms: dict[str, str]
    environment: dict[str, str]       # the deployment's environment: the registry and each company's secrets


def stand_up(emulator: SpawnedEmulator, work: Path, keys: list[str], time_scale: float) -> StandUp:
    """A realm per company in the emulator and a registry naming them; secrets only in the environment."""
    lines = ["[defaults]", 'BRIDGE_DESTINATIONS = "qbo"', f'QBO_CLIENT_ID = "{CLIENT_ID}"',
             f'QBO_BASE_URL = "{emulator.base_url}"', f'QBO_TOKEN_URL = "{emulator.token_url}"',
             f'QBO_TIME_SCALE = "{time_scale:g}"', ""]
    realms, grants = {}, {}
    for key in keys:
        realms[key] = emulator.admin.create_company(company_name=f"{key.title()} (benchmark)")
        grants[key] = emulator.admin.mint_tokens(realms[key], client_id=CLIENT_ID)["refresh_token"]
        lines += [f"[company.{key}]", f'QBO_REALM_ID = "{realms[key]}"',
                  f'BRIDGE_SEDONA_DOC_PREFIX = "{key[:2].upper()}-"', ""]
    path = work / "companies.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    registry = load_registry({REGISTRY_VARIABLE: str(path)})
    environment = {REGISTRY_VARIABLE: str(path)}
    for key in keys:
        prefix = registry.company(key).variable_prefix
        environment.update({prefix + "QBO_CLIENT_SECRET": CLIENT_SECRET, prefix + "QBO_REFRESH_TOKEN": grants[key]})
    return StandUp(registry, realms, environment)


# --- one company's process -----------------------------------------------------------------------

def _say(message: dict) -> None:
    print(SAID + json.dumps(message), flush=True)


def company_process(key: str, lines: int, seed: int, profile: bool = False) -> int:
    """What one company's process does: its book into its own home, then post when the parent says go."""
    enter_company(key)
    settings = BridgeSettings.from_env()
    db, documents = prepare(settings, settings.work / "exports", lines, seed)
    destination = QboDestination.from_env(settings)
    problems = destination.resolve_references(documents)
    if problems:
        raise SystemExit(f"{key}: customers or items failed: {list(problems.values())[:3]}")
    _say({"ready": len(documents), "database": str(settings.database_path)})
    if sys.stdin.readline().strip() != "go":
        return 1
    profiler = cProfile.Profile() if profile else None
    cpu, started = time.process_time(), time.time()
    if profiler:
        profiler.enable()
    report = posting.execute_plan(db, destination, [PERIOD], f"benchmark-{key}")
    finished = time.time()
    if profiler:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    destination.close()
    _say({"documents": len(documents), "outcomes": report.outcomes, "failures": report.failures[:3],
          "started": started, "finished": finished, "cpu": time.process_time() - cpu})
    return 0


# --- the parent: start the companies' processes, let them go, read what they did --------------------

class Companies:
    """Each company's process (this script with --child KEY), prepared and waiting for the word."""

    def __init__(self, setup: StandUp, work: Path, lines: int, seeds: dict[str, int], profile: bool = False) -> None:
        self.setup = setup
        self.logs = {key: work / f"{key}.log" for key in seeds}
        self.processes: dict[str, subprocess.Popen] = {}
        try:
            for key, seed in seeds.items():
                self.processes[key] = self._start(key, lines, seed, profile)
            self.ready = {key: self._answer(key) for key in self.processes}
        except BaseException:
            self.close()
            raise

    def _start(self, key: str, lines: int, seed: int, profile: bool) -> subprocess.Popen:
        command = [sys.executable, str(SCRIPT), "--child", key, "--lines", str(lines), "--seed", str(seed)]
        with self.logs[key].open("w") as log:
            return subprocess.Popen(command + (["--profile"] if profile else []), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=log, text=True,
                                    env={**os.environ, **self.setup.environment})

    def _answer(self, key: str) -> dict:
        process = self.processes[key]
        for line in process.stdout:
            if line.startswith(SAID):
                return json.loads(line[len(SAID):])
        process.wait()
        tail = self.logs[key].read_text(encoding="utf-8", errors="replace")[-2000:]
        raise SystemExit(f"company {key}'s process ended ({process.returncode}) without answering:\n{tail}")

    def post(self, keys: list[str], emulator: SpawnedEmulator) -> dict[str, dict]:
        """Tell `keys` to post at once; each one's answer with its requests and 429s from the journal."""
        before = {key: len(emulator.admin.journal(self.setup.realms[key])) for key in keys}
        for key in keys:
            self.processes[key].stdin.write("go\n")
            self.processes[key].stdin.flush()
        results = {key: self._answer(key) for key in keys}
        for key in keys:
            journal = emulator.admin.journal(self.setup.realms[key])
            results[key].update(journal_counts(journal[before[key]:]), set_up=journal_counts(journal[:before[key]]))
            self.processes[key].wait()
        return results

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            for stream in (process.stdin, process.stdout):
                stream.close()


def ledger_check(emulator: SpawnedEmulator, setup: StandUp, databases: dict[str, str]) -> dict[str, dict]:
    """Per company: documents posted in its ledger, DocNumbers in its realm (all, distinct), whether the two
    sets are the same, and how many of the other companies' posted numbers its realm holds."""
    posted = {}
    for key, database in databases.items():
        with duckdb.connect(database, read_only=True) as con:
            posted[key] = [n for n, in con.execute(
                "SELECT doc_number FROM ledger_postings WHERE destination = 'qbo' AND state = 'posted'").fetchall()]
    checks = {}
    for key in databases:
        realm = setup.realms[key]
        numbers = [doc.get("DocNumber") for entity in ("Invoice", "CreditMemo")
                   for doc in emulator.admin.dump(realm, entity)]
        others = {n for other, listed in posted.items() if other != key for n in listed}
        checks[key] = {"posted": len(posted[key]), "in_realm": len(numbers), "distinct": len(set(numbers)),
                       "same": set(posted[key]) == set(numbers), "foreign": len(others & set(numbers))}
        checks[key]["ok"] = (checks[key]["same"] and checks[key]["foreign"] == 0
                             and checks[key]["posted"] == checks[key]["distinct"] == checks[key]["in_realm"])
    return checks


# --- figures -------------------------------------------------------------------------------------

def rate(documents: int, seconds: float, time_scale: float) -> float:
    return documents / emulated_minutes(seconds, time_scale)


def summarize(results: dict[str, dict], time_scale: float) -> dict:
    """Documents, the span from the first start to the last finish, the total rate, requests and 429s."""
    documents = sum(r["documents"] for r in results.values())
    span = max(r["finished"] for r in results.values()) - min(r["started"] for r in results.values())
    requests = sum(r["requests"] for r in results.values())
    throttled = sum(r["throttled"] for r in results.values())
    return {"documents": documents, "seconds": span, "rate": rate(documents, span, time_scale),
            "requests": requests, "throttled": throttled, "throttled_share": throttled / max(requests, 1),
            "set_up_requests": sum(r["set_up"]["requests"] for r in results.values()),
            "set_up_throttled": sum(r["set_up"]["throttled"] for r in results.values())}


def describe(key: str, result: dict, time_scale: float) -> str:
    seconds = result["finished"] - result["started"]
    failures = f"; failures {result['failures']}" if result["failures"] else ""
    return (f"  {key}: {result['outcomes']} in {seconds:.1f} s = {emulated_minutes(seconds, time_scale):.2f} emulated "
            f"min -> {rate(result['documents'], seconds, time_scale):,.0f} documents/min; {result['requests']} "
            f"requests ({result['batches']} batches), {result['throttled']} 429s; {result['cpu']:.1f} s CPU{failures}")


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (Linux); 0 where there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_post(companies: Companies, keys: list[str], emulator: SpawnedEmulator) -> dict[str, dict]:
    """`Companies.post`, with the emulator's CPU seconds meanwhile under the key "emulator"."""
    before = cpu_seconds(emulator.process.pid)
    results = companies.post(keys, emulator)
    return {**results, "emulator": {"cpu": cpu_seconds(emulator.process.pid) - before}}


def report(alone: dict, together: dict[str, dict], checks: dict[str, dict], time_scale: float) -> bool:
    emulator_alone, emulator_together = alone.pop("emulator")["cpu"], together.pop("emulator")["cpu"]
    one_seconds = alone[BASELINE]["finished"] - alone[BASELINE]["started"]
    one = rate(alone[BASELINE]["documents"], one_seconds, time_scale)
    total = summarize(together, time_scale)
    print(f"\n(a) one company alone:\n{describe(BASELINE, alone[BASELINE], time_scale)}")
    print(f"  emulator: {emulator_alone:.1f} s CPU ({emulator_alone / one_seconds:.0%} of a core)")
    print(f"(b) {len(together)} companies at once, each in its own process:")
    for key, result in together.items():
        print(describe(key, result, time_scale))
    print(f"  emulator: {emulator_together:.1f} s CPU ({emulator_together / total['seconds']:.0%} of a core)")
    print(f"  total: {total['documents']} documents from the first start to the last finish in "
          f"{total['seconds']:.1f} s = {emulated_minutes(total['seconds'], time_scale):.2f} emulated min -> "
          f"{total['rate']:,.0f} documents/min")
    ratio = total["rate"] / one
    print(f"  ratio: {ratio:.2f}x one company's {one:,.0f} documents/min (target at least {TARGET_RATIO:g}x)")
    print(f"  requests: {total['requests']}, 429s: {total['throttled']} = {total['throttled_share']:.2%} "
          f"(target at most {TARGET_THROTTLED:.0%}); before the clock (tokens, customers, items): "
          f"{total['set_up_requests']} requests, {total['set_up_throttled']} 429s")
    print("ledger check (posted in its ledger == distinct DocNumbers in its realm == documents there; "
          "other companies' numbers in its realm):")
    for key, check in checks.items():
        print(f"  {key}: {check['posted']} posted, {check['distinct']} distinct of {check['in_realm']} in its realm, "
              f"{check['foreign']} of other companies' -> {'ok' if check['ok'] else 'WRONG'}")
    return all(c["ok"] for c in checks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=2000, help="invoice lines in each company's month (default 2000)")
    parser.add_argument("--seed", type=int, default=11, help="the first company's seed; the others the next ones")
    parser.add_argument("--time-scale", type=float, default=2.0,
                        help="emulated seconds per real second (default 2: a minute lasts 30 s)")
    parser.add_argument("--keep", type=Path, help="keep the work folder here instead of a temporary one")
    parser.add_argument("--profile", action="store_true",
                        help="profile each company's posting (cProfile, wall time) into its log in the work folder")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return company_process(args.child, args.lines, args.seed, args.profile)

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_companies_"))
    work.mkdir(parents=True, exist_ok=True)
    seeds = {BASELINE: args.seed, **{key: args.seed + i for i, key in enumerate(COMPANIES)}}
    print(f"{len(COMPANIES)} companies and one alone, {args.lines} lines each (seeds {args.seed}..), "
          f"emulator at {args.time_scale:g}x (a minute lasts {60 / args.time_scale:.1f} s); load {load()}", flush=True)
    with spawn_emulator(work / "qbo.sqlite3", EmulatorSettings(time_scale=args.time_scale)) as emulator:
        setup = stand_up(emulator, work, list(seeds), args.time_scale)
        companies = Companies(setup, work, args.lines, seeds, args.profile)
        try:
            prepared = ", ".join(f"{key} {answer['ready']}" for key, answer in companies.ready.items())
            print(f"documents prepared: {prepared}; load {load()}", flush=True)
            alone = timed_post(companies, [BASELINE], emulator)
            together = timed_post(companies, list(COMPANIES), emulator)
            print(f"load after posting: {load()}")
        finally:
            companies.close()
        checks = ledger_check(emulator, setup, {k: r["database"] for k, r in companies.ready.items()})
    ok = report(alone, together, checks, args.time_scale)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
