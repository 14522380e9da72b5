"""A re-run of periods whose files, pulls, settings and code did not change skips the transform (issue 12 point 3)."""

from __future__ import annotations

import dataclasses

from bridge_assets.ledger import transform
from bridge_assets.sources.sedona_export import intake

from .conftest import line, write_export


def _receive(db, settings, name, rows):
    received, refused = intake.receive_all(db.connect, [write_export(settings.inbox / name, rows)], settings.folders)
    assert received and not refused


def test_a_rerun_with_nothing_changed_maps_nothing_and_keeps_the_check_results(db, settings):
    _receive(db, settings, "a.csv", [line(number="1"), line(number="2", total="")])
    first = transform.transform(db, ["2026-09"], settings)
    assert not first.skipped and first.documents == 2
    again = transform.transform(db, ["2026-09"], settings)
    assert again.skipped and again.documents == 2 and again.since is not None
    assert again.outcomes == first.outcomes


def test_a_new_file_a_new_setting_or_a_changed_document_runs_the_transform_again(db, settings):
    _receive(db, settings, "a.csv", [line(number="1")])
    assert not transform.transform(db, ["2026-09"], settings).skipped
    _receive(db, settings, "b.csv", [line(number="2")])
    after_file = transform.transform(db, ["2026-09"], settings)
    assert not after_file.skipped and after_file.documents == 2
    prefixed = dataclasses.replace(settings, doc_number_prefix="S-")
    assert not transform.transform(db, ["2026-09"], prefixed).skipped
    assert transform.transform(db, ["2026-09"], prefixed).skipped
    with db.connect() as con:              # an edit by hand in the canonical tables
        con.execute("UPDATE accounting_documents SET customer_name = 'edited' WHERE source_id = '1'")
    redone = transform.transform(db, ["2026-09"], prefixed)
    assert not redone.skipped and redone.result.sedona.hashed == 1       # the edited one is built and hashed again
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM accounting_documents WHERE customer_name = 'edited'").fetchone() == (0,)


def test_each_period_is_its_own_transform_and_another_periods_new_documents_count(db, settings):
    _receive(db, settings, "a.csv", [line(number="1"), line(number="2", date="10/01/2026", start="10/01/2026",
                                                             end="10/31/2026")])
    assert not transform.transform(db, ["2026-09"], settings).skipped
    assert not transform.transform(db, ["2026-10"], settings).skipped
    # 2026-10's documents are new to 2026-09 (a credit of 2026-09 may apply to one): it runs once more
    assert not transform.transform(db, ["2026-09"], settings).skipped
    assert transform.transform(db, ["2026-10"], settings).skipped     # 2026-09's second run changed nothing
    assert transform.transform(db, ["2026-09"], settings).skipped
    assert not transform.transform(db, ["2026-09", "2026-10"], settings).skipped   # a range is its own transform
    assert transform.transform(db, ["2026-09", "2026-10"], settings).skipped


def test_a_document_unchanged_since_the_last_mapping_keeps_its_content_hash_without_being_hashed_again(db, settings,
                                                                                                      tmp_path):
    from bridge_assets.runtime.storage import Database

    _receive(db, settings, "a.csv", [line(number="1"), line(number="2")])
    assert transform.transform(db, ["2026-09"], settings).result.sedona.hashed == 2
    _receive(db, settings, "b.csv", [line(number="3"), line(number="2", rate="39.95", amount="39.95", total="39.95")])
    again = transform.transform(db, ["2026-09"], settings)
    assert again.result.sedona.hashed == 2               # the new one and the changed one; the first is kept
    with db.connect() as con:
        kept = con.execute("SELECT doc_key, content_hash FROM accounting_documents ORDER BY doc_key").fetchall()
    # the same files mapped in a fresh database, every document hashed: the same content hashes
    fresh_settings = dataclasses.replace(settings, database_path=tmp_path / "fresh.duckdb")
    fresh = Database(fresh_settings.database_path)
    for name in ("a.csv", "b.csv"):
        archived = next(settings.folders.archive.glob(f"*_{name}"))
        intake.receive_all(fresh.connect, [archived], settings.folders)
    assert transform.transform(fresh, ["2026-09"], fresh_settings).result.sedona.hashed == 3
    with fresh.connect() as con:
        assert con.execute("SELECT doc_key, content_hash FROM accounting_documents ORDER BY doc_key").fetchall() == kept
