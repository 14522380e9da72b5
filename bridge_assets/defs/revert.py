"""revert_job: undo a run, or a period, in the destinations. Previews unless confirmed.

Launch it from the UI (Jobs > revert_job > Launchpad) with, for example:

    ops:
      revert_preview:
        config: {run_id: "<the run's id>", confirm: false}

Unconfirmed, it only previews: the `preview` output shows what would be voided, deleted or restored, with
counts and totals, and the plan id of each destination. To carry out exactly that preview, launch it again
with `confirm: true` and `plan_ids: [...]`; `confirm: true` without plan ids previews and carries out the
preview in the same run. The work itself is `bridge_assets.ledger.revert` (no Dagster there).
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from bridge_assets.ledger import revert
from bridge_assets.destinations.registry import opened

from .decorators import JOB_TAGS, WRITER_POOL
from .metadata import md_table
from .resources import BridgeResource, ledger_database


class RevertConfig(dg.Config):
    run_id: str = ""
    """The run to revert (its id, from Runs). Give this or `period`."""
    period: str = ""
    """A billing period YYYY-MM: every document of it the bridge posted. Give this or `run_id`."""
    source: str = ""
    """Only documents of this source (`sedona`, `servicetrade`); empty: all."""
    destination: str = ""
    """One destination (`qbo`, `staging_csv`, `qbd_iif`); empty: every configured destination."""
    confirm: bool = False
    """False: preview only. True: carry the plan out."""
    plan_ids: list[str] = []
    """Plans previewed by an earlier run of this job, to carry out exactly (with confirm: true)."""


def _preview_metadata(plans: list[revert.RevertPlan]) -> dict:
    totals = [(p.destination, action, doc_type, n, f"{total:.2f}") for p in plans for action, doc_type, n, total
              in p.totals()]
    steps = [(p.destination, s.order, s.action, s.doc_type, s.doc_number, s.customer or "",
              "" if s.total is None else f"{s.total:.2f}", s.reason) for p in plans for s in p.steps][:50]
    left_out = [(p.destination, l.doc_number, l.doc_type, l.reason) for p in plans for l in p.left_out][:30]
    return {
        "plans": md_table(["destination", "plan id", "what", "documents to revert", "left alone"],
                          [(p.destination, p.plan_id, p.scope, len(p.steps), len(p.left_out)) for p in plans]),
        "per action and type": md_table(["destination", "action", "type", "documents", "total"], totals),
        "preview (first 50 steps, in order)": md_table(
            ["destination", "#", "action", "type", "number", "customer", "total", "why"], steps),
        "left alone (first 30)": md_table(["destination", "number", "type", "why"], left_out),
        "to revert": sum(len(p.steps) for p in plans),
    }


@dg.op(
    out={"preview": dg.Out(list, description="the plan ids previewed"),
         "confirmed": dg.Out(list, is_required=False, description="the plan ids to carry out (only when confirmed)")},
    pool=WRITER_POOL,
)
def revert_preview(context: dg.OpExecutionContext, config: RevertConfig, bridge: BridgeResource,
                   duckdb: DuckDBResource):
    """What the revert would do in each destination, stored as a plan; nothing is sent."""
    settings = bridge.settings()
    db = ledger_database(duckdb)
    names = [config.destination] if config.destination else list(settings.destinations)
    with db.transaction() as con:
        if config.plan_ids:
            plans = [revert.load_plan(con, plan_id) for plan_id in config.plan_ids]
        else:
            plans = [revert.preview_revert(con, name, run_id=config.run_id or None, period=config.period or None,
                                           source=config.source or None) for name in names]
        unsettled = sum(revert.unsettled(con, plan.destination) for plan in plans)
    for plan in plans:
        context.log.info(f"{plan.scope}: plan {plan.plan_id}, {len(plan.steps)} document(s) to revert, "
                         f"{len(plan.left_out)} left alone")
    if unsettled:
        context.log.warning(f"{unsettled} document(s) an interrupted revert left unfinished are settled first "
                            f"when a revert is carried out")
    ids = [plan.plan_id for plan in plans]
    yield dg.Output(ids, output_name="preview",
                    metadata={**_preview_metadata(plans), "left unfinished by an interrupted revert": unsettled})
    if config.confirm:
        yield dg.Output(ids, output_name="confirmed")
    else:
        context.log.info(f"Preview only. To carry it out, launch revert_job with confirm: true and plan_ids: {ids}")


@dg.op(pool=WRITER_POOL)
def revert_execute(context: dg.OpExecutionContext, bridge: BridgeResource, duckdb: DuckDBResource,
                   confirmed: list) -> dg.Output:
    """Carries out the confirmed plans exactly once; an interrupted revert is settled first."""
    settings = bridge.settings()
    db = ledger_database(duckdb)
    reports = []
    for plan_id in confirmed:
        with db.connect() as con:
            name = revert.load_plan(con, plan_id).destination
        with opened(name, settings) as destination:
            reports.append(revert.execute_revert(db, destination, plan_id, context.run_id, progress=context.log.info))
    for report in reports:
        for number, code, message in report.failures[:20]:
            context.log.warning(f"{report.destination}: {number} {code}: {message}")
    return dg.Output(
        [r.plan_id for r in reports],
        metadata={
            "outcomes": md_table(["destination", "plan id", "outcomes", "settled from an interrupted revert"],
                                 [(r.destination, r.plan_id, r.outcomes, r.settled) for r in reports]),
            "failed or held": md_table(["destination", "document", "code", "what to do"],
                                       [(r.destination, *f) for r in reports for f in r.failures][:30]),
            "files written": dg.MetadataValue.json([f for r in reports for f in r.files]),
        },
    )


@dg.job(executor_def=dg.in_process_executor, tags=JOB_TAGS,
        description="Undo a run, or a billing period, in the destinations: a preview unless confirm is true.")
def revert_job():
    _, confirmed = revert_preview()
    revert_execute(confirmed)
