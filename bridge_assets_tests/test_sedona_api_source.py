"""The SedonaAPI source: the client against the emulator on loopback, extraction with a watermark, and
the promise that the API path and the export-file path give the same canonical documents.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import math
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest

from bridge_assets.sources.sedona_export import intake
from bridge_assets.ledger import store as ledger
from bridge_assets.sources.sedona_export import mapping
from bridge_assets.ledger import plan as planning
from bridge_assets.sandbox.book import Book, generate_book
from bridge_assets.sandbox.export_writer import write_exports
from bridge_assets.sandbox.sedona_api import EmulatorHandle, EmulatorSettings, run_emulator
from bridge_assets.runtime.settings import BridgeSettings
from bridge_assets.sources.sedona_api import rows as sedona_api_rows
from bridge_assets.sources.sedona_api.client import SedonaApiClient
from bridge_assets.sources.sedona_api.config import (
    SedonaApiAuthError,
    SedonaApiConfig,
    SedonaApiConfigError,
    SedonaApiUnavailable,
)
from bridge_assets.sources.sedona_api.extract import Watermark, extract_period
from bridge_assets.sources.sedona_api.records import SedonaRecord, parse_sedona_time
from bridge_assets.sources.sedona_api.store import ensure_schema, load_watermark, save_records, save_watermark
from bridge_assets.runtime.storage import Database

PERIOD = "2026-09"          # Open in the seeded company, so the bookkeeper may still change it
INVOICES = ("CustomerInvoice",)


@pytest.fixture(scope="module")
def book() -> Book:
    return generate_book(5, 300, "2026-08", 3)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Iterator[EmulatorHandle]:
    with run_emulator(tmp_path_factory.mktemp("sedona") / "company.sqlite3") as handle:
        yield handle


@pytest.fixture
def sedona(emulator: EmulatorHandle, book: Book) -> EmulatorHandle:
    emulator.admin.reset()
    emulator.admin.seed_book(book)
    return emulator


def client_for(handle: EmulatorHandle, **overrides: Any) -> SedonaApiClient:
    """A client configured the way production configures it: from SEDONA_API_* variables."""
    overrides = {"page_size": 7, "backoff_s": 0.01, "backoff_max_s": 0.05, **overrides}
    return SedonaApiClient(SedonaApiConfig.from_env(handle.client_environment(), **overrides))


@pytest.fixture
def client(sedona: EmulatorHandle) -> Iterator[SedonaApiClient]:
    with client_for(sedona) as api:
        yield api


def invoice_numbers(records: list[SedonaRecord]) -> list[int]:
    return sorted(int(r.number) for r in records if r.model == "CustomerInvoice")


def book_invoice_numbers(book: Book, period: str) -> list[int]:
    return sorted(d.number for d in book.invoices if d.period == period and d.doc_type == "invoice")


def data_requests(handle: EmulatorHandle) -> list[dict[str, Any]]:
    return [e for e in handle.admin.journal() if e["ordinal"] is not None]


# --- reading -------------------------------------------------------------------------------------

def test_a_period_is_read_across_many_pages(sedona: EmulatorHandle, client: SedonaApiClient, book: Book):
    records, watermark = extract_period(client, PERIOD, models=INVOICES)
    expected = book_invoice_numbers(book, PERIOD)
    assert invoice_numbers(records) == expected                       # each once, none missing
    pages = [e for e in data_requests(sedona) if e["path"] == "/api/CustomerInvoice"]
    assert len(pages) == math.ceil(len(expected) / 7) + 1          # an empty page ends the list
    assert all(r.period == PERIOD and r.raw_json.startswith("{") for r in records)
    first = records[0].fields
    assert isinstance(first["InvoiceDate"], dt.date) and first["Items"][0]["Amount"].as_tuple()
    assert watermark.marks["CustomerInvoice"].modified == max(r.modified for r in records)


def test_skip_take_paging_an_envelope_and_a_silently_cut_page_size(tmp_path, book: Book):
    settings = EmulatorSettings(auth_scheme="api_key", paging="skip", envelope="object", max_page_size=5,
                                timestamp_format="iso", error_style="text", invoice_amount_includes_tax=True)
    with run_emulator(tmp_path / "other.sqlite3", settings) as handle:
        handle.admin.seed_book(book)
        with client_for(handle, page_size=50) as api:
            records, watermark = extract_period(api, PERIOD, models=("Customer", "CustomerSite", *INVOICES))
            assert invoice_numbers(records) == book_invoice_numbers(book, PERIOD)
            by_model = collections.defaultdict(list)
            for record in records:
                by_model[record.model].append(record)
            rows = sedona_api_rows.export_rows(by_model["CustomerInvoice"], [], by_model["Customer"],
                                               by_model["CustomerSite"], invoice_amount_includes_tax=True).rows
            totals = {int(row["invoice_number"]): Decimal(row["invoice_total"]) for row in rows}
            assert totals == {d.number: d.total for d in book.invoices if d.period == PERIOD
                              and d.doc_type == "invoice"}
            mark = watermark.marks["CustomerInvoice"]
            assert "T" in mark.modified_text                            # the server's own format, kept
            again, _ = extract_period(api, PERIOD, watermark, models=("Customer", "CustomerSite", *INVOICES))
            assert again == []
            assert [p.status for p in api.accounting_periods()] == ["Closed", "Open", "Open", "Future"]


def test_accounting_periods_say_which_accept_posting(sedona: EmulatorHandle, client: SedonaApiClient):
    sedona.admin.set_period_status("2026-08", "Re-Open")
    periods = {p.period: p for p in client.accounting_periods()}
    assert {k: (p.status, p.accepts_posting) for k, p in periods.items()} == {
        "2026-08": ("Re-Open", True), "2026-09": ("Open", True), "2026-10": ("Open", True),
        "2026-11": ("Future", False)}
    assert periods["2026-09"].end == dt.date(2026, 9, 30)


def test_dates_on_the_wire_parse_and_the_null_date_is_none():
    assert parse_sedona_time("09/01/2026") == dt.date(2026, 9, 1)
    assert parse_sedona_time("12/30/1899") is None
    assert parse_sedona_time("1899-12-30T00:00:00") is None
    assert parse_sedona_time("09/01/2026 17:30:00") == dt.datetime(2026, 9, 1, 17, 30)
    with pytest.raises(ValueError):
        parse_sedona_time("2026-13-01")


# --- failures ------------------------------------------------------------------------------------

def test_an_expired_token_mid_run_is_renewed_once(sedona: EmulatorHandle, client: SedonaApiClient, book: Book):
    sedona.admin.set_faults(expire_tokens_on_request=[3])
    records, _ = extract_period(client, PERIOD, models=INVOICES)
    assert invoice_numbers(records) == book_invoice_numbers(book, PERIOD)
    assert client.token_requests == 2
    outcomes = [e["outcome"] for e in sedona.admin.journal()]
    assert outcomes.count("unauthorized") == 1 and outcomes.count("token") == 2


def test_a_token_refused_right_after_renewal_is_an_error_not_a_loop(sedona: EmulatorHandle, client: SedonaApiClient):
    sedona.admin.set_faults(expire_tokens_on_request=[2, 3])
    with pytest.raises(SedonaApiAuthError, match="fresh token was refused"):
        extract_period(client, PERIOD, models=INVOICES)
    assert client.token_requests == 2


def test_a_5xx_on_one_page_is_retried_without_duplicates_or_gaps(sedona: EmulatorHandle, client: SedonaApiClient,
                                                                 book: Book):
    sedona.admin.set_faults(fail_on_requests=[3, 6], fail_status=503)
    records, _ = extract_period(client, PERIOD, models=INVOICES)
    numbers = invoice_numbers(records)
    assert numbers == book_invoice_numbers(book, PERIOD) and len(set(numbers)) == len(numbers)
    pages = [(e["query"], e["outcome"]) for e in data_requests(sedona)]
    failed = [query for query, outcome in pages if outcome == "injected"]
    assert len(failed) == 2
    for query in failed:                                   # the same page asked again, and answered
        assert (query, "ok") in pages


def test_a_tenant_that_stays_down_gives_up_with_a_clear_error(sedona: EmulatorHandle):
    sedona.admin.set_faults(fail_next=[503, 502, 500])
    with client_for(sedona, max_attempts=3) as api, pytest.raises(SedonaApiUnavailable, match="after 3 tries"):
        extract_period(api, PERIOD, models=INVOICES)


# --- the watermark -------------------------------------------------------------------------------

def test_records_sharing_the_watermark_stamp_are_all_taken_across_two_runs(sedona: EmulatorHandle,
                                                                          client: SedonaApiClient):
    invoices = sorted((r for r in sedona.admin.records("CustomerInvoice") if r["InvoiceDate"].startswith("09/")),
                      key=lambda r: r["InvoiceNumber"])
    a, b, c, d = invoices[:4]
    stamp = "11/20/2026 09:00:00"                           # a batch SedonaOffice is still writing
    for early in (a, b):
        sedona.admin.edit_invoice(early["InvoiceNumber"], {"PONumber": "PO-BATCH", "ModifiedDate": stamp})

    first, watermark = extract_period(client, PERIOD, models=INVOICES)
    mark = watermark.marks["CustomerInvoice"]
    assert mark.modified_text == stamp and set(mark.seen) == {str(a["InvoiceId"]), str(b["InvoiceId"])}
    assert len(first) == len(invoices)

    # The rest of the batch lands with the same stamp after the first run has read: two edits, a new
    # invoice, and `a` changed again within the same second. Asking "after the stamp" would lose them.
    for late in (c, d):
        sedona.admin.edit_invoice(late["InvoiceNumber"], {"PONumber": "PO-BATCH", "ModifiedDate": stamp})
    sedona.admin.edit_invoice(a["InvoiceNumber"], {"PONumber": "PO-BATCH-2", "ModifiedDate": stamp})
    template = {k: v for k, v in b.items() if k not in ("InvoiceId", "InvoiceNumber", "ModifiedDate")}
    created = sedona.admin.create_invoice({**template, "ModifiedDate": stamp})

    second, watermark = extract_period(client, PERIOD, Watermark.from_json(watermark.to_json()), models=INVOICES)
    assert sorted(int(r.number) for r in second) == sorted(
        [a["InvoiceNumber"], c["InvoiceNumber"], d["InvoiceNumber"], created["InvoiceNumber"]])
    assert next(r for r in second if r.number == str(a["InvoiceNumber"])).fields["PONumber"] == "PO-BATCH-2"

    third, _ = extract_period(client, PERIOD, watermark, models=INVOICES)
    assert third == []


def test_a_later_run_reads_changes_and_a_full_pull_notices_a_cancellation(sedona: EmulatorHandle,
                                                                         client: SedonaApiClient, tmp_path):
    db = Database(tmp_path / "api.duckdb")
    with db.transaction() as con:
        records, watermark = extract_period(client, PERIOD)
        save_records(con, records, full_pull_of=PERIOD)
        save_watermark(con, watermark)
    september = sorted(r["InvoiceNumber"] for r in sedona.admin.records("CustomerInvoice")
                       if r["InvoiceDate"].startswith("09/"))
    edited, cancelled = september[0], september[1]
    sedona.admin.edit_invoice(edited, {"PONumber": "PO-7"})
    sedona.admin.delete_invoice(cancelled)

    with db.transaction() as con:
        changes, watermark = extract_period(client, PERIOD, load_watermark(con, PERIOD))
        assert [(r.model, r.number) for r in changes] == [("CustomerInvoice", str(edited))]
        save_records(con, changes)
        save_watermark(con, watermark)
        everything, _ = extract_period(client, PERIOD)
        save_records(con, everything, full_pull_of=PERIOD)
        kept = {n for (n,) in con.execute("SELECT number FROM sedona_api_records WHERE model = 'CustomerInvoice' "
                                          "AND period = ? AND deleted_at IS NULL", [PERIOD]).fetchall()}
        assert str(edited) in kept and str(cancelled) not in kept
        rows = sedona_api_rows.rows_for_period(con, PERIOD).rows
        assert str(cancelled) not in {row["invoice_number"] for row in rows}
        assert {row["po_number"] for row in rows if row["invoice_number"] == str(edited)} == {"PO-7"}


def test_a_run_that_fails_late_resumes_from_its_checkpoint(sedona: EmulatorHandle, book: Book):
    kept: list[SedonaRecord] = []
    checkpoints: list[Watermark] = []

    def checkpoint(records: list[SedonaRecord], watermark: Watermark) -> None:
        kept.extend(records)
        checkpoints.append(watermark)

    models = ("CustomerInvoice", "CustomerCredit")
    with client_for(sedona, page_size=500, max_attempts=2) as api:
        sedona.admin.set_faults(fail_on_requests=[3, 4])     # invoices: pages 1-2; credits fail twice
        with pytest.raises(SedonaApiUnavailable):
            extract_period(api, PERIOD, models=models, checkpoint=checkpoint)
        assert invoice_numbers(kept) == book_invoice_numbers(book, PERIOD)
        sedona.admin.clear_faults()
        resumed, _ = extract_period(api, PERIOD, checkpoints[-1], models=models)
    assert [r.model for r in resumed] == ["CustomerCredit"] * len(resumed)     # nothing read twice
    credits = sorted(d.number for d in book.invoices if d.period == PERIOD and d.doc_type == "credit_memo")
    assert sorted(int(r.number) for r in resumed) == credits


# --- configuration and secrets -------------------------------------------------------------------

def test_configuration_comes_from_the_environment():
    with pytest.raises(SedonaApiConfigError, match="SEDONA_API_BASE_URL"):
        SedonaApiConfig.from_env({})
    with pytest.raises(SedonaApiConfigError, match="SEDONA_API_PASSWORD"):
        SedonaApiConfig.from_env({"SEDONA_API_BASE_URL": "https://acmeapi.sedonaoffice.com/api",
                                  "SEDONA_API_USERNAME": "bridge"})
    config = SedonaApiConfig.from_env({"SEDONA_API_BASE_URL": "https://acmeapi.sedonaoffice.com/api",
                                       "SEDONA_API_USERNAME": "bridge", "SEDONA_API_PASSWORD": "pa55-word",
                                       "SEDONA_API_PAGING": "skip", "SEDONA_API_PAGE_SIZE": "500"})
    assert config.base_url == "https://acmeapi.sedonaoffice.com/api/"
    assert (config.paging, config.page_size, config.auth_scheme) == ("skip", 500, "token")
    assert "pa55-word" not in repr(config)


def test_secrets_stay_out_of_logs_errors_and_reprs(sedona: EmulatorHandle, caplog):
    caplog.set_level(logging.DEBUG)
    environment = sedona.client_environment()
    wrong = {**environment, "SEDONA_API_PASSWORD": "not-the-Password-42"}
    with SedonaApiClient.from_env(wrong) as api, pytest.raises(SedonaApiAuthError) as refused:
        extract_period(api, PERIOD, models=INVOICES)
    assert "SEDONA_API_PASSWORD" in str(refused.value)
    sedona.admin.set_faults(expire_tokens_on_request=[2], fail_on_requests=[4])
    with client_for(sedona) as api:
        extract_period(api, PERIOD, models=INVOICES)
        token = api._token
        shown = repr(api) + repr(api.config)
    for secret in ("not-the-Password-42", environment["SEDONA_API_PASSWORD"], token):
        assert secret not in caplog.text
        assert secret not in str(refused.value) and secret not in shown
    assert "retry" in caplog.text                              # the retries were logged, without secrets


# --- one book, two paths, the same documents -----------------------------------------------------

def _hashes_by_period(db: Database) -> dict[str, set[str]]:
    with db.connect() as con:
        rows = con.execute("SELECT period, content_hash FROM accounting_documents").fetchall()
        rejected = con.execute("SELECT count(*) FROM rejected_documents").fetchone()[0]
    assert rejected == 0
    by_period: dict[str, set[str]] = collections.defaultdict(set)
    for period, content_hash in rows:
        by_period[period].add(content_hash)
    return dict(by_period)


def test_export_files_and_the_api_give_the_same_canonical_documents(sedona: EmulatorHandle, book: Book,
                                                                     tmp_path: Path):
    periods = list(book.periods)

    # The export path, as the assets run it (bridge_assets_tests/conftest.py::receive_and_map).
    settings = BridgeSettings.from_env(tmp_path / "export_home")
    settings.folders.create()
    export_db = Database(tmp_path / "export.duckdb")
    received, refused = intake.receive_all(export_db.connect, write_exports(book, settings.folders.inbox),
                                           settings.folders)
    assert len(received) == len(periods) and not refused
    with export_db.transaction() as con:
        planning.ensure_schema(con)
        mapping.map_periods(con, periods, known_doc_keys_sql=ledger.KNOWN_DOC_KEYS_SQL)

    # The API path: extract each period, keep the records, write them as export rows, map the same way.
    api_db = Database(tmp_path / "api.duckdb")
    with client_for(sedona, page_size=25) as api, api_db.transaction() as con:
        intake.ensure_schema(con)
        ensure_schema(con)
        for period in periods:
            records, watermark = extract_period(api, period)
            save_records(con, records, full_pull_of=period)
            save_watermark(con, watermark)
            converted = sedona_api_rows.rows_for_period(con, period)
            assert converted.skipped == []
            loaded = sedona_api_rows.load_rows(con, period, converted.rows)
            assert loaded.file_name == f"sedonaapi:{period}" and loaded.periods == (period,)
            assert sedona_api_rows.load_rows(con, period, converted.rows).already_loaded
        planning.ensure_schema(con)
        mapping.map_periods(con, periods, known_doc_keys_sql=ledger.KNOWN_DOC_KEYS_SQL)

    from_files, from_api = _hashes_by_period(export_db), _hashes_by_period(api_db)
    assert sorted(from_files) == periods
    assert from_api == from_files
    assert sum(len(h) for h in from_api.values()) == len(book.invoices)
