"""Many companies (issue 12 point 4): the registry, one process per company, one code location per company
with its own asset keys, pool, run tag and DuckDB file, and every promise of one company kept per company."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bridge_assets.commands.companies import company_environments, write_sample_registry, write_workspace
from bridge_assets.runtime.companies import (RegistryError, company_tag, enter_company, load_registry,
                                             parse_registry)

PROJECT_ROOT = Path(__file__).resolve().parents[1]

REGISTRY = """
[defaults]
BRIDGE_DESTINATIONS = "staging_csv"
BRIDGE_INBOX_QUIET_SECONDS = 0
BRIDGE_FIRST_PERIOD = "2026-08"

[company.acme]
title = "Acme Alarm & Fire"

[company.beta]
title = "Beta Security"
BRIDGE_DESTINATIONS = "staging_csv,qbd_iif"
"""


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "deployment" / "companies.toml"
    path.parent.mkdir()
    path.write_text(REGISTRY)
    return path


def _refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "companies.toml"
    path.write_text(text)
    with pytest.raises(RegistryError) as refused:
        load_registry({"BRIDGE_COMPANIES": str(path)})
    assert str(path) in str(refused.value)
    return str(refused.value)


def test_a_company_gets_its_own_home_its_settings_and_only_its_own_variables(registry_file: Path):
    environ = {"BRIDGE_COMPANIES": str(registry_file), "PATH": "/usr/bin",
               "BRIDGE_DATABASE": "/shared/bridge.duckdb",            # a deployment-wide path: never inherited
               "ACME__QBO_CLIENT_SECRET": "acme-secret", "BETA__QBO_CLIENT_SECRET": "beta-secret",
               "BETA__BRIDGE_DESTINATIONS": "qbo"}                    # the environment wins over the file
    registry = load_registry(environ)
    assert registry.keys == ["acme", "beta"]
    acme, beta = registry.environment("acme", environ), registry.environment("beta", environ)
    assert acme["BRIDGE_HOME"] == str(registry_file.parent / "companies" / "acme")
    assert beta["BRIDGE_HOME"] == str(registry_file.parent / "companies" / "beta")
    assert "BRIDGE_DATABASE" not in acme and "BRIDGE_DATABASE" not in beta
    assert acme["QBO_CLIENT_SECRET"] == "acme-secret" and beta["QBO_CLIENT_SECRET"] == "beta-secret"
    assert not any(name.startswith("BETA__") for name in acme)              # no other company's secrets
    assert (acme["BRIDGE_DESTINATIONS"], beta["BRIDGE_DESTINATIONS"]) == ("staging_csv", "qbo")
    assert acme["BRIDGE_INBOX_QUIET_SECONDS"] == "0" and acme["PATH"] == "/usr/bin"
    assert (acme["BRIDGE_COMPANY"], company_tag(acme), company_tag({})) == ("acme", "acme", "default")


def test_a_secret_in_the_registry_file_is_refused_naming_the_company_and_where_to_put_it(tmp_path: Path):
    message = _refusal(tmp_path, '[company.acme]\nQBO_REFRESH_TOKEN = "AB11..."\n')
    assert "[company.acme]" in message and "QBO_REFRESH_TOKEN" in message and "ACME__QBO_REFRESH_TOKEN" in message
    assert "AB11" not in message


@pytest.mark.parametrize("text, says", [
    ('[company.Acme-1]\ntitle = "x"\n', "lower-case letters"),
    ('[company.acme]\nhome = "same"\n[company.beta]\nhome = "same"\n', "would share"),
    ('[companies.acme]\n', "unknown table"),
    ('[company.acme\n', "not valid TOML"),
    ('[defaults]\nBRIDGE_TIMEZONE = "UTC"\n', "no [company.<key>] table"),
    ('[company.acme]\nbridge_destinations = "qbo"\n', "is not a setting"),
    ('[company.acme]\nBRIDGE_HOME = "/x"\n', "use `home = ...`"),
])
def test_a_registry_that_cannot_be_used_is_refused_saying_what_to_change(tmp_path: Path, text: str, says: str):
    assert says in _refusal(tmp_path, text)


def test_a_named_registry_that_does_not_exist_is_refused(tmp_path: Path):
    with pytest.raises(RegistryError, match="does not exist"):
        load_registry({"BRIDGE_COMPANIES": str(tmp_path / "nowhere.toml")})
    assert load_registry({"BRIDGE_HOME": str(tmp_path)}) is None      # no registry: one company, as before


def test_one_process_serves_one_company(registry_file: Path):
    environ = {"BRIDGE_COMPANIES": str(registry_file), "BRIDGE_HOME": "/deployment", "OTHER": "kept"}
    assert enter_company("acme", environ).title == "Acme Alarm & Fire"
    assert environ["BRIDGE_HOME"].endswith("companies/acme") and environ["OTHER"] == "kept"
    assert enter_company("acme", environ).key == "acme"                 # the same company again is fine
    with pytest.raises(RegistryError, match="already serves company 'acme'"):
        enter_company("beta", environ)


def test_the_sample_registry_and_the_workspace_name_every_company(tmp_path: Path):
    path = write_sample_registry(tmp_path / "companies.toml", 2)
    registry = load_registry({"BRIDGE_COMPANIES": str(path)})
    assert registry.keys == ["northside", "harbor"]
    with pytest.raises(RegistryError, match="exists already"):
        write_sample_registry(path, 2)
    workspace = write_workspace(registry, tmp_path / "dagster_home").read_text()
    for key in registry.keys:
        assert f"attribute: {key}" in workspace and f"location_name: {key}" in workspace


def test_each_company_started_in_its_own_environment_hands_on_what_it_set(registry_file: Path, monkeypatch):
    monkeypatch.setenv("BRIDGE_COMPANIES", str(registry_file))
    seen = {}

    def start(key: str) -> None:      # what a sandbox does: read the company's settings, leave its URL behind
        seen[key] = (os.environ["BRIDGE_HOME"], os.environ.get("QBO_BASE_URL"))
        os.environ["QBO_BASE_URL"] = f"http://127.0.0.1/{key}"
    exported = company_environments(load_registry(), start)
    assert seen["beta"] == (str(registry_file.parent / "companies" / "beta"), None)   # not acme's URL
    assert exported["ACME__QBO_BASE_URL"] == "http://127.0.0.1/acme"
    assert exported["BETA__QBO_BASE_URL"] == "http://127.0.0.1/beta"
    assert "QBO_BASE_URL" not in os.environ and os.environ["BETA__QBO_BASE_URL"].endswith("/beta")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _web_connector_registry(tmp_path: Path, acme_port: int, beta_port: int) -> Path:
    path = tmp_path / "companies.toml"
    path.write_text(f"""
