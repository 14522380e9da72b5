"""Asking again for a file whose run ended before it received the file (nothing is left stuck).

The folder sensor starts one run per file, keyed by its sha256 and parser configuration. Should that run
fail or be cancelled before it received the file (the process killed, the database unavailable), the
file is still in the inbox and the same key would never run again. So the sensor looks at the earlier
runs for the file (statuses, as plain strings) and asks again under a new key, `<key>:attempt-<n>`, up to
ATTEMPTS times; then it stops asking and the file is quarantined with a note naming the failed runs.
Runs given up on are recorded in the work folder, so the same file dropped again starts a new round.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

ATTEMPTS = 3
ENDED_BADLY = {"FAILURE": "failed", "CANCELED": "was canceled"}
GIVEN_UP_FILE = "given_up_runs.txt"


@dataclasses.dataclass(frozen=True)
class EarlierRun:
    run_id: str
    status: str             # a Dagster run status name: QUEUED, STARTED, SUCCESS, FAILURE, CANCELED, ...
    run_key: str | None


@dataclasses.dataclass(frozen=True)
class Ask:
    """What the sensor does for a ready file: request `run_key` (None: stop asking, quarantine)."""

    run_key: str | None
    sentence: str | None = None          # said in the log when asking again or giving up
    failed: tuple[str, ...] = ()         # the run ids that ended badly in this round

    @property
    def give_up(self) -> bool:
        return self.run_key is None


def next_ask(name: str, key: str, earlier: list[EarlierRun], given_up: set[str] = frozenset()) -> Ask:
    """The run key to request for file `name` (base run key `key`), given its earlier runs, newest first.
    A run still going (or that succeeded) is asked for again under its own key: Dagster starts no second
    run. When every earlier run failed or was canceled, a new key is asked for, up to ATTEMPTS times."""
    going = [r for r in earlier if r.status not in ENDED_BADLY]
    if going:
        return Ask(going[0].run_key or key)
    if not earlier:
        return Ask(key)
    failed = [r for r in earlier if r.run_id not in given_up]
    if len(failed) >= ATTEMPTS:
        ids = ", ".join(r.run_id for r in reversed(failed[:ATTEMPTS]))
        return Ask(None, f"{name}: {ATTEMPTS} runs for it ended before the file was received (runs {ids}); "
                         "stopped asking", tuple(r.run_id for r in failed))
    attempt = len(failed) + 1
    run_key = f"{key}:attempt-{len(earlier) + 1}"
    if not failed:
        return Ask(run_key, f"{name} dropped again after its earlier runs were given up; asking again, "
                            f"attempt 1 of {ATTEMPTS}")
    last = failed[0]
    return Ask(run_key, f"the run for {name} (run {last.run_id[:8]}) {ENDED_BADLY[last.status]} before the file "
                        f"was received; asking again, attempt {attempt} of {ATTEMPTS}", tuple(r.run_id for r in failed))


def give_up_reason(key: str, failed: tuple[str, ...]) -> str:
    """The quarantine note's reason for a file whose runs kept ending before it was received."""
    return (f"{len(failed)} runs for this file ended (failed or canceled) before the file was received: "
            f"{', '.join(failed)}. Look at these runs in the Dagster UI (Runs, filtered by the tag "
            f"bridge/file_key={key}) to see what stopped them (the process killed, the bridge database "
            "unavailable, a setting), fix that")


def given_up(work: Path) -> set[str]:
    """The run ids already given up on (their file was quarantined)."""
    record = Path(work) / GIVEN_UP_FILE
    return set(record.read_text(encoding="utf-8").split()) if record.exists() else set()


def record_given_up(work: Path, run_ids: tuple[str, ...]) -> None:
    Path(work).mkdir(parents=True, exist_ok=True)
    with open(Path(work) / GIVEN_UP_FILE, "a", encoding="utf-8") as record:
        record.writelines(f"{run_id}\n" for run_id in run_ids)
