import dagster as dg

from .assets import assets
from .reconciliation import reconciliation_assets

# In-process: the steps run one after another anyway (each reads what the previous wrote), and
# DuckDB allows one writing process per file.
bridge_job = dg.define_asset_job(
    "bridge_job",
    selection=dg.AssetSelection.assets(*assets, *reconciliation_assets),
    executor_def=dg.in_process_executor,
    description="Receive exports, build canonical documents, plan and post, read the books back and reconcile, "
                "for a billing period or a range of them.",
)
