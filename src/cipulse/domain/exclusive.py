"""Exclusive time: the seconds in which a job ran alone.

Exclusive time: for the jobs of one attempt, the seconds in which each was the only one
running (the part of the pipeline's wall time that only that job can shorten)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

Interval = tuple[str, int | None, int | None]  # (node key, started ms, completed ms)


def exclusive_seconds(intervals: Iterable[Interval]) -> dict[str, float]:
    """Per node key, the seconds it ran alone. Jobs of unknown start or end take no part."""
    events: list[tuple[int, int, str]] = []
    for key, start, end in intervals:
        if start is not None and end is not None and end > start:
            events += [(start, 1, key), (end, -1, key)]
    events.sort(key=lambda event: (event[0], event[1]))
    running: set[str] = set()
    alone: dict[str, float] = defaultdict(float)
    previous = None
    for moment, change, key in events:
        if previous is not None and len(running) == 1 and moment > previous:
            alone[next(iter(running))] += (moment - previous) / 1000
        if change > 0:
            running.add(key)
        else:
            running.discard(key)
        previous = moment
    return dict(alone)
