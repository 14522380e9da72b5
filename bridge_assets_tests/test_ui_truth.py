"""The Dagster UI tells each period's truth (issue 11): read back through the Dagster instance, as the UI
reads it, never through the assets' own code. Each period's materialization carries that period's own
counts (what DuckDB holds for it), every check evaluation names its period, a document QuickBooks refuses
fails the postings check of its period by name and is told once, and everything is described."""

from __future__ import annotations

import dagster as dg
import pytest

from bridge_assets import cli
from bridge_assets.alerts import notify as alerts
from bridge_assets.definitions import build_definitions
from bridge_assets.defs.alerts import problem_alert_sensor
from bridge_assets.defs.resources import BridgeResource
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.runtime.storage import Database
from dagster_duckdb import DuckDBResource

from .conftest import line, write_export
from .test_reconciliation import books, qbo, run_job  # noqa: F401  (fixtures: the QuickBooks emulator and a company)
from .webhook_receiver import running_receiver

PERIODS = ["2026-08", "2026-09", "2026-10"]


def _latest(instance: dg.DagsterInstance, asset: str, period: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[period]), limit=1).records
    assert records, f"{asset} has no materialization for {period}"
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def _completed_evaluations(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> list:
    history = instance.event_log_storage.get_asset_check_execution_history(key, limit=50)
    return [r for r in history if r.status.value in ("SUCCEEDED", "FAILED") and r.event is not None]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The README's demo (a smaller book), run once for the module, its instance and database kept."""
    home = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BRIDGE_HOME", str(home / "home"))
        patch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
        for name in ("BRIDGE_DESTINATIONS", "BRIDGE_DATABASE", "BRIDGE_INBOX", "BRIDGE_OUTPUT", "BRIDGE_FIRST_PERIOD",
                     "QBO_CLIENT_ID", "SEDONA_API_BASE_URL", "SERVICETRADE_BASE_URL"):
            patch.delenv(name, raising=False)
        assert cli.main(["demo", "--lines", "900", "--months", "3"]) == 0
        settings = BridgeSettings.from_env()
        with dg.DagsterInstance.get() as instance:
            yield settings, instance, Database(settings.database_path)


def test_after_the_demo_each_periods_materialization_carries_its_own_counts(demo):
    settings, instance, db = demo
    seen_counts = set()
    with db.connect(read_only=True) as con:
        for period in PERIODS:
            documents = _latest(instance, "accounting_documents", period)
            (held,) = con.execute("SELECT count(*) FROM accounting_documents WHERE period = ?", [period]).fetchall()
            assert documents["documents"] == documents["dagster/row_count"] == held[0]
            seen_counts.add(held[0])
            for doc_type, n in con.execute("SELECT doc_type, count(*) FROM accounting_documents WHERE period = ? "
                                           "GROUP BY ALL", [period]).fetchall():
                assert documents[f"documents: {doc_type}"] == n
            assert {r["type"] for r in _table(documents["documents by type"])} <= {"invoice", "credit_memo", "payment"}

            plan = _latest(instance, "posting_plan", period)
            planned = con.execute("SELECT destination, action, count(*) FROM posting_plan WHERE period = ? "
                                  "GROUP BY ALL", [period]).fetchall()
            assert plan["dagster/row_count"] == sum(n for *_, n in planned)
            for destination, action, n in planned:
                assert plan[f"{destination}: {action}"] == n

            postings = _latest(instance, "quickbooks_postings", period)
            for destination in ("qbo", "staging_csv", "qbd_iif"):
                (posted,) = con.execute("SELECT count(*) FROM ledger_postings WHERE period = ? AND destination = ? "
                                        "AND state = 'posted'", [period, destination]).fetchall()
                assert postings[f"{destination}: documents posted"] == posted[0]
                assert postings[f"{destination}: money in (source)"] > 0
            # A file destination's reconciliation row says in words why its ledger differs from the source.
            books = _latest(instance, "reconciliation", period)
            rows = {r["destination"]: r for r in _table(books["destinations"])}
            (by_hand,) = con.execute(
                "SELECT count(*), sum(d.total) FROM ledger_postings l JOIN accounting_documents d USING (doc_key) "
                "WHERE l.period = ? AND l.destination = 'qbd_iif' AND l.last_error_code = 'payment_unsupported'",
                [period]).fetchall()
            assert by_hand[0] > 0
            assert rows["qbd_iif"]["why source and ledger differ"] == (
                f"payments entered by hand in qbd_iif (it cannot take them): {by_hand[0]}, {by_hand[1]:,.2f}")
            assert rows["qbo"]["why source and ledger differ"] == ""
            for destination in ("qbo", "staging_csv", "qbd_iif"):
                assert books[f"{destination}: documents"] == rows[destination]["documents"] == held[0]
            # a file destination names its file of the period as a path
            assert any(k.startswith("file ") and period.replace("-", "") in k.replace("-", "") for k in postings)
    assert len(seen_counts) == 3, "the three periods hold different counts; one repeated means a copied block"
    # The DuckDB table an asset writes, with its columns.
    lines = instance.fetch_materializations(dg.AssetKey("accounting_documents"), limit=1).records[0]
    metadata = lines.asset_materialization.metadata
    assert metadata["dagster/table_name"].value.endswith(".main.accounting_documents")
    assert "doc_key" in {c.name for c in metadata["dagster/column_schema"].schema.columns}


def _table(value) -> list[dict]:
    return [record.data for record in value.records]


def test_after_the_demo_every_check_evaluation_names_its_period(demo):
    settings, instance, _ = demo
    graph = build_definitions(settings.home).resolve_asset_graph()
    for key in graph.asset_check_keys:
        evaluations = _completed_evaluations(instance, key)
        assert sorted(r.partition for r in evaluations) == PERIODS, key
        for record in evaluations:
            description = record.event.dagster_event.asset_check_evaluation_data.description
            assert description.startswith(record.partition), (key, description)


def test_a_document_refused_by_quickbooks_fails_the_postings_check_of_its_period_by_name_and_is_told_once(
        settings, books, monkeypatch):  # noqa: F811
    books.customer("Smith, J")                                   # in the books; Jones, K is not
    monkeypatch.setenv("QBO_AUTO_CREATE_CUSTOMERS", "false")
    write_export(settings.inbox / "aug_sep.csv", [
        line(number="1", date="08/03/2026", start="08/01/2026", end="08/31/2026"),
        line(number="2", date="09/01/2026"),
        line(number="3", date="09/02/2026", customer="C002", name="Jones, K"),
    ])
    with dg.instance_for_test() as instance, running_receiver() as receiver:
        monkeypatch.setenv(alerts.WEBHOOK_VARIABLE, receiver.url)
        run_job(settings, "2026-08", "2026-09", instance)
        key = dg.AssetCheckKey(dg.AssetKey("quickbooks_postings"), "postings_clean")
        verdicts = {r.partition: r.event.dagster_event.asset_check_evaluation_data
                    for r in _completed_evaluations(instance, key)}
        assert verdicts["2026-08"].passed
        september = verdicts["2026-09"]
        assert not september.passed and september.severity == dg.AssetCheckSeverity.ERROR
        assert "qbo refused 1: 3 (" in september.description and "Jones, K" in september.description
        assert [(r["doc_number"], r["state"]) for r in september.metadata["failing"].value] == [("3", "failed")]

        resources = {"bridge": BridgeResource(home=str(settings.home)),
                     "duckdb": DuckDBResource(database=str(settings.database_path))}
        for _ in range(3):
            problem_alert_sensor(dg.build_sensor_context(instance=instance, resources=resources,
                                                         definitions=build_definitions(settings.home)))
        (message,) = receiver.texts()
        assert message.startswith("1 document(s) failed to post to qbo (2026-09)") and "3 (invoice" in message


def test_every_sensor_schedule_and_job_is_described_and_every_asset_owned_tagged_and_linked_to_its_code(settings):
    from pathlib import Path

    defs = build_definitions(settings.home)
    repository = defs.get_repository_def()
    automation = [*repository.sensor_defs, *repository.schedule_defs,
                  *(j for j in repository.get_all_jobs() if not j.name.startswith("__"))]
    assert automation and all((a.description or "").strip() for a in automation), \
        [a.name for a in automation if not (a.description or "").strip()]
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners and {"bridge/domain", "bridge/source", "bridge/destination"} <= set(node.tags), key
        (reference,) = node.metadata["dagster/code_references"].code_references
        assert Path(reference.file_path).is_file() and reference.line_number > 0
        for spec in node.assets_def.check_specs if node.is_partitioned else ():
            assert spec.partitions_def == node.partitions_def, spec.key     # each evaluation names its period
