"""The billing periods every partitioned asset is kept by, and the run tags of a range of them."""

import dagster as dg

from bridge_assets.runtime.periods import first_period
from bridge_assets.runtime.settings import BridgeSettings

# Billing periods, from BRIDGE_FIRST_PERIOD or else the earliest period in the data (or the last 12 months on a
# fresh install; runtime/periods.py). end_offset=1 makes the open month a partition, so today's invoices have a home.
billing_periods = dg.MonthlyPartitionsDefinition(
    start_date=first_period(BridgeSettings.from_env()), fmt="%Y-%m", end_offset=1
)

# The run tags of a single-run backfill over a range of billing periods (sensors, schedules, the CLI).
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
