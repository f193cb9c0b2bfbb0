"""What several questions share: sorts, names, levels and samples.

The sort orders the lists accept, the pipelines' names beside a row, the job level a
window asks for, the minimum sample of a ranking and a window's buckets."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from cipulse.analytics import job_metrics, rankings
from cipulse.analytics.buckets import Interval, bucket_length
from cipulse.analytics.job_metrics import PipelineName
from cipulse.analytics.window_figures import JobKey
from cipulse.domain.tallies import JobTally, RunTally
from cipulse.domain.window import Window
from cipulse.storage import list_store
from cipulse.storage.database import Database

#: What the lists may be sorted by (``sort=field`` or ``sort=-field``).
LIST_SORTS = (
    "name",
    "full_name",
    "runs",
    "success_rate",
    "first_attempt_success_rate",
    "p50_duration_seconds",
    "p95_duration_seconds",
    "mean_duration_seconds",
    "compute_seconds",
    "flaky_runs",
    "flaky_rate",
    "retry_compute_seconds",
)
#: The pipeline lists sort by those and by their jobs' waits (the runner rollup's).
QUEUE_SORTS = ("waited_jobs", "p50_queue_seconds", "p95_queue_seconds", "total_queue_seconds")
PIPELINE_SORTS = (*LIST_SORTS, *QUEUE_SORTS)
#: A job list sorts by name, pipeline, or any figure of ``JobFigures`` (a new figure field is
#: a new sort).
JOB_SORTS = ("job", "pipeline", *job_metrics.SORTABLE_FIGURES)
FLAKY_SORTS = (
    "job",
    "flaky_count",
    "runs",
    "flaky_runs_per_execution",
    "flaky_rate",  # the same figure under its old name
    "retry_compute_seconds",
)
#: Sorts served by reading the histograms of the slowest rows only: their percentile.
SLOWEST_FIRST = {"-p95_duration_seconds": 95, "-p50_duration_seconds": 50}

#: Per pipeline id, its name and repository.
Names = dict[str, PipelineName]

T = TypeVar("T", RunTally, JobTally)
K = TypeVar("K", str, tuple[str, str])


def pipeline_names(database: Database, org_id: str) -> Names:
    with database.read() as conn:
        return {
            row["id"]: PipelineName(row["name"], row["repository"])
            for row in list_store.pipeline_rows(conn, org_id)
        }


def sampled(tallies: dict[K, T], window: Window) -> dict[K, T]:
    """The tallies with at least ``rankings.MIN_SAMPLE`` executions of the statuses whose
    durations count (success, or the status filter's): a p95 of one run ranks nothing."""
    statuses = window.filters.statuses or ("success",)
    return {
        key: tally
        for key, tally in tallies.items()
        if sum(tally.by_status[s] for s in statuses) >= rankings.MIN_SAMPLE
    }


def at_level(jobs: dict[JobKey, JobTally], window: Window) -> dict[JobKey, JobTally]:
    """The jobs at the level the window's filters ask for (by default the job level: the
    stages and steps inside a job are in its time already)."""
    wanted = window.filters.job_level or "job"
    if wanted != "all":
        jobs = {key: tally for key, tally in jobs.items() if (tally.level or "job") == wanted}
    return named(jobs, window)


def named(jobs: dict[JobKey, JobTally], window: Window) -> dict[JobKey, JobTally]:
    """The jobs whose name holds the window's ``job_name`` filter, in any case (every job
    without one)."""
    part = (window.filters.job_name or "").casefold()
    if not part:
        return jobs
    return {key: tally for key, tally in jobs.items() if part in tally.name.casefold()}


def bucket_window(window: Window, start: int, interval: Interval) -> Window:
    """The part of the window in the bucket starting at ``start``."""
    return replace(
        window,
        since_ms=max(start, window.since_ms),
        until_ms=min(start + bucket_length(interval), window.until_ms),
    )


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None
