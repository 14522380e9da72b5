import os

import dagster as dg

# Billing periods. end_offset=1 makes the open month a partition, so today's invoices have a home.
billing_periods = dg.MonthlyPartitionsDefinition(
    start_date=os.environ.get("BRIDGE_FIRST_PERIOD", "2025-01"), fmt="%Y-%m", end_offset=1
)

# The run tags of a single-run backfill over a range of billing periods (sensors, schedules, the CLI).
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
