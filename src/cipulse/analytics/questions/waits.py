"""The waits question: how long jobs waited for a runner, against before.

Over every job (directly under its run) that ran in a window and carries a queue time
(``jobs.queue_seconds``, docs/api.md): how many waited, the median and 95th percentile of
their waits, and the time spent waiting in all; the running time of the same executions and
the share of their time spent waiting; the same for the window it is compared with
(``comparison.compared_previous``), and each figure's change. Read from the runner rollup's
queue histograms, the same the Runners page and the Pipelines list read, so the figures add
up with theirs (``analytics/queue_times.py``): a compared window cut within a day costs a
read of its raw jobs' queue times, not the raw job figures of that day. Under a job filter
(another level, a job's name), from the job figures."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from cipulse.analytics import comparison
from cipulse.analytics.comparison import Change, change_of
from cipulse.analytics.questions.shared import at_level
from cipulse.analytics.questions.summary import WindowBounds, bounds_of
from cipulse.analytics.queue_times import QUEUE_METRIC, QueueTimes, queue_times
from cipulse.analytics.window_figures import complete_jobs, job_figures
from cipulse.domain.histogram import Histogram
from cipulse.domain.window import Window
from cipulse.storage.database import Database

#: The figures a wait summary compares with the previous window (all relative changes).
WAIT_FIGURES = (
    "waited_jobs",
    "p50_queue_seconds",
    "p95_queue_seconds",
    "total_queue_seconds",
    "waiting_share",
)


@dataclass(frozen=True, slots=True)
class WaitFigures:
    """A window's waits: the job executions that carry a queue time, and their figures
    (None when none carries one: unknown, not 0); the running time of every execution, and
    the share of waiting in waiting plus running (docs/metrics.md, "waiting_share")."""

    waited_jobs: int
    p50_queue_seconds: float | None
    p95_queue_seconds: float | None
    mean_queue_seconds: float | None
    total_queue_seconds: float | None
    running_seconds: float = 0.0
    waiting_share: float | None = None

    def figure(self, name: str) -> float | int | None:
        value: float | int | None = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class Waits:
    """A window's waits, those of the window it is compared with, and each change."""

    window: WindowBounds
    figures: WaitFigures
    previous_window: WindowBounds
    previous: WaitFigures
    changes: dict[str, Change]


def waits(database: Database, org_id: str, window: Window, now_ms: int) -> Waits:
    before = comparison.compared_previous(window, now_ms)
    with database.read() as conn:
        current = _figures(conn, org_id, window)
        previous = _figures(conn, org_id, before)
    earlier = previous.waited_jobs
    return Waits(
        window=bounds_of(window, now_ms),
        figures=current,
        previous_window=bounds_of(before),
        previous=previous,
        changes={
            name: change_of(name, current.figure(name), previous.figure(name), earlier)
            for name in WAIT_FIGURES
        },
    )


def _queue_times(conn: Connection, org_id: str, window: Window) -> QueueTimes:
    """The queue and running times of the window's jobs: read alone at the job level (the
    default); from the job figures when a job filter (another level, a name) picks them."""
    filters = window.filters
    if (filters.job_level or "job") == "job" and not filters.job_name:
        return queue_times(conn, org_id, window)
    figures = job_figures(conn, org_id, window)
    keys = sorted(at_level(figures.jobs, window))
    complete_jobs(conn, org_id, figures, keys)
    waited = Histogram()
    running = 0.0
    for key in keys:
        waited.merge(figures.jobs[key].metrics.get(QUEUE_METRIC, Histogram()))
        running += figures.jobs[key].total_duration_seconds
    return QueueTimes(waited, running)


def waiting_share(waiting: float | None, running: float) -> float | None:
    """waiting / (waiting + running), as a run's ``time_split`` has it: unknown when the
    waiting is, or when both are 0."""
    if waiting is None or not waiting + running:
        return None
    return waiting / (waiting + running)


def _figures(conn: Connection, org_id: str, window: Window) -> WaitFigures:
    found = _queue_times(conn, org_id, window)
    waited = found.queue
    total = waited.total if waited.count > 0 else None
    return WaitFigures(
        waited_jobs=waited.count,
        p50_queue_seconds=waited.percentile(50),
        p95_queue_seconds=waited.percentile(95),
        mean_queue_seconds=waited.mean(),
        total_queue_seconds=total,
        running_seconds=found.running_seconds,
        waiting_share=waiting_share(total, found.running_seconds),
    )
