"""The open billing period on an interval of the company's choosing (`BRIDGE_RUN_INTERVAL`), besides the
nightly run: hourly, every N hours, or daily at a time, in the company's time zone (`BRIDGE_TIMEZONE`).
Not configured: no such schedule. One per company once the bridge keeps several companies."""

from zoneinfo import ZoneInfo

import dagster as dg

from bridge_assets.runtime.intervals import RunInterval, parse_interval
from bridge_assets.runtime.settings import BridgeSettings

from .jobs import bridge_job
from .partitions import RANGE_END, RANGE_START

SCHEDULE_NAME = "interval_open_period"


def interval_schedule(settings: BridgeSettings) -> dg.ScheduleDefinition | None:
    """The schedule `settings.run_interval` asks for, named and described with its interval (what the UI
    shows), or None when none is configured. A setting it cannot read stops the code location from
    loading, with the sentence saying how to write it."""
    if not settings.run_interval:
        return None
    interval = parse_interval(settings.run_interval)
    zone = settings.timezone

    def open_period(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        moment = context.scheduled_execution_time.astimezone(ZoneInfo(zone))
        period = moment.strftime("%Y-%m")     # the open period where the company is
        return dg.RunRequest(run_key=f"interval-{moment.isoformat()}",
                             tags={RANGE_START: period, RANGE_END: period, "bridge/interval": interval.text})

    return dg.ScheduleDefinition(
        name=SCHEDULE_NAME, job=bridge_job, cron_schedule=interval.cron, execution_timezone=zone,
        execution_fn=open_period, default_status=dg.DefaultScheduleStatus.RUNNING,
        description=_description(interval, zone),
        tags={"bridge/interval": interval.text},
    )


def _description(interval: RunInterval, zone: str) -> str:
    return (f"Runs the open billing period {interval.describe} ({zone}; BRIDGE_RUN_INTERVAL={interval.text!r}), "
            "receiving anything waiting in the inbox and from the API sources; re-running is safe: unchanged "
            "documents are skipped, changed ones updated. The nightly run still covers the previous period.")


interval_open_period = interval_schedule(BridgeSettings.from_env())