[defaults]
BRIDGE_DESTINATIONS = "qbd_webconnector"
QBD_WC_USERNAME = "bookkeeper"

[company.acme]
title = "Acme Alarm & Fire"
QBD_WC_PORT = {acme_port}

[company.beta]
title = "Beta Security"
QBD_WC_PORT = {beta_port}
""")
    return path


def test_bridge_ui_serves_each_companys_web_connector_from_its_own_queue_on_its_own_port(tmp_path: Path, monkeypatch):
    import contextlib

    import zeep

    from bridge_assets.commands.webconnector import ServiceNotStarted, beside_ui
    from bridge_assets.runtime.settings import BridgeSettings

    monkeypatch.delenv("QBD_WC_SERVICE_URL", raising=False)
    monkeypatch.setenv("ACME__QBD_WC_PASSWORD", "acme-pass")       # secrets: the environment only
    monkeypatch.setenv("BETA__QBD_WC_PASSWORD", "beta-pass")
    ports = {"acme": _free_port(), "beta": _free_port()}
    registry = load_registry({"BRIDGE_COMPANIES": str(_web_connector_registry(tmp_path, ports["acme"], ports["beta"]))})
    with contextlib.ExitStack() as stack:
        company_environments(registry, lambda key: stack.enter_context(beside_ui(BridgeSettings.from_env())))
        for key, other in (("acme", "beta"), ("beta", "acme")):
            service = zeep.Client(f"http://127.0.0.1:{ports[key]}/qbwc?wsdl").service
            assert service.authenticate("bookkeeper", f"{key}-pass")[1] == "none"        # its own password
            assert service.authenticate("bookkeeper", f"{other}-pass")[1] == "nvu"       # not the other's
        assert {key: (tmp_path / "companies" / key / "qbd" / "webconnector.sqlite3").exists() for key in ports} == \
            {"acme": True, "beta": True}
    # Both companies left on one port: the second is refused, naming itself and the setting to change.
    same = load_registry({"BRIDGE_COMPANIES": str(_web_connector_registry(tmp_path, ports["acme"], ports["acme"]))})
    with contextlib.ExitStack() as stack, pytest.raises(ServiceNotStarted) as refused:
        company_environments(same, lambda key: stack.enter_context(beside_ui(BridgeSettings.from_env())))
    assert f"company Beta Security (beta)'s QuickBooks Web Connector service cannot listen on 127.0.0.1:{ports['acme']}" \
        in str(refused.value)
    assert "QBD_WC_PORT (and QBD_WC_APP_URL) in its [company.beta] section" in str(refused.value)
    assert "beta-pass" not in str(refused.value)


def test_one_company_commands_ask_which_company_when_there_is_a_registry(registry_file: Path):
    answer = _bridge(registry_file, "summary")
    assert answer.returncode == 2
    assert "bridge --company <key> summary" in answer.stderr and "acme, beta" in answer.stderr
    listed = _bridge(registry_file, "companies", extra={"ACME__QBO_CLIENT_SECRET": "s3cr3t-value"})
    assert listed.returncode == 0, listed.stderr
    assert "acme: Acme Alarm & Fire" in listed.stdout and "secrets set: QBO_CLIENT_SECRET" in listed.stdout
    assert "s3cr3t-value" not in listed.stdout
    unknown = _bridge(registry_file, "--company", "gamma", "summary")
    assert unknown.returncode == 2 and "no company 'gamma'" in unknown.stderr


def _bridge(registry_file: Path, *args: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env.update({"BRIDGE_COMPANIES": str(registry_file), **(extra or {})})
    return subprocess.run([sys.executable, "-m", "bridge_assets.cli", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


# A process of one company, as Dagster's code server and run workers are: it loads the company's code location
# from the workspace attribute, takes a file from the company's inbox by the sensor and runs what the sensor
# asked for, then reverts that run (preview); it prints what a test can check.
COMPANY_PROCESS = textwrap.dedent("""
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    import dagster as dg
    import bridge_assets.company_locations as locations
    from bridge_assets.runtime.settings import BridgeSettings
    from bridge_assets_tests.conftest import line, write_export

    key, number = sys.argv[1], sys.argv[2]
    defs = getattr(locations, key)
    settings = BridgeSettings.from_env()
    settings.folders.create()
    write_export(settings.inbox / "sept.csv", [line(number=number, total="41.95"),
                                               line(number=number, item="RMR-FIRE", amount="12.00", rate="12.00", total="41.95")])
    sensor = defs.resolve_sensor_def("sedona_export_folder_sensor")
    job = defs.resolve_job_def("bridge_job")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"bridge": defs.resources["bridge"]})
        requests = []
        for _ in range(3):
            result = sensor(context)
            context.update_cursor(result.cursor)
            requests += result.run_requests
        (request,) = requests
        run = job.execute_in_process(instance=instance, run_config=request.run_config, tags=request.tags)
        graph = defs.resolve_asset_graph()
        print(json.dumps({
            "success": run.success, "home": str(settings.home), "database": str(settings.database_path),
            "job_tags": dict(job.tags), "run_tags": {k: v for k, v in run.dagster_run.tags.items() if k.startswith("bridge/")},
            "keys": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
            "pools": sorted({n.pool for n in job.graph.node_defs if getattr(n, "pool", None)}),
            "materialized": sorted({e.asset_key.to_user_string() for e in run.get_asset_materialization_events()}),
            "run_id": run.run_id,
        }))
