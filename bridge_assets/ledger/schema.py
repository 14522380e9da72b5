"""The ledger's tables (postings and events, the plan, document versions and held decisions, revert
plans), their one definition and their migrations, made once per process per database on top of the
canonical tables the plan's payload view reads (runtime/schema_once.py)."""

from __future__ import annotations

import duckdb

from bridge_assets.canonical import schema as canonical_schema
from bridge_assets.model import hash_sql as canonical_sql
from bridge_assets.runtime.schema_once import made_once

POSTINGS_DDL = """
CREATE TABLE IF NOT EXISTS ledger_postings (
    destination VARCHAR NOT NULL, doc_key VARCHAR NOT NULL, period VARCHAR NOT NULL,
    doc_type VARCHAR NOT NULL, doc_number VARCHAR NOT NULL,
    content_hash VARCHAR,            -- what the destination holds, as far as the ledger knows
    sending_hash VARCHAR,            -- the content in flight while state = 'sending'
    sending_action VARCHAR,
    failed_hash VARCHAR,             -- the content a definitive failure was about
    state VARCHAR NOT NULL,
    dest_id VARCHAR, dest_doc_number VARCHAR, sync_token VARCHAR,
    request_id VARCHAR, generation INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
    last_error_code VARCHAR, last_error VARCHAR,
    first_posted_at TIMESTAMP, last_posted_at TIMESTAMP, last_run_id VARCHAR, updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (destination, doc_key)
);
-- The source's content when a revert undid the document (state = 'reverted'): a normal run does not post
-- that content again (it would undo the bookkeeper's revert) until it changes or is released.
ALTER TABLE ledger_postings ADD COLUMN IF NOT EXISTS reverted_hash VARCHAR;
CREATE SEQUENCE IF NOT EXISTS ledger_event_seq START 1;
CREATE TABLE IF NOT EXISTS ledger_events (
    event_id BIGINT PRIMARY KEY DEFAULT nextval('ledger_event_seq'),
    doc_key VARCHAR NOT NULL, destination VARCHAR NOT NULL, run_id VARCHAR, action VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL, request_id VARCHAR, content_hash VARCHAR, http_status INTEGER,
    error_code VARCHAR, message VARCHAR, before VARCHAR, after VARCHAR, "at" TIMESTAMP NOT NULL
);
"""

VERSIONS_DDL = """
CREATE TABLE IF NOT EXISTS document_versions (
    doc_key VARCHAR NOT NULL, content_hash VARCHAR NOT NULL, period VARCHAR NOT NULL,
    customer_key VARCHAR NOT NULL, customer_name VARCHAR NOT NULL, total DECIMAL(18,2) NOT NULL,
    txn_date DATE NOT NULL, first_planned_at TIMESTAMP NOT NULL,
    PRIMARY KEY (doc_key, content_hash)
);
CREATE TABLE IF NOT EXISTS held_decisions (
    destination VARCHAR NOT NULL, doc_key VARCHAR NOT NULL, content_hash VARCHAR NOT NULL,
    decision VARCHAR NOT NULL,             -- release | reject
    decided_at TIMESTAMP NOT NULL, run_id VARCHAR, what VARCHAR NOT NULL,
    PRIMARY KEY (destination, doc_key, content_hash)
);
"""

REVERT_DDL = """
CREATE TABLE IF NOT EXISTS revert_plans (
    plan_id VARCHAR PRIMARY KEY, destination VARCHAR NOT NULL, run_id VARCHAR, period VARCHAR, source VARCHAR,
    created_at TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL,            -- previewed | executed | incomplete (some outcome still unknown)
    executed_at TIMESTAMP, executed_by VARCHAR
);
CREATE TABLE IF NOT EXISTS revert_steps (
    plan_id VARCHAR NOT NULL, step_no INTEGER NOT NULL, doc_key VARCHAR NOT NULL, doc_type VARCHAR NOT NULL,
    doc_number VARCHAR NOT NULL, period VARCHAR NOT NULL, customer VARCHAR, total DECIMAL(18,2),
    action VARCHAR NOT NULL,            -- void | delete | restore
    dest_id VARCHAR NOT NULL, before_json VARCHAR, restored_hash VARCHAR,
    expected_state VARCHAR NOT NULL, expected_hash VARCHAR,   -- the ledger row as previewed
    reason VARCHAR NOT NULL,
    state VARCHAR NOT NULL,             -- planned | reverting | reverted | failed | held | skipped | by_hand
    message VARCHAR, updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (plan_id, step_no)
);
CREATE TABLE IF NOT EXISTS revert_left_out (
    plan_id VARCHAR NOT NULL, doc_key VARCHAR NOT NULL, doc_type VARCHAR NOT NULL, doc_number VARCHAR NOT NULL,
    reason VARCHAR NOT NULL
);
"""

PLAN_DDL = """
CREATE TABLE IF NOT EXISTS posting_plan (
    period VARCHAR NOT NULL, destination VARCHAR NOT NULL, doc_key VARCHAR NOT NULL, doc_type VARCHAR NOT NULL,
    doc_number VARCHAR NOT NULL, customer_key VARCHAR NOT NULL, total DECIMAL(18,2) NOT NULL, txn_date DATE NOT NULL,
    action VARCHAR NOT NULL, reason VARCHAR NOT NULL, content_hash VARCHAR NOT NULL, posted_hash VARCHAR,
    ledger_state VARCHAR, dest_id VARCHAR, generation INTEGER NOT NULL, request_id VARCHAR NOT NULL,
    planned_at TIMESTAMP NOT NULL,
    PRIMARY KEY (destination, doc_key)
);
-- why a `hold` (period_closed: posts when the books reopen; number_reused: a person decides) or `by_hand` (its code)
ALTER TABLE posting_plan ADD COLUMN IF NOT EXISTS hold_code VARCHAR;
-- The payload that would be sent is the document's canonical JSON, built from the stored document and
-- its lines by the SQL that hashed it; the view shows it beside the plan instead of copying 400,000
-- documents into a second table.
CREATE OR REPLACE VIEW posting_plan_payloads AS
    SELECT p.*, j.canonical_json AS payload
    FROM posting_plan p
    JOIN ({canonical}) j ON j.doc_key = p.doc_key AND j.content_hash = p.content_hash;
""".replace(
    "{canonical}", canonical_sql.canonical_json_sql(
        "SELECT * FROM accounting_documents", "SELECT * FROM accounting_document_lines", "content_hash",
        applications="SELECT * FROM accounting_document_applications"))


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The ledger's tables (and the canonical ones under them) exist and are migrated in `con`'s database."""
    canonical_schema.ensure_schema(con)
    made_once(con, "ledger", _create)


def _create(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in (POSTINGS_DDL, VERSIONS_DDL, REVERT_DDL, PLAN_DDL):
        con.execute(ddl)
