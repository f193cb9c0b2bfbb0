"""UTC time buckets (hour, day, week) for every time series.

Time buckets (UTC) for time series: the one helper every series uses. Weeks start on
Monday 00:00 UTC."""

from __future__ import annotations

from enum import StrEnum

from cipulse.domain.window import DAY_MS, HOUR_MS
from cipulse.errors import InvalidRequest

WEEK_MS = 7 * DAY_MS
#: 1970-01-05, the first Monday after the epoch: weeks are counted from it.
FIRST_MONDAY_MS = 4 * DAY_MS
MAX_BUCKETS = 5000


class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


_LENGTH = {Interval.HOUR: HOUR_MS, Interval.DAY: DAY_MS, Interval.WEEK: WEEK_MS}


def parse_interval(value: str | None) -> Interval:
    try:
        return Interval(value or "day")
    except ValueError:
        raise InvalidRequest("interval: must be one of hour, day, week") from None


def bucket_start(ms: int, interval: Interval) -> int:
    length = _LENGTH[interval]
    origin = FIRST_MONDAY_MS if interval is Interval.WEEK else 0
    return (ms - origin) // length * length + origin


def bucket_starts(since_ms: int, until_ms: int, interval: Interval) -> list[int]:
    """Every bucket that overlaps ``[since_ms, until_ms)``, empty ones included."""
    length = _LENGTH[interval]
    first = bucket_start(since_ms, interval)
    count = (until_ms - first + length - 1) // length
    if count > MAX_BUCKETS:
        raise InvalidRequest(
            f"interval: {count} buckets of one {interval.value} in this window; at most "
            f"{MAX_BUCKETS} (choose a longer interval or a shorter window)"
        )
    return [first + i * length for i in range(count)]


def bucket_length(interval: Interval) -> int:
    return _LENGTH[interval]
