"""The runners question: label sets, their runners, waits by hour.

Per label set over a window (``runner_figures.by_label_set``): jobs, durations and waits,
failure rates, busy time per UTC hour of day (how saturated a pool is) and the minutes a
provider bills; a page at a time, sortable. One label set's runners (by name) come from a
bounded raw read (``storage/runner_store.py``); the queue by hour of day from the same
tallies as the list."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from cipulse.analytics import runner_metrics
from cipulse.analytics.paging import DEFAULT_PAGE, Page, PageRequest, check_sort, page_of
from cipulse.analytics.questions.summary import WindowBounds, bounds_of
from cipulse.analytics.runner_figures import by_label_set
from cipulse.analytics.runner_metrics import (
    failure_rate,
    hours_in_window,
    infrastructure_failure_rate,
)
from cipulse.domain.histogram import Histogram
from cipulse.domain.runner_tallies import HOURS_OF_DAY, RunnerTally
from cipulse.domain.window import Window
from cipulse.storage import runner_store
from cipulse.storage.database import Database

DEFAULT_SORT = "-jobs"
HOUR_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class LabelSetFigures:
    """One label set's figures over the window (None: unknown, not 0)."""

    label_set: str | None
    jobs: int
    by_status: dict[str, int]
    failures_by_class: dict[str, int]
    decided_jobs: int
    failure_rate: float | None
    infrastructure_failure_rate: float | None
    duration_sample: int
    p50_duration_seconds: float | None
    p95_duration_seconds: float | None
    waited_jobs: int
    p50_queue_seconds: float | None
    p95_queue_seconds: float | None
    total_queue_seconds: float | None
    busy_hours: float
    busy_hours_by_hour: tuple[float, ...]
    mean_busy_runners_by_hour: tuple[float, ...]
    job_seconds: float
    billable_minutes: int
    waste_job_seconds: float
    waste_billable_minutes: int

    def sort_value(self, field: str) -> object:
        if field == "label_set":
            return self.label_set or ""
        value: object = getattr(self, field)
        return value


SORTS = (
    "label_set",
    "jobs",
    "failure_rate",
    "infrastructure_failure_rate",
    "p50_duration_seconds",
    "p95_duration_seconds",
    "p50_queue_seconds",
    "p95_queue_seconds",
    "total_queue_seconds",
    "busy_hours",
    "billable_minutes",
    "waste_billable_minutes",
)


def figures_of(label_set: str, tally: RunnerTally, window: Window) -> LabelSetFigures:
    """A label set's figures from its window's tally."""
    occurrences = hours_in_window(window.since_ms, window.until_ms)
    busy = tuple(s / HOUR_SECONDS for s in tally.busy_seconds)
    queue = tally.queue
    return LabelSetFigures(
        label_set=label_set or None,
        jobs=sum(tally.by_status.values()),
        by_status=dict(sorted(tally.by_status.items())),
        failures_by_class=dict(sorted(tally.failed_by_class.items())),
        decided_jobs=runner_metrics.decided(tally),
        failure_rate=failure_rate(tally),
        infrastructure_failure_rate=infrastructure_failure_rate(tally),
        duration_sample=tally.durations.count,
        p50_duration_seconds=tally.durations.percentile(50),
        p95_duration_seconds=tally.durations.percentile(95),
        waited_jobs=queue.count,
        p50_queue_seconds=queue.percentile(50),
        p95_queue_seconds=queue.percentile(95),
        total_queue_seconds=queue.total if queue.count else None,
        busy_hours=sum(busy),
        busy_hours_by_hour=busy,
        mean_busy_runners_by_hour=tuple(
            b / n if n else 0.0 for b, n in zip(busy, occurrences, strict=True)
        ),
        job_seconds=tally.job_seconds,
        billable_minutes=tally.billable_minutes,
        waste_job_seconds=tally.waste_job_seconds,
        waste_billable_minutes=tally.waste_billable_minutes,
    )


def label_sets(
    database: Database, org_id: str, window: Window, page: PageRequest = DEFAULT_PAGE
) -> Page[LabelSetFigures]:
    """Figures per label set, a page at a time (by default the most jobs first)."""
    check_sort(page.sort, SORTS)
    with database.read() as conn:
        tallies = by_label_set(conn, org_id, window)
    return _page(tallies, window, page)


def _page(
    tallies: dict[str, RunnerTally], window: Window, page: PageRequest
) -> Page[LabelSetFigures]:
    rows = [figures_of(labels, tally, window) for labels, tally in sorted(tallies.items())]
    return page_of(rows, page.sort or DEFAULT_SORT, page)


