"""When runs happen: weighted UTC hours over the seeded history.

When runs happen: a history of whole UTC hours, each weighted by the weekday and the hour
(few runs at night and at weekends, most in working hours) and by a slow growth of the
organisation. A position in ``[0, 1)`` of the history maps to a moment through the cumulative
weights, so equally spaced positions come out as CI traffic."""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime
from itertools import accumulate

from cipulse.demo.catalog import GROWTH_OVER_HISTORY, HOURLY_TRAFFIC, WEEKDAY_TRAFFIC

HOUR = 3600
DAY = 24 * HOUR


def traffic(epoch: int) -> float:
    """Relative CI traffic in the UTC hour that ``epoch`` falls in."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return WEEKDAY_TRAFFIC[moment.weekday()] * HOURLY_TRAFFIC[moment.hour]


class Timeline:
    """The ``days`` before ``end`` (epoch seconds, on an hour boundary)."""

    def __init__(self, end: int, days: int) -> None:
        if end % HOUR:
            raise ValueError("a timeline ends on a whole hour")
        self.end = end
        self.start = end - days * DAY
        hours = days * 24
        weights = [
            traffic(self.start + hour * HOUR)
            * (1 + (GROWTH_OVER_HISTORY - 1) * hour / max(1, hours - 1))
            for hour in range(hours)
        ]
        self._total = sum(weights)
        self._mean = self._total / hours
        self._weights = weights
        self._cumulative = list(accumulate(weights))

    def at(self, position: float) -> tuple[int, float]:
        """The moment (epoch seconds) at ``position`` in ``[0, 1)`` of the history, and the
        load then: the hour's traffic relative to the average hour."""
        target = position * self._total
        hour = min(bisect_right(self._cumulative, target), len(self._weights) - 1)
        weight = self._weights[hour]
        before = self._cumulative[hour] - weight
        within = min(max((target - before) / weight, 0.0), 1.0)
        return self.start + int((hour + within) * HOUR), weight / self._mean
