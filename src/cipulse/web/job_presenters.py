"""A job's page as the read API's JSON and CSV: the wire's field names.

One job over a window (``analytics/questions/job_page.py``): its figures as the job list
names them, the same per bucket, its failures per class and latest failures, and where it
ran; as CSV, one row per bucket."""

from __future__ import annotations

from cipulse.analytics.questions.job_page import JobBucket, JobDetail, Share
from cipulse.analytics.questions.summary import iso
from cipulse.storage.job_store import FailedExecution
from cipulse.web.job_paths import job_path
from cipulse.web.list_presenters import job_row_json
from cipulse.web.presenters import Json, window_json

#: The fields of a job row that are not figures (a bucket's row leaves them out).
_NAMES = ("pipeline_id", "job", "definition_key", "level", "pipeline", "repository")


def job_bucket_json(bucket: JobBucket) -> Json:
    """The job's figures in one bucket (``start``: its first instant, UTC)."""
    figures = {k: v for k, v in job_row_json(bucket.figures).items() if k not in _NAMES}
    return {
        "start": iso(bucket.start_ms),
        "partial": bucket.partial,
        **figures,
        "flaky_runs_per_execution": bucket.flaky_runs_per_execution,
    }


def failed_execution_json(failed: FailedExecution) -> Json:
    """One of a job's latest failed executions, with its run attempt (``attempt_id``)."""
    return {
        "attempt_id": failed.attempt_id,
        "run_key": failed.run_key,
        "run_number": failed.run_number,
        "attempt": failed.attempt,
        "branch": failed.branch,
        "started_at": iso(failed.started_at_ms),
        "commit_sha": failed.commit_sha,
        "status": failed.status,
        "duration_seconds": failed.duration_seconds,
        "failure_class": failed.failure_class,
        "failure_reason": failed.failure_reason,
        "failing_step": failed.failing_step,
    }


def _shares_json(shares: list[Share]) -> list[Json]:
    return [{"name": share.name, "executions": share.executions} for share in shares]


def job_detail_json(detail: JobDetail) -> Json:
    """One job over a window (``GET /api/v1/jobs/{pipeline_id}/{job}``, the job page)."""
    info = detail.pipeline
    return {
        "pipeline": {
            "id": info.id,
            "name": info.name,
            "repository": info.repository,
            "repository_host": info.repository_host,
        },
        "job": detail.job,
        "definition_key": detail.definition_key,
        "path": job_path(info.id, detail.definition_key),
        "window": window_json(detail.window),
        "interval": detail.interval.value,
        "figures": None if detail.figures is None else job_row_json(detail.figures),
        "series": [job_bucket_json(bucket) for bucket in detail.series],
        "failures_by_class": detail.failures_by_class,
        "latest_failures": [failed_execution_json(f) for f in detail.latest_failures],
        "places": {
            "sampled_executions": detail.sampled_executions,
            "branches": _shares_json(detail.branches),
            "runners": _shares_json(detail.runners),
        },
    }


def job_detail_rows(found: Json) -> list[Json]:
    """The CSV of a job: one row per bucket of its series."""
    return list(found["series"])
