"""bridge_job: the whole pipeline for a billing period or a range of them."""

import dagster as dg

from .decorators import JOB_TAGS

# Every asset of the code location: the nightly schedule and the sensors run the whole way, from
# receiving to reconciling. In-process: the steps run one after another anyway (each reads what the
# previous wrote), and DuckDB allows one writing process per file.
bridge_job = dg.define_asset_job(
    "bridge_job",
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    tags=JOB_TAGS,
    description="Receive exports, build canonical documents, plan and post, read the books back and reconcile, "
                "for a billing period or a range of them.",
)