def label_sets_and_hours(
    database: Database, org_id: str, window: Window, page: PageRequest, now_ms: int
) -> tuple[Page[LabelSetFigures], QueueByHour]:
    """``label_sets`` and ``queue_by_hour`` (every label set) from one read: the Runners
    page's list and charts."""
    check_sort(page.sort, SORTS)
    with database.read() as conn:
        tallies = by_label_set(conn, org_id, window)
    return _page(tallies, window, page), _hours(tallies, window, None, now_ms)


@dataclass(frozen=True, slots=True)
class HourWaits:
    """The waits of the jobs queued in one UTC hour of day, over the window."""

    hour: int
    waited_jobs: int
    p50_queue_seconds: float | None
    p95_queue_seconds: float | None
    total_queue_seconds: float | None


@dataclass(frozen=True, slots=True)
class QueueByHour:
    """Waits by the UTC hour of day jobs were queued, of one label set (``''``: the
    executions whose source named none) or of all (None)."""

    window: WindowBounds
    label_set: str | None
    hours: tuple[HourWaits, ...]


def queue_by_hour(
    database: Database, org_id: str, window: Window, label_set: str | None, now_ms: int
) -> QueueByHour:
    """24 buckets of waits (every label set, or only ``label_set``: '' for none named)."""
    with database.read() as conn:
        tallies = by_label_set(conn, org_id, window)
    return _hours(tallies, window, label_set, now_ms)


def _hours(
    tallies: dict[str, RunnerTally], window: Window, label_set: str | None, now_ms: int
) -> QueueByHour:
    merged = [Histogram() for _ in range(HOURS_OF_DAY)]
    for labels, tally in tallies.items():
        if label_set is None or labels == label_set:
            for hour, histogram in tally.queue_by_hour.items():
                merged[hour].merge(histogram)
    hours = tuple(
        HourWaits(
            hour=hour,
            waited_jobs=h.count,
            p50_queue_seconds=h.percentile(50),
            p95_queue_seconds=h.percentile(95),
            total_queue_seconds=h.total if h.count else None,
        )
        for hour, h in enumerate(merged)
    )
    return QueueByHour(bounds_of(window, now_ms), label_set, hours)


@dataclass(frozen=True, slots=True)
class RunnerRow:
    """One runner (by name) of a label set, over the sampled executions."""

    runner_name: str | None
    jobs: int
    by_status: dict[str, int]
    failure_rate: float | None
    infrastructure_failure_rate: float | None
    p50_duration_seconds: float | None
    p95_duration_seconds: float | None
    p50_queue_seconds: float | None
    busy_seconds: float


@dataclass(frozen=True, slots=True)
class LabelSetRunners:
    """A label set's top runners (most executions first) in the window's latest attempts."""

    window: WindowBounds
    label_set: str | None
    sampled_attempts: int
    sampled_executions: int
    runners: tuple[RunnerRow, ...]


#: How many runners one label set's answer lists.
TOP_RUNNERS = 50


def runners_of(
    database: Database, org_id: str, window: Window, label_set: str, now_ms: int
) -> LabelSetRunners:
    """The runners of ``label_set`` ('' for none named), from a bounded raw read."""
    with database.read() as conn:
        found, sampled = runner_store.executions(conn, org_id, window, label_set or None)
    by_name: dict[str | None, runner_metrics.Executions] = {}
    for execution in found:
        executions = by_name.setdefault(execution.runner_name, runner_metrics.Executions())
        executions.add(execution._asdict(), waste=False)
    rows = [_runner_row(name, executions.tally()) for name, executions in by_name.items()]
    rows.sort(key=lambda row: (-row.jobs, row.runner_name is None, row.runner_name or ""))
    return LabelSetRunners(
        window=bounds_of(window, now_ms),
        label_set=label_set or None,
        sampled_attempts=sampled,
        sampled_executions=len(found),
        runners=tuple(rows[:TOP_RUNNERS]),
    )


def _runner_row(name: str | None, tally: RunnerTally) -> RunnerRow:
    return RunnerRow(
        runner_name=name,
        jobs=sum(tally.by_status.values()),
        by_status=dict(sorted(Counter(tally.by_status).items())),
        failure_rate=failure_rate(tally),
        infrastructure_failure_rate=infrastructure_failure_rate(tally),
        p50_duration_seconds=tally.durations.percentile(50),
        p95_duration_seconds=tally.durations.percentile(95),
        p50_queue_seconds=tally.queue.percentile(50),
        busy_seconds=sum(tally.busy_seconds),
    )
