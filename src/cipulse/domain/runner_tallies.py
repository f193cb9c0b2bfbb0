"""What the runner rollup adds up per pipeline and label set: a tally.

A ``RunnerTally`` holds, over the job executions directly under their run (level 0) that
ran on one label set (``domain/runners.label_set``; ``UNKNOWN_LABELS`` when the source did
not say), the counts and sums every runner figure follows from. Every field adds up across
pieces, so a window's tally is the sum of its periods'. Plain data; no I/O."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from cipulse.domain.histogram import Histogram

#: The stored label set of executions whose source named none (shown as ``unknown``).
UNKNOWN_LABELS = ""
#: The hours of a UTC day: ``busy_seconds`` and ``queue_by_hour`` have one entry each.
HOURS_OF_DAY = 24

RunnerKey = tuple[str, str]  # (pipeline id, label set or UNKNOWN_LABELS)


def _hours() -> list[float]:
    return [0.0] * HOURS_OF_DAY


@dataclass(slots=True)
class RunnerTally:
    """Counts and sums over the executions of one label set (of one pipeline)."""

    by_status: Counter[str] = field(default_factory=Counter)
    #: Executions per failure class (``tallies.FAILURE_CLASSES``).
    failed_by_class: Counter[str] = field(default_factory=Counter)
    #: Durations of the executions that ended success.
    durations: Histogram = field(default_factory=Histogram)
    #: Queue times of the executions that carry one.
    queue: Histogram = field(default_factory=Histogram)
    #: The same, by the UTC hour of day the execution was queued (its start less its wait).
    queue_by_hour: dict[int, Histogram] = field(default_factory=dict)
    #: Running time by UTC hour of day: each execution's [start, end) cut at the hours.
    busy_seconds: list[float] = field(default_factory=_hours)
    #: Sum of the executions' durations, and of each rounded up to a whole minute (billing);
    #: the same over the *waste* executions (of attempts that failed, were cancelled or
    #: were superseded by a retry of their run).
    job_seconds: float = 0.0
    billable_minutes: int = 0
    waste_job_seconds: float = 0.0
    waste_billable_minutes: int = 0


def add_runner_tally(into: RunnerTally, other: RunnerTally) -> None:
    """Add the tally of other executions to ``into``."""
    into.by_status.update(other.by_status)
    into.failed_by_class.update(other.failed_by_class)
    into.durations.merge(other.durations)
    into.queue.merge(other.queue)
    for hour, histogram in other.queue_by_hour.items():
        into.queue_by_hour.setdefault(hour, Histogram()).merge(histogram)
    into.busy_seconds = [a + b for a, b in zip(into.busy_seconds, other.busy_seconds, strict=True)]
    into.job_seconds += other.job_seconds
    into.billable_minutes += other.billable_minutes
    into.waste_job_seconds += other.waste_job_seconds
    into.waste_billable_minutes += other.waste_billable_minutes
