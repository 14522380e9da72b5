"""How often the open billing period runs, as configuration: `BRIDGE_RUN_INTERVAL`.

Accepted (case and spaces do not matter), always in the company's time zone (`BRIDGE_TIMEZONE`):

    hourly | every hour            at minute 0 of every hour
    every N hours                  N from 1 to 12 and a divisor of 24 (1, 2, 3, 4, 6, 8, 12), so the runs
                                   fall at the same hours every day (00:00, 00:00+N, ...)
    daily at HH:MM                 once a day at that time (24-hour clock)

Anything else is refused with a sentence naming the setting and these forms.
"""

from __future__ import annotations

import dataclasses
import re

SETTING = "BRIDGE_RUN_INTERVAL"
DIVISORS_OF_A_DAY = (1, 2, 3, 4, 6, 8, 12)


class IntervalNotUnderstood(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class RunInterval:
    text: str           # as configured
    cron: str
    describe: str       # for people: "every hour, at minute 0"


def parse_interval(text: str) -> RunInterval:
    spoken = " ".join(text.lower().split())
    if spoken in ("hourly", "every hour", "every 1 hour", "every 1 hours"):
        return RunInterval(text, "0 * * * *", "every hour, at minute 0")
    every = re.fullmatch(r"every (\d{1,2}) hours?", spoken)
    if every:
        hours = int(every.group(1))
        if hours not in DIVISORS_OF_A_DAY:
            raise IntervalNotUnderstood(
                f"{SETTING}={text!r}: every N hours needs N in {', '.join(map(str, DIVISORS_OF_A_DAY))} "
                "(a divisor of 24, so the runs fall at the same hours every day)")
        if hours == 1:
            return RunInterval(text, "0 * * * *", "every hour, at minute 0")
        return RunInterval(text, f"0 */{hours} * * *", f"every {hours} hours, from midnight, at minute 0")
    daily = re.fullmatch(r"daily at (\d{1,2}):(\d{2})", spoken)
    if daily:
        hour, minute = int(daily.group(1)), int(daily.group(2))
        if hour > 23 or minute > 59:
            raise IntervalNotUnderstood(f"{SETTING}={text!r}: {hour:02d}:{minute:02d} is not a time of day")
        return RunInterval(text, f"{minute} {hour} * * *", f"every day at {hour:02d}:{minute:02d}")
    raise IntervalNotUnderstood(
        f"{SETTING}={text!r} is not understood; write 'hourly', 'every N hours' (N in "
        f"{', '.join(map(str, DIVISORS_OF_A_DAY))}) or 'daily at HH:MM' (24-hour clock, the company's time zone)")
