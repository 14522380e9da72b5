"""The nightly run of the previous and the open billing period."""

import datetime as dt

import dagster as dg

from bridge_assets.runtime.settings import BridgeSettings

from .decorators import bridge_schedule
from .jobs import bridge_job
from .partitions import RANGE_END, RANGE_START


def open_and_previous_period(day: dt.date) -> tuple[str, str]:
    first = day.replace(day=1)
    previous = (first - dt.timedelta(days=1)).replace(day=1)
    return previous.strftime("%Y-%m"), first.strftime("%Y-%m")


_settings = BridgeSettings.from_env()


# Written by hand rather than built from the partitioned job: that would target only the open month,
# and late credits and re-exports land in the month that just closed.
@bridge_schedule(job=bridge_job, cron_schedule=_settings.nightly_cron, execution_timezone=_settings.timezone)
def nightly_open_and_previous_period(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every night: receive anything waiting in the inbox and re-run the previous and the open billing
    period (re-running is safe: unchanged documents are skipped, changed ones updated)."""
    previous, current = open_and_previous_period(context.scheduled_execution_time.date())
    return dg.RunRequest(
        run_key=f"nightly-{context.scheduled_execution_time.date().isoformat()}",
        tags={RANGE_START: previous, RANGE_END: current},
    )

