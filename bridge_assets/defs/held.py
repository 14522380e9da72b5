"""held_document_decision: a person's decision about a document held because its number was reused.

Launch it from the UI (Jobs > held_document_decision > Launchpad) with, for example:

    ops:
      held_document_decision_op:
        config: {doc_key: "sedona:invoice:101349", destination: "", decision: "release"}

`release` lets the next run of the document's period apply the new version as an update, once; `reject`
keeps what the books hold and refuses that version (a later, different version is judged again). The
same decision again changes nothing. The work is `bridge_assets.ledger.number_reuse` (no Dagster there).
"""

import hashlib

import dagster as dg
from dagster_duckdb import DuckDBResource

from bridge_assets.ledger import number_reuse

from .decorators import JOB_TAGS, WRITER_POOL, bridge_sensor
from .jobs import bridge_job
from .metadata import md_table
from .partitions import RANGE_END, RANGE_START
from .resources import BUSY, read_briefly, ledger_database


class HeldDecisionConfig(dg.Config):
    doc_key: str
    """The held document: its doc_key (sedona:invoice:101349) or its number."""
    destination: str = ""
    """One destination (`qbo`, `staging_csv`, `qbd_iif`); empty: every destination holding it."""
    decision: str
    """`release` (apply the new version) or `reject` (keep the posted one)."""


@dg.op(pool=WRITER_POOL)
def held_document_decision_op(context: dg.OpExecutionContext, config: HeldDecisionConfig,
                              duckdb: DuckDBResource) -> dg.Output:
    """Records the decision per destination; a run of the document's period then applies it."""
    with ledger_database(duckdb).transaction() as con:
        try:
            decided = number_reuse.decide(con, config.doc_key.strip(), config.decision.strip().lower(),
                                          context.run_id, destination=config.destination.strip() or None)
        except number_reuse.DecisionError as problem:
            raise dg.Failure(description=f"Nothing was changed: {problem}") from None
    for item in decided:
        context.log.info(f"{item.destination}: {item.doc_key} ({item.period}) {item.what}")
    return dg.Output(
        [item.doc_key for item in decided],
        metadata={"decisions": md_table(["destination", "document", "period", "decision", "what"],
                                        [(d.destination, d.doc_key, d.period, d.decision, d.what) for d in decided])},
    )


@dg.job(executor_def=dg.in_process_executor, tags=JOB_TAGS,
        description="Decide about a document held because its number was reused: release (apply) or reject (keep).")
def held_document_decision():
    held_document_decision_op()


@bridge_sensor(job=bridge_job, minimum_interval_seconds=60)
def released_documents_sensor(context: dg.SensorEvaluationContext, duckdb: DuckDBResource) -> dg.SensorResult | dg.SkipReason:
    """A person released a document held because its number was reused: one run of its period applies
    the new version (keyed by the released versions, so the same release never runs twice). Documents
    still waiting for a decision are never run for: only a person moves them."""
    waiting, unread = read_briefly(duckdb, number_reuse.released_waiting, lock_timeout_s=5)
    if unread:
        return dg.SkipReason("the bridge database is busy with a run; looking again next tick" if unread == BUSY
                             else "no decision has been taken yet")
    by_period: dict[str, list[str]] = {}
    for period, destination, doc_key, digest in waiting:
        by_period.setdefault(period, []).append(f"{destination}|{doc_key}|{digest}")
    if not by_period:
        return dg.SkipReason("no released document waits to be applied")
    requests = [dg.RunRequest(run_key="released:" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24],
                              tags={RANGE_START: period, RANGE_END: period, "bridge/released": str(len(keys))})
                for period, keys in sorted(by_period.items())]
    for request in requests:
        context.log.info(f"{request.tags['bridge/released']} released document(s) of {request.tags[RANGE_START]}: "
                         "requesting the run that applies them")
    return dg.SensorResult(run_requests=requests)
