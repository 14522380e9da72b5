"""held_document_decision: a person's decision about a document held because its number was reused.

Launch it from the UI (Jobs > held_document_decision > Launchpad) with, for example:

    ops:
      held_document_decision_op:
        config: {doc_key: "sedona:invoice:101349", destination: "", decision: "release"}

`release` lets the next run of the document's period apply the new version as an update, once; `reject`
keeps what the books hold and refuses that version (a later, different version is judged again). The
same decision again changes nothing. The work is `bridge_assets.number_reuse` (no Dagster there).
"""

import dagster as dg

from bridge_assets import number_reuse

from .metadata import md_table
from .resources import BridgeResource


class HeldDecisionConfig(dg.Config):
    doc_key: str
    """The held document: its doc_key (sedona:invoice:101349) or its number."""
    destination: str = ""
    """One destination (`qbo`, `staging_csv`, `qbd_iif`); empty: every destination holding it."""
    decision: str
    """`release` (apply the new version) or `reject` (keep the posted one)."""


@dg.op(pool="duckdb_writer")
def held_document_decision_op(context: dg.OpExecutionContext, config: HeldDecisionConfig,
                              bridge: BridgeResource) -> dg.Output:
    """Records the decision per destination; a run of the document's period then applies it."""
    with bridge.database().transaction() as con:
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


@dg.job(executor_def=dg.in_process_executor,
        description="Decide about a document held because its number was reused: release (apply) or reject (keep).")
def held_document_decision():
    held_document_decision_op()
