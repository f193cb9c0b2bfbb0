"""The lists' rows as the read API's JSON and CSV: the wire's field names.

Repositories and pipelines with their run figures (``analytics/list_rows.py``), jobs and
flaky jobs with theirs (``analytics/job_metrics.py``), and the overview's top lists, named
and shaped as the read API answers them and the dashboard's templates read them."""

from __future__ import annotations

from cipulse.analytics.job_metrics import FlakyJob, JobFigures, PipelineName
from cipulse.analytics.list_rows import (
    FailingPipeline,
    FlakyPipeline,
    PipelineRow,
    RepositoryRow,
)
from cipulse.analytics.questions.jobs import JobHighlights
from cipulse.analytics.questions.lists import PipelineHighlights
from cipulse.analytics.questions.summary import iso
from cipulse.analytics.rankings import FailingJob
from cipulse.analytics.runner_metrics import QueueFigures
from cipulse.web.presenters import Json, run_figures_json


def repository_row_json(row: RepositoryRow) -> Json:
    """A repository with its run figures (``/repositories``)."""
    return {
        "id": row.id,
        "host": row.host,
        "full_name": row.full_name,
        "created_at": iso(row.created_at_ms),
        **run_figures_json(row.figures),
    }


def _queue_json(queue: QueueFigures | None) -> Json:
    """A pipeline's jobs' waits, where the answer read them (the lists, not the overview's
    top pipelines)."""
    if queue is None:
        return {}
    return {
        "waited_jobs": queue.waited_jobs,
        "p50_queue_seconds": queue.p50_queue_seconds,
        "p95_queue_seconds": queue.p95_queue_seconds,
        "total_queue_seconds": queue.total_queue_seconds,
    }


def pipeline_row_json(row: PipelineRow) -> Json:
    """A pipeline with its run figures (``/pipelines``, the Pipelines page)."""
    return {
        "id": row.id,
        "name": row.name,
        "pipeline_key": row.pipeline_key,
        "repository_id": row.repository_id,
        "repository": row.repository,
        "repository_host": row.repository_host,
        "created_at": iso(row.created_at_ms),
        **run_figures_json(row.figures),
        **_queue_json(row.queue),
    }


def _failing_json(ranked: FailingPipeline) -> Json:
    return {
        **pipeline_row_json(ranked.row),
        "failed_runs": ranked.failed_runs,
        "decided_runs": ranked.decided_runs,
    }


def _flaky_json(ranked: FlakyPipeline) -> Json:
    return {**pipeline_row_json(ranked.row), "flaky_of_runs": ranked.flaky_of_runs}


def pipeline_highlights_json(highlights: PipelineHighlights) -> dict[str, list[Json]]:
    """The overview's top pipelines, a list each (``slowest``, ``failing``, ``flaky``,
    ``too_few``)."""
    return {
        "slowest": [pipeline_row_json(row) for row in highlights.slowest],
        "failing": [_failing_json(ranked) for ranked in highlights.failing],
        "flaky": [_flaky_json(ranked) for ranked in highlights.flaky],
        "too_few": [pipeline_row_json(row) for row in highlights.too_few],
    }


def _names_json(names: PipelineName | None) -> Json:
    """The pipeline's name and repository, last in a job's row (absent: not stored)."""
    return {} if names is None else {"pipeline": names.pipeline, "repository": names.repository}


def _job_figures_json(row: JobFigures) -> Json:
    return {
        "pipeline_id": row.pipeline_id,
        "job": row.job,
        "definition_key": row.definition_key,
        "level": row.level,
        "runs": row.runs,
        "by_status": row.by_status,
        "success_rate": row.success_rate,
        "failure_count": row.failure_count,
        "flaky_count": row.flaky_count,
        "failures_passed_on_retry": row.failures_passed_on_retry,
        "failures_by_class": row.failures_by_class,
        "p50_duration_seconds": row.p50_duration_seconds,
        "p95_duration_seconds": row.p95_duration_seconds,
        "mean_duration_seconds": row.mean_duration_seconds,
        "total_duration_seconds": row.total_duration_seconds,
        "exclusive_seconds": row.exclusive_seconds,
        "mean_queue_seconds": row.mean_queue_seconds,
        "p50_queue_seconds": row.p50_queue_seconds,
        "p95_queue_seconds": row.p95_queue_seconds,
        "total_queue_seconds": row.total_queue_seconds,
    }


def job_row_json(row: JobFigures) -> Json:
    """A job's figures (``/analytics/jobs``, the Jobs page and a pipeline's jobs)."""
    return {**_job_figures_json(row), **_names_json(row.names)}


def _failing_job_json(failing: FailingJob) -> Json:
    return {
        **_job_figures_json(failing.row),
        "failures_stayed_failed": failing.failures_stayed_failed,
        **_names_json(failing.row.names),
    }


def flaky_job_json(row: FlakyJob) -> Json:
    """A flaky job (``/analytics/flaky``; ``flaky_rate``: the old name of
    ``flaky_runs_per_execution``, kept for existing clients)."""
    return {
        "pipeline_id": row.pipeline_id,
        **_names_json(row.names),
        "job": row.job,
        "definition_key": row.definition_key,
        "level": row.level,
        "flaky_count": row.flaky_count,
        "runs": row.runs,
        "flaky_runs_per_execution": row.flaky_runs_per_execution,
        "flaky_rate": row.flaky_runs_per_execution,
        "retry_compute_seconds": row.retry_compute_seconds,
        "last_flaky_at": iso(row.last_flaky_at_ms),
    }


def job_highlights_json(highlights: JobHighlights) -> dict[str, list[Json]]:
    """The overview's top jobs, a list each (``slowest``, ``failing``, ``flaky``)."""
    return {
        "slowest": [job_row_json(row) for row in highlights.slowest],
        "failing": [_failing_job_json(failing) for failing in highlights.failing],
        "flaky": [flaky_job_json(row) for row in highlights.flaky],
    }
