"""The billing periods every partitioned asset is kept by, and the run tags of a range of them."""

import dagster as dg

from bridge_assets.runtime.settings import BridgeSettings

# Billing periods. end_offset=1 makes the open month a partition, so today's invoices have a home.
billing_periods = dg.MonthlyPartitionsDefinition(
    start_date=BridgeSettings.from_env().first_period, fmt="%Y-%m", end_offset=1
)

# The run tags of a single-run backfill over a range of billing periods (sensors, schedules, the CLI).
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
