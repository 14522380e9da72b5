"""The code location follows Dagster's conventions: defs/ loaded as a folder, public API only, and every
definition says what it is for and who answers for it."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import dagster as dg
import pytest

import bridge_assets
import bridge_assets.defs
from bridge_assets.definitions import build_definitions
from bridge_assets.defs import alerts

PACKAGE = Path(bridge_assets.__file__).parent


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append(("." * node.level) + (node.module or ""))
    return found


def test_nothing_imports_dagster_private_modules():
    private = [(str(p.relative_to(PACKAGE)), name) for p in PACKAGE.rglob("*.py")
               for name in _imports(p) if name.startswith("dagster._")]
    assert private == []


def test_definitions_load_the_defs_folder_and_no_defs_module_collects_another_modules_definitions():
    # definitions.py names no asset, sensor or job: the folder loading finds them.
    from_defs = [name for name in _imports(PACKAGE / "definitions.py") if name.startswith("bridge_assets.defs")]
    assert from_defs == ["bridge_assets.defs.resources"]
    defs = build_definitions()
    repository = defs.get_repository_def()
    found = {a.key for a in repository.assets_defs_by_key.values()} | {s.name for s in repository.sensor_defs} \
        | {s.name for s in repository.schedule_defs} | {j.name for j in repository.get_all_jobs()}
    for module_info in pkgutil.iter_modules(bridge_assets.defs.__path__):
        module = importlib.import_module(f"bridge_assets.defs.{module_info.name}")
        for name, value in vars(module).items():
            if isinstance(value, dg.AssetsDefinition):
                assert value.key in found, f"{module_info.name}.{name} is not in the code location"
            elif isinstance(value, (dg.SensorDefinition, dg.ScheduleDefinition, dg.JobDefinition)):
                assert value.name in found, f"{module_info.name}.{name} is not in the code location"


def test_every_sensor_schedule_and_job_says_what_it_does_and_every_asset_has_an_owner_and_a_stage():
    repository = build_definitions().get_repository_def()
    undescribed = [s.name for s in [*repository.sensor_defs, *repository.schedule_defs] if not s.description]
    undescribed += [j.name for j in repository.get_all_jobs() if not j.description and not j.name.startswith("__")]
    assert undescribed == []
    for key, assets_def in repository.assets_defs_by_key.items():
        assert assets_def.owners_by_key[key], f"{key.to_user_string()} has no owner"
        assert assets_def.tags_by_key[key].get("bridge/stage"), f"{key.to_user_string()} has no bridge/stage tag"


def test_check_history_skips_planned_evaluations_of_runs_that_stopped_before_the_check(monkeypatch):
    monkeypatch.setattr(alerts, "CHECK_HISTORY", 2)
    fail = {"now": False}

    @dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="figure")])
    def figure():
        if fail["now"]:
            raise RuntimeError("the source was unreachable")
        yield dg.Output(1)
        yield dg.AssetCheckResult(check_name="positive", passed=True)

    instance = dg.DagsterInstance.ephemeral()
    passed = dg.materialize([figure], instance=instance)
    fail["now"] = True
    for _ in range(3):      # each leaves its evaluation planned, never completed
        assert not dg.materialize([figure], instance=instance, raise_on_error=False).success
    key = dg.AssetCheckKey(dg.AssetKey("figure"), "positive")
    history = alerts.completed_check_history(instance, key)
    assert [r.run_id for r in history] == [passed.run_id]
    assert [r.status.value for r in history] == ["SUCCEEDED"]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path / "home"))


def test_resources_name_the_environment_variables_a_deployment_sets(tmp_path, monkeypatch):
    """The UI's Resources tab shows BRIDGE_HOME / BRIDGE_DATABASE by name where a deployment sets them;
    with neither set, the embedded defaults are plain values (an unset EnvVar would fail to load)."""
    from bridge_assets.defs.resources import bridge_resources

    monkeypatch.delenv("BRIDGE_HOME", raising=False)
    monkeypatch.delenv("BRIDGE_DATABASE", raising=False)
    defaults = bridge_resources()
    assert not isinstance(defaults["bridge"].home, dg.EnvVar) and defaults["bridge"].home.endswith("var")
    assert not isinstance(defaults["duckdb"].database, dg.EnvVar)

    monkeypatch.setenv("BRIDGE_HOME", str(tmp_path))
    monkeypatch.setenv("BRIDGE_DATABASE", str(tmp_path / "ledger.duckdb"))
    deployed = bridge_resources()
    assert deployed["bridge"].home == dg.EnvVar("BRIDGE_HOME") and isinstance(deployed["bridge"].home, dg.EnvVar)
    assert isinstance(deployed["duckdb"].database, dg.EnvVar)
    with dg.build_resources({"duckdb": deployed["duckdb"]}) as resolved:       # as a run sees it
        assert resolved.duckdb.database == str(tmp_path / "ledger.duckdb")
