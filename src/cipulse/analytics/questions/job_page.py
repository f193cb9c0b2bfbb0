"""The job question: one job's figures, series, failures and places.

One job of one pipeline over a window: its figures (the Jobs page's, from the same read),
the same figures per bucket of the window, its failures per class with the latest ones, and
the branches and runners its latest executions ran on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from cipulse.analytics import comparison, job_metrics
from cipulse.analytics.buckets import Interval
from cipulse.analytics.job_metrics import JobFigures, JobKey
from cipulse.analytics.job_series import job_buckets
from cipulse.analytics.questions.pipelines import PipelineInfo, pipeline
from cipulse.analytics.questions.shared import pipeline_names, ratio
from cipulse.analytics.questions.summary import WindowBounds, bounds_of
from cipulse.analytics.window import MAX_WINDOW_DAYS
from cipulse.analytics.window_figures import complete_jobs, job_figures
from cipulse.domain.accepted import text_problem
from cipulse.domain.failure_reasons import FailureClass
from cipulse.domain.window import DAY_MS, Filters, Window
from cipulse.errors import NotFound
from cipulse.storage import job_store
from cipulse.storage.database import Database
from cipulse.storage.job_store import FailedExecution, Place

#: How many of a job's latest failures its page lists.
LATEST_FAILURES = 20
#: The tags that name the runner of an execution, in the order they are looked for (on the
#: job, then on its attempt): labels first (what a runner is chosen by), then its name.
RUNNER_TAGS = ("runner_labels", "runner_tags", "runner", "runner_name")


@dataclass(frozen=True, slots=True)
class JobBucket:
    """The job's figures in one bucket of the window; ``partial``: still under way."""

    start_ms: int
    partial: bool
    figures: JobFigures
    #: flaky_count / runs in the bucket (the flaky-jobs ranking's flaky_runs_per_execution).
    flaky_runs_per_execution: float | None


@dataclass(frozen=True, slots=True)
class Share:
    """A branch or runner and how many of the sampled executions ran there."""

    name: str
    executions: int


@dataclass(frozen=True, slots=True)
class JobDetail:
    """One job over a window (``figures`` None: no execution in it)."""

    pipeline: PipelineInfo
    window: WindowBounds
    definition_key: str
    job: str
    interval: Interval
    figures: JobFigures | None
    series: list[JobBucket]
    failures_by_class: dict[str, int]
    latest_failures: list[FailedExecution]
    #: How many executions the places were read from (the pipeline's latest attempts).
    sampled_executions: int
    branches: list[Share]
    runners: list[Share]


def job_detail(
    database: Database,
    org_id: str,
    pipeline_id: str,
    definition_key: str,
    window: Window,
    interval: Interval,
    now_ms: int,
) -> JobDetail:
    """One job of one pipeline over the window; NotFound when the organisation has no such
    pipeline, or the pipeline never ran such a job."""
    info = pipeline(database, org_id, pipeline_id)
    if text_problem(definition_key):  # no job is stored under it
        raise NotFound(f"job: pipeline {info.name!r} has no job {definition_key!r}")
    narrowed = replace(window, filters=replace(window.filters, pipeline_id=info.id))
    key: JobKey = (info.id, definition_key)
    names = pipeline_names(database, org_id)
    with database.read() as conn:
        figures = job_figures(conn, org_id, narrowed)
        tally = figures.jobs.get(key)
        if tally is None and key not in job_figures(conn, org_id, _ever(info.id, now_ms)).jobs:
            raise NotFound(f"job: pipeline {info.name!r} has no job {definition_key!r}")
        rows = []
        if tally is not None:
            complete_jobs(conn, org_id, figures, [key])
            rows = job_metrics.job_rows({key: tally}, names)
        buckets = job_buckets(conn, org_id, narrowed, key, interval)
        latest = job_store.latest_failures(conn, org_id, narrowed, key, LATEST_FAILURES)
        places = job_store.places(conn, org_id, narrowed, key)
    series = [_bucket(bucket, key, part, now_ms) for bucket, part in buckets]
    return JobDetail(
        pipeline=info,
        window=bounds_of(window, now_ms),
        definition_key=definition_key,
        job=rows[0].job if rows else _name_of(series, definition_key),
        interval=interval,
        figures=rows[0] if rows else None,
        series=series,
        failures_by_class=_by_class(rows[0] if rows else None),
        latest_failures=latest,
        sampled_executions=len(places),
        branches=_shares(place.branch for place in places),
        runners=_shares(runner_of(place) for place in places),
    )


def _by_class(figures: JobFigures | None) -> dict[str, int]:
    """Per failure class, in the order of ``FailureClass``, the job's failed executions:
    the Jobs list's ``failures_by_class`` (every class, 0 when none ran in the window)."""
    counted = figures.failures_by_class if figures is not None else {}
    return {found.value: counted.get(found.value, 0) for found in FailureClass}


def _ever(pipeline_id: str, now_ms: int) -> Window:
    """The longest window a question may ask, to the end of today, for one pipeline:
    whether it ever ran a job (read from its four-week rows, mostly)."""
    until = (now_ms // DAY_MS + 1) * DAY_MS
    filters = Filters(pipeline_id=pipeline_id)
    return Window(until - MAX_WINDOW_DAYS * DAY_MS, until, filters)


def _bucket(bucket: Window, key: JobKey, tally: Any, now_ms: int) -> JobBucket:
    figures = job_metrics.job_rows({key: tally})[0]
    return JobBucket(
        start_ms=bucket.since_ms,
        partial=comparison.is_partial(bucket, now_ms),
        figures=figures,
        flaky_runs_per_execution=ratio(figures.flaky_count, figures.runs),
    )


def _name_of(series: list[JobBucket], definition_key: str) -> str:
    return max((b.figures.job for b in series), default="") or definition_key


def runner_of(place: Place) -> str | None:
    """The runner an execution ran on: its label set (the pool), else its runner's name,
    else as its tags name it (``RUNNER_TAGS``: what was stored before jobs kept runners)."""
    if place.runner_labels or place.runner_name:
        return place.runner_labels or place.runner_name
    for tags in (place.job_tags, place.attempt_tags):
        for name in RUNNER_TAGS:
            value = (tags or {}).get(name)
            if value not in (None, ""):
                return str(value)
    return None


def _shares(values: Any) -> list[Share]:
    """Each value known with its count, most first (ties by name)."""
    counted = Counter(value for value in values if value)
    return [Share(name, n) for name, n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))]