""")


def _company_run(registry_file: Path, key: str, number: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env["BRIDGE_COMPANIES"] = str(registry_file)
    done = subprocess.run([sys.executable, "-c", COMPANY_PROCESS, key, number], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ledger_numbers(database: str) -> list[tuple[str, str]]:
    import duckdb

    with duckdb.connect(database, read_only=True) as con:
        return con.execute("SELECT destination, doc_number FROM ledger_postings WHERE state = 'posted' "
                           "ORDER BY ALL").fetchall()


def test_each_company_runs_in_its_own_code_location_keys_pool_tag_and_duckdb_file(registry_file: Path):
    acme = _company_run(registry_file, "acme", "500001")
    assert acme["success"]
    assert acme["database"] == str(registry_file.parent / "companies" / "acme" / "bridge.duckdb")
    assert all(k.startswith("acme/") for k in acme["keys"]) and "acme/quickbooks_postings" in acme["keys"]
    assert {"acme/sedona_export_lines", "acme/accounting_documents", "acme/quickbooks_postings",
            "acme/reconciliation"} <= set(acme["materialized"])
    assert acme["job_tags"] == {"bridge/company": "acme"} and acme["run_tags"]["bridge/company"] == "acme"
    assert acme["pools"] == ["duckdb_writer_acme"]
    # company B has not been touched by A's run: no file of its own yet
    assert not (registry_file.parent / "companies" / "beta").exists()
    beta = _company_run(registry_file, "beta", "600001")
    assert beta["success"] and beta["pools"] == ["duckdb_writer_beta"]
    assert all(k.startswith("beta/") for k in beta["keys"])
    # each company's ledger holds its own documents, once per destination, and none of the other's
    assert _ledger_numbers(acme["database"]) == [("staging_csv", "500001")]
    assert _ledger_numbers(beta["database"]) == [("qbd_iif", "600001"), ("staging_csv", "600001")]
    # revert is per company: B's revert finds nothing of A's run and changes nothing; A's undoes its own
    wrong = _bridge(registry_file, "--company", "beta", "revert", "--run", acme["run_id"], "--yes")
    assert "500001" not in wrong.stdout
    assert _ledger_numbers(beta["database"]) == [("qbd_iif", "600001"), ("staging_csv", "600001")]
    right = _bridge(registry_file, "--company", "acme", "revert", "--run", acme["run_id"], "--yes")
    assert right.returncode == 0, right.stdout + right.stderr
    assert "500001" in right.stdout and _ledger_numbers(acme["database"]) == []


# A company whose books are closed through September: its run holds the September documents, the other
# company's identical document posts; when this company's books reopen, its replay sensor asks for one run
# of the period, which posts what was held. Printed per step for the test.
HELD_PROCESS = textwrap.dedent("""
    import json, os, sys, warnings
    warnings.filterwarnings("ignore")
    import dagster as dg
    import duckdb
    import bridge_assets.company_locations as locations
    from bridge_assets.runtime.settings import BridgeSettings
    from bridge_assets_tests.conftest import line, write_export

    key = sys.argv[1]
    defs = getattr(locations, key)
    settings = BridgeSettings.from_env()
    settings.folders.create()
    write_export(settings.inbox / "sept.csv", [line(number="700001", total="29.95")])
    job = defs.resolve_job_def("bridge_job")
    resources = {"bridge": defs.resources["bridge"], "duckdb": defs.resources["duckdb"]}

    def states():
        with duckdb.connect(str(settings.database_path), read_only=True) as con:
            return con.execute("SELECT state FROM ledger_postings ORDER BY ALL").fetchall()

    def replay(instance):
        context = dg.build_sensor_context(instance=instance, resources=resources)
        result = defs.resolve_sensor_def("held_documents_replay_sensor")(context)
        return result

    out = {}
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"bridge": defs.resources["bridge"]})
        requests = []
        for _ in range(3):
            result = defs.resolve_sensor_def("sedona_export_folder_sensor")(context)
            context.update_cursor(result.cursor)
            requests += result.run_requests
        (request,) = requests
        out["first_run"] = job.execute_in_process(instance=instance, run_config=request.run_config, tags=request.tags).success
        out["after_first_run"] = states()
        closed = replay(instance)
        out["while_closed"] = getattr(closed, "skip_message", None) or str(getattr(closed, "run_requests", ""))
        os.environ["BRIDGE_BOOKS_CLOSED_THROUGH"] = "2026-08-31"        # the company's books reopen for September
        reopened = replay(instance)
        runs = [job.execute_in_process(instance=instance, tags=r.tags) for r in getattr(reopened, "run_requests", [])]
        out["replay_tags"] = [{k: v for k, v in run.dagster_run.tags.items() if k.startswith("bridge/")} for run in runs]
        out["replay_run"] = [run.success for run in runs]
        out["after_replay"] = states()
    print(json.dumps(out))
