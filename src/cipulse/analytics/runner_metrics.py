"""Runner figures per pipeline and label set, as defined in docs.

Pure functions of the attempts of a piece, every attempt of their runs and their jobs: the
``RunnerTally`` of each (pipeline, label set) over the executions directly under their run
(level 0, as the waits figures count), and the figures a window's tally comes to."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cipulse.analytics.run_metrics import DECIDED, FAILING, SUCCESS
from cipulse.domain.histogram import Histogram
from cipulse.domain.runner_tallies import (
    HOURS_OF_DAY,
    UNKNOWN_LABELS,
    RunnerKey,
    RunnerTally,
)
from cipulse.domain.tallies import AttemptFacts
from cipulse.domain.window import DAY_MS, HOUR_MS

#: Attempts whose jobs are waste whatever their run did next.
WASTED_STATUSES = FAILING | {"cancelled"}
#: Providers bill a job by the minute, each rounded up (GitHub Actions).
MINUTE = 60.0


def billable_minutes(duration_seconds: float | None) -> int:
    """A job's duration rounded up to a whole minute (0 when unknown or 0)."""
    if not duration_seconds or duration_seconds <= 0:
        return 0
    return math.ceil(duration_seconds / MINUTE - 1e-9)


def superseded(history: Iterable[AttemptFacts]) -> set[str]:
    """The attempts of ``history`` after which their run has a later attempt (a retry)."""
    last: dict[tuple[str, str], int] = {}
    attempts = list(history)
    for attempt in attempts:
        last[attempt.run] = max(last.get(attempt.run, 0), attempt.attempt)
    return {a.id for a in attempts if last[a.run] > a.attempt}


def runner_tallies(
    attempts: Sequence[AttemptFacts],
    history: Sequence[AttemptFacts],
    jobs_by_attempt: dict[str, list[dict[str, Any]]],
) -> dict[RunnerKey, RunnerTally]:
    """Per (pipeline, label set), the tally of the level-0 jobs of ``attempts``."""
    retried = superseded(history)
    found: dict[RunnerKey, Executions] = {}
    for attempt in attempts:
        jobs = jobs_by_attempt.get(attempt.id, [])
        nodes = {job["node_key"] for job in jobs}
        waste = attempt.status in WASTED_STATUSES or attempt.id in retried
        for job in jobs:
            if job["parent_node_key"] in nodes:
                continue  # a stage or step inside a job: its time is the job's
            key = (attempt.pipeline_id, job.get("runner_labels") or UNKNOWN_LABELS)
            executions = found.get(key)
            if executions is None:
                executions = found[key] = Executions()
            executions.add(job, waste=waste)
    return {key: executions.tally() for key, executions in found.items()}


@dataclass(slots=True)
class Executions:
    """Executions gathered for one tally: counts and sums as they come, the values of the
    histograms in lists (a histogram is built once, from all its values)."""

    counted: RunnerTally = field(default_factory=RunnerTally)
    durations: list[float] = field(default_factory=list)
    queues: list[float] = field(default_factory=list)
    queues_by_hour: dict[int, list[float]] = field(default_factory=dict)

    def add(self, job: dict[str, Any], *, waste: bool) -> None:
        """Count one execution (a job row)."""
        tally = self.counted
        status, duration = job["status"], job["duration_seconds"]
        tally.by_status[status] += 1
        if job.get("failure_class"):
            tally.failed_by_class[job["failure_class"]] += 1
        if status == SUCCESS and duration is not None:
            self.durations.append(duration)
        minutes = billable_minutes(duration)
        tally.job_seconds += duration or 0.0
        tally.billable_minutes += minutes
        if waste:
            tally.waste_job_seconds += duration or 0.0
            tally.waste_billable_minutes += minutes
        queue = job.get("queue_seconds")
        started, completed = job["started_at_ms"], job["completed_at_ms"]
        if queue is not None:
            self.queues.append(queue)
            if started is not None:
                hour = hour_of_day(started - round(queue * 1000))
                self.queues_by_hour.setdefault(hour, []).append(queue)
        if started is not None and completed is not None and completed > started:
            for hour, seconds in busy_by_hour(started, completed):
                tally.busy_seconds[hour] += seconds

    def tally(self) -> RunnerTally:
        tally = self.counted
        tally.durations = Histogram.of(sorted(self.durations))
        tally.queue = Histogram.of(self.queues)
        tally.queue_by_hour = {h: Histogram.of(v) for h, v in self.queues_by_hour.items()}
        return tally


def hour_of_day(ms: int) -> int:
    """The UTC hour of day (0 to 23) of an instant."""
    return ms % DAY_MS // HOUR_MS


def busy_by_hour(started_ms: int, completed_ms: int) -> list[tuple[int, float]]:
    """The seconds of ``[started_ms, completed_ms)`` in each UTC hour of day it overlaps
    (a job running past midnight adds to the hours of both days)."""
    found: list[tuple[int, float]] = []
    at = started_ms
    while at < completed_ms:
        hour_end = (at // HOUR_MS + 1) * HOUR_MS
        end = min(hour_end, completed_ms)
        found.append((hour_of_day(at), (end - at) / 1000.0))
        at = end
    return found


def decided(tally: RunnerTally) -> int:
    """The executions that ended success, failure or timed_out."""
    return sum(tally.by_status[s] for s in DECIDED)


def failure_rate(tally: RunnerTally) -> float | None:
    """(failure + timed_out) / (success + failure + timed_out); None without any."""
    total = decided(tally)
    return sum(tally.by_status[s] for s in FAILING) / total if total else None


def infrastructure_failure_rate(tally: RunnerTally) -> float | None:
    """Executions of failure class infrastructure / (success + failure + timed_out)."""
    total = decided(tally)
    return tally.failed_by_class["infrastructure"] / total if total else None


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """Waits of some executions: how many carry a queue time, p50, p95 and the total
    (None when none does: unknown, not 0)."""

    waited_jobs: int
    p50_queue_seconds: float | None
    p95_queue_seconds: float | None
    total_queue_seconds: float | None


def queue_figures(queue: Histogram) -> QueueFigures:
    return QueueFigures(
        waited_jobs=queue.count,
        p50_queue_seconds=queue.percentile(50),
        p95_queue_seconds=queue.percentile(95),
        total_queue_seconds=queue.total if queue.count else None,
    )


def hours_in_window(since_ms: int, until_ms: int) -> list[int]:
    """How many times each UTC hour of day occurs (whole or in part) in the window."""
    first, end = since_ms // HOUR_MS, -(-until_ms // HOUR_MS)
    days, rest = divmod(end - first, HOURS_OF_DAY)
    counts = [days] * HOURS_OF_DAY
    for hour in range(first, first + rest):
        counts[hour % HOURS_OF_DAY] += 1
    return counts
