"""ServiceTrade's webhook messages as runs: the sensor that reads the receiver's spool.

Thin, like the other defs: `sources/servicetrade/webhooks.py` (the receiver, `bridge servicetrade-webhooks`)
and `sources/servicetrade/events.py` (read each named invoice again, one run per period) do the work.
"""

import json

import dagster as dg

from bridge_assets.sources.servicetrade import events, webhooks
from bridge_assets.sources.servicetrade.client import ServiceTradeClient

from .decorators import bridge_sensor
from .partitions import RANGE_END, RANGE_START, billing_periods
from .resources import BridgeResource


@bridge_sensor(job_name="bridge_job", minimum_interval_seconds=30)
def servicetrade_webhook_sensor(context: dg.SensorEvaluationContext, bridge: BridgeResource) -> dg.SensorResult:
    """Turns the ServiceTrade messages the webhook receiver recorded into at most one run per billing
    period: each invoice named is read again from ServiceTrade, and its period runs if it waits in
    `pending_accounting` or has been voided. The run key is the invoices' current state, so a message
    delivered twice, late or out of order starts no second run. A message is removed on the tick after
    the one that read it (the cursor says which), so a failed tick loses nothing. The 10-minute poll
    (`servicetrade_pending_sensor`) stays as the safety net for messages ServiceTrade gave up on."""
    settings = bridge.settings()
    spool = webhooks.InvoiceSpool(webhooks.spool_folder(settings.home))
    read_last_tick = set(json.loads(context.cursor)) if context.cursor else set()
    pending = spool.pending()
    spool.done([n for n in pending if n.key in read_last_tick])
    fresh = [n for n in pending if n.key not in read_last_tick]
    if not fresh:
        return dg.SensorResult(skip_reason="no ServiceTrade messages waiting", cursor=json.dumps([]))
    if not settings.servicetrade_enabled:
        return dg.SensorResult(skip_reason="ServiceTrade is off (SERVICETRADE_BASE_URL is not set); messages kept",
                               cursor=json.dumps([]))
    ids = sorted({i for n in fresh for i in n.invoice_ids})
    with ServiceTradeClient.from_env() as client:
        found = events.runs_for(client, ids, set(billing_periods.get_partition_keys()))
    for note in found.notes:
        context.log.info(f"ServiceTrade {note}")
    requests = [dg.RunRequest(run_key=run.run_key,
                              tags={RANGE_START: run.period, RANGE_END: run.period, "bridge/source": "servicetrade",
                                    "bridge/trigger": "servicetrade-webhook"})
                for run in found.runs]
    for run in found.runs:
        context.log.info(f"ServiceTrade webhook: invoice(s) {', '.join(run.invoice_ids)} need a run of {run.period}")
    keys = sorted(n.key for n in fresh)
    if not requests:
        return dg.SensorResult(skip_reason=f"{len(fresh)} message(s) read; no invoice needs a run", cursor=json.dumps(keys))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(keys))
