"""The deployment files under deploy/ (README, "Running past one machine"), checked as far as can be without a
Docker engine or a Kubernetes cluster: the instance files load through Dagster against a real PostgreSQL server,
every company's code server (Docker) or user-code deployment (Kubernetes) and each of its runs mount its own
volume and no other company's, and no file holds a secret.
"""

from __future__ import annotations

import json
import shutil
import tomllib
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

from bridge_assets.runtime.companies import is_secret, parse_registry
from bridge_assets_tests.postgres import postgres  # noqa: F401  (the session's PostgreSQL server)

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKER = DEPLOY / "docker"
KUBERNETES = DEPLOY / "kubernetes"
# The instance settings every deployment shares with the one-machine dagster.yaml.
SHARED = ("concurrency", "run_retries", "telemetry")


def load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def registry():
    """The companies the Docker image carries (deploy/docker/companies.toml), read by the bridge's own loader."""
    path = DOCKER / "companies.toml"
    return parse_registry(path, tomllib.loads(path.read_text(encoding="utf-8")))


@pytest.fixture
def pg_environment(postgres, monkeypatch):  # noqa: F811
    for name, value in postgres.environment().items():
        monkeypatch.setenv(name, value)


def instance_from(tmp_path: Path, config: dict | Path) -> dg.DagsterInstance:
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if isinstance(config, Path):
        shutil.copyfile(config, home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return dg.DagsterInstance.from_config(str(home))


def walk(node, path=()):
    """Every (key path, value) of a parsed YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, str(index)))
    else:
        yield path, node


def secret_literals(document) -> list[str]:
    """Keys that look like a credential and hold a text (a secret written into the file); a key naming where a
    secret is kept (postgresqlSecretName) is not one."""
    def credential(key: str) -> bool:
        return (is_secret(key.upper()) or "password" in key.lower()) and not key.lower().endswith("name")
    return ["/".join(path) for path, value in walk(document) if isinstance(value, str) and value and credential(path[-1])]


def test_the_postgres_instance_loads_through_dagster_with_the_one_machine_run_queue(tmp_path, pg_environment):
    with instance_from(tmp_path, DEPLOY / "dagster.postgres.yaml") as instance:
        assert type(instance.run_storage).__module__.startswith("dagster_postgres")
        assert type(instance.event_log_storage).__module__.startswith("dagster_postgres")
        assert type(instance.schedule_storage).__module__.startswith("dagster_postgres")
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    one_machine, deployed = load(ROOT / "dagster.yaml"), load(DEPLOY / "dagster.postgres.yaml")
    assert {k: deployed[k] for k in SHARED} == {k: one_machine[k] for k in SHARED}


def test_the_docker_instance_is_the_postgres_instance_with_the_docker_run_launcher(tmp_path, pg_environment):
    docker, postgres_instance = load(DOCKER / "dagster.yaml"), load(DEPLOY / "dagster.postgres.yaml")
    assert {k: v for k, v in docker.items() if k != "run_launcher"} == \
        {k: v for k, v in postgres_instance.items() if k != "run_launcher"}
    with instance_from(tmp_path, DOCKER / "dagster.yaml") as instance:
        launcher = instance.run_launcher           # built from its config (no Docker engine is asked)
        assert type(launcher).__name__ == "DockerRunLauncher"
        assert launcher.networks == [load(DOCKER / "docker-compose.yaml")["networks"]["bridge_network"]["name"]]
        assert all("=" not in name for name in launcher.env_vars), "the launcher names variables, never values"


def test_each_company_has_its_code_server_and_its_runs_mount_its_volume_only():
    from dagster_docker.container_context import DockerContainerContext

    compose, companies = load(DOCKER / "docker-compose.yaml"), registry()
    services, workspace = compose["services"], load(DOCKER / "workspace.yaml")["load_from"]
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert {entry["grpc_server"]["location_name"]: entry["grpc_server"]["host"] for entry in workspace} == \
        {key: f"{key}_code" for key in companies.keys}
    for key, company in companies.companies.items():
        volume, home = f"bridge_{key}", str(company.home)
        service = services[f"{key}_code"]
        command = service["command"]
        assert command[command.index("-a") + 1] == key and command[command.index("-m") + 1] == "bridge_assets.company_locations"
        assert service["volumes"] == [f"{volume}:{home}"], f"{key}'s code server mounts {service['volumes']}"
        context = DockerContainerContext.create_from_config(json.loads(service["environment"]["DAGSTER_CONTAINER_CONTEXT"]))
        assert context.container_kwargs["volumes"] == [f"{volume}:{home}"], f"{key}'s runs mount another volume"
        assert all(name.startswith(company.variable_prefix) and "=" not in name for name in context.env_vars), \
            f"{key}'s runs would get another company's variables, or a value: {context.env_vars}"
        assert compose["volumes"][volume]["name"] == volume      # the name the run launcher mounts
        others = [name for name, other in services.items() if name != f"{key}_code"
                  and any(str(mount).startswith(volume + ":") for mount in other.get("volumes", []))]
        assert not others, f"{volume} (company {key}) is mounted by {others} too"
        assert f"secrets/{key}.env" in services["daemon"]["env_file"]
        assert home in dockerfile, f"the image makes no folder for {key}'s volume ({home})"


def test_the_docker_files_hold_no_secret():
    compose = load(DOCKER / "docker-compose.yaml")
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        assert not [variable for variable in environment if is_secret(variable)], f"{name} sets a secret in the file"
        for env_file in [service["env_file"]] if isinstance(service.get("env_file"), str) else service.get("env_file", []):
            template = DOCKER / (env_file + ".example")
            assert template.exists(), f"{name} reads {env_file}: its template {template.name} is missing"
            filled = [line for line in template.read_text().splitlines()
                      if "=" in line and not line.startswith("#") and line.split("=", 1)[1].strip()
                      and is_secret(line.split("=", 1)[0])]
            assert not filled, f"{template.name} holds secret values: {filled}"
    assert "*.env" in (DOCKER / "secrets" / ".gitignore").read_text().split()
    assert not secret_literals(compose)


def test_each_company_has_its_user_code_deployment_whose_runs_mount_its_claim_only():
    values, companies = load(KUBERNETES / "values.yaml"), registry()
    deployments = {d["name"]: d for d in values["dagster-user-deployments"]["deployments"]}
    claims = {c["metadata"]["name"] for c in yaml.safe_load_all((KUBERNETES / "company-volumes.yaml").read_text())
              if c and c["kind"] == "PersistentVolumeClaim"}
    assert set(deployments) == set(companies.keys)
    used = []
    for key, company in companies.companies.items():
        deployment = deployments[key]
        args = deployment["codeServerArgs"]
        assert args[args.index("-a") + 1] == key and args[args.index("-m") + 1] == "bridge_assets.company_locations"
        assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True, f"{key}'s runs would not mount its claim"
        (volume,) = deployment["volumes"]
        claim = volume["persistentVolumeClaim"]["claimName"]
        assert claim in claims, f"{claim} is not defined in company-volumes.yaml"
        assert deployment["volumeMounts"] == [{"name": volume["name"], "mountPath": str(company.home)}]
        assert [s["name"] for s in deployment["envSecrets"]] == [f"bridge-{key}"]
        used.append(claim)
    assert len(used) == len(set(used)), "two companies share a claim"
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert not launcher["config"]["k8sRunLauncher"]["volumes"], "a volume for every run would be every company's"
    assert values["generatePostgresqlPasswordSecret"] is False and values["global"]["postgresqlSecretName"]
    assert not secret_literals(values)


def test_the_charts_run_queue_is_the_one_machine_run_queue(tmp_path, pg_environment):
    """The chart's `concurrency` values are dagster.yaml's concurrency block (the chart writes each field in snake
    case), and with the QueuedRunCoordinator the chart adds, Dagster loads them as the one-machine queue."""
    values = load(KUBERNETES / "values.yaml")
    chart = values["concurrency"]
    assert chart["enabled"] is True
    rendered = {"pools": {"default_limit": chart["pools"]["defaultLimit"]},
                "runs": {"max_concurrent_runs": chart["runs"]["maxConcurrentRuns"],
                         "tag_concurrency_limits": chart["runs"]["tagConcurrencyLimits"]}}
    assert rendered == load(ROOT / "dagster.yaml")["concurrency"]
    assert values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"] == {}
    instance_yaml = {**load(DEPLOY / "dagster.postgres.yaml"), "concurrency": rendered,
                     "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"}}
    with instance_from(tmp_path, instance_yaml) as instance:
        queue = instance.get_concurrency_config()
    with instance_from(tmp_path / "one", DEPLOY / "dagster.postgres.yaml") as instance:
        one_machine = instance.get_concurrency_config()
    assert queue == one_machine


def test_the_readme_shows_the_compose_file_as_it_is():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Running past one machine"):]
    snippet = section[section.index("```yaml\n") + len("```yaml\n"):section.index("```\n", section.index("```yaml"))]
    assert snippet in (DOCKER / "docker-compose.yaml").read_text(encoding="utf-8")


def test_runs_in_containers_are_left_to_dagsters_run_monitoring_not_marked_failed_by_a_pid_from_elsewhere(
        tmp_path, pg_environment):
    """Under the DockerRunLauncher a run's recorded pid is a process of another container: the bridge's dead-run
    settling must not take it for dead (it would fail other companies' live runs), and the instance monitors runs."""
    from dagster._core.events import EngineEventData      # (a test may build the engine event a run worker writes)

    from bridge_assets.defs.dead_runs import runs_are_local_processes, settle_dead_runs

    assert load(DOCKER / "dagster.yaml")["run_monitoring"]["enabled"] is True
    with instance_from(tmp_path, DOCKER / "dagster.yaml") as instance:
        assert not runs_are_local_processes(instance)
        run = instance.create_run_for_job(dg.GraphDefinition("g").to_job(), run_id=str(uuid.uuid4()),
                                          status=dg.DagsterRunStatus.STARTED)
        instance.report_engine_event("Started process for run (pid: 999999999).", run,
                                     EngineEventData({"pid": dg.MetadataValue.text("999999999")}))
        assert settle_dead_runs(instance).failed == []
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    with dg.instance_for_test() as local:                      # the default launcher: the pid is this machine's
        assert runs_are_local_processes(local)