""")


def test_held_documents_wait_and_replay_per_company(tmp_path: Path):
    path = tmp_path / "companies.toml"
    path.write_text(REGISTRY.replace('[company.beta]', '[company.beta]\nBRIDGE_BOOKS_CLOSED_THROUGH = "2026-09-30"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")} | {"BRIDGE_COMPANIES": str(path)}
    done = {key: subprocess.run([sys.executable, "-c", HELD_PROCESS, key], cwd=PROJECT_ROOT, env=env,
                                capture_output=True, text=True, timeout=300) for key in ("beta", "acme")}
    for finished in done.values():
        assert finished.returncode == 0, finished.stderr[-3000:]
    beta = json.loads(done["beta"].stdout.strip().splitlines()[-1])
    assert beta["first_run"] is True
    assert beta["after_first_run"] == [["held"], ["held"]]            # staging_csv and qbd_iif, both closed
    assert "still closed" in beta["while_closed"]
    # one replay per destination that held something, each a run of beta's own (its job tags the company)
    assert sorted(t["bridge/replay"] for t in beta["replay_tags"]) == ["qbd_iif", "staging_csv"]
    assert all(t["bridge/company"] == "beta" for t in beta["replay_tags"])
    assert beta["replay_run"] == [True, True] and beta["after_replay"] == [["posted"], ["posted"]]
    # acme's books are open: its run posts the same September document, and its replay sensor has nothing held
    acme = json.loads(done["acme"].stdout.strip().splitlines()[-1])
    assert acme["after_first_run"] == [["posted"]] and acme["while_closed"] == "no held documents"
    assert acme["replay_run"] == [] and acme["after_replay"] == [["posted"]]


def test_an_alert_of_a_company_names_the_company(tmp_path: Path, monkeypatch):
    from bridge_assets.alerts.notify import Alert, AlertRecord

    monkeypatch.setenv("BRIDGE_COMPANY", "acme")
    monkeypatch.setenv("BRIDGE_COMPANY_TITLE", "Acme Alarm & Fire")
    with AlertRecord.open(tmp_path / "alerts.json") as record:
        record.raise_alert(Alert(key="k1", period="2026-09", what_failed="Run of bridge_job failed", detail="boom"))
        ((_, alert),) = record.pending()
    assert alert.headline == "Acme Alarm & Fire (acme): Run of bridge_job failed (2026-09)"
    assert alert.slack_payload()["blocks"][0]["text"]["text"].startswith("Acme Alarm & Fire (acme):")


def test_a_company_code_location_loads_without_pandas(registry_file: Path):
    """A deployment serves one code location per company, each its own process for as long as it runs:
    loading one (its assets, checks, jobs, sensors and schedules) must not import pandas, pandera or polars,
    which the runs need and the location does not (about 80 MB per company; README "Many companies")."""
    load = textwrap.dedent("""
        import sys, warnings
        warnings.filterwarnings("ignore")
        import bridge_assets.company_locations as locations
        defs = locations.acme
        defs.resolve_asset_graph(); defs.resolve_job_def("bridge_job"); defs.resolve_all_job_defs()
        defs.resolve_sensor_def("sedona_export_folder_sensor")
        print(sorted(m for m in ("pandas", "pandera", "polars", "numpy") if m in sys.modules))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")} | {"BRIDGE_COMPANIES": str(registry_file)}
    done = subprocess.run([sys.executable, "-c", load], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_company_whose_settings_cannot_be_used_fails_alone_naming_itself(tmp_path: Path):
    path = tmp_path / "companies.toml"
    path.write_text('[company.acme]\nBRIDGE_DESTINATIONS = "staging_csv"\n\n'
                    '[company.beta]\ntitle = "Beta Security"\nBRIDGE_FIRST_PERIOD = "sometime"\n')
    load = "import bridge_assets.company_locations as l, sys; print(len(getattr(l, sys.argv[1]).resolve_asset_graph().get_all_asset_keys()))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")} | {"BRIDGE_COMPANIES": str(path)}
    acme, beta = (subprocess.run([sys.executable, "-W", "ignore", "-c", load, key], cwd=PROJECT_ROOT, env=env,
                                 capture_output=True, text=True, timeout=120) for key in ("acme", "beta"))
    assert acme.returncode == 0 and int(acme.stdout.split()[-1]) > 5, acme.stderr
    assert beta.returncode != 0
    assert "CompanyNotLoaded: company 'beta' (Beta Security)" in beta.stderr
    assert "BRIDGE_FIRST_PERIOD='sometime' is not a period" in beta.stderr and "[company.beta]" in beta.stderr
