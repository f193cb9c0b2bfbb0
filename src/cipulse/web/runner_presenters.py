"""Runner label sets, runners and waits by hour, as the API names them."""

from __future__ import annotations

from cipulse.analytics.questions.runners import (
    HourWaits,
    LabelSetFigures,
    LabelSetRunners,
    QueueByHour,
    RunnerRow,
)
from cipulse.web.presenters import Json, window_json

#: How the answers write the label set of executions whose source named none.
UNKNOWN = "unknown"


def label_set_json(row: LabelSetFigures) -> Json:
    """One label set's figures (``/analytics/runners``, the Runners page)."""
    return {
        "label_set": row.label_set,
        "label_set_name": row.label_set or UNKNOWN,
        "jobs": row.jobs,
        "by_status": row.by_status,
        "failures_by_class": row.failures_by_class,
        "decided_jobs": row.decided_jobs,
        "failure_rate": row.failure_rate,
        "infrastructure_failure_rate": row.infrastructure_failure_rate,
        "duration_sample": row.duration_sample,
        "p50_duration_seconds": row.p50_duration_seconds,
        "p95_duration_seconds": row.p95_duration_seconds,
        "waited_jobs": row.waited_jobs,
        "p50_queue_seconds": row.p50_queue_seconds,
        "p95_queue_seconds": row.p95_queue_seconds,
        "total_queue_seconds": row.total_queue_seconds,
        "busy_hours": row.busy_hours,
        "busy_hours_by_hour": list(row.busy_hours_by_hour),
        "mean_busy_runners_by_hour": list(row.mean_busy_runners_by_hour),
        "job_seconds": row.job_seconds,
        "billable_minutes": row.billable_minutes,
        "waste_job_seconds": row.waste_job_seconds,
        "waste_billable_minutes": row.waste_billable_minutes,
    }


def _runner_json(row: RunnerRow) -> Json:
    return {
        "runner_name": row.runner_name,
        "jobs": row.jobs,
        "by_status": row.by_status,
        "failure_rate": row.failure_rate,
        "infrastructure_failure_rate": row.infrastructure_failure_rate,
        "p50_duration_seconds": row.p50_duration_seconds,
        "p95_duration_seconds": row.p95_duration_seconds,
        "p50_queue_seconds": row.p50_queue_seconds,
        "busy_seconds": row.busy_seconds,
    }


def label_set_runners_json(found: LabelSetRunners) -> Json:
    """A label set's top runners (``/analytics/runners/names``)."""
    return {
        "window": window_json(found.window),
        "label_set": found.label_set,
        "label_set_name": found.label_set or UNKNOWN,
        "sampled_attempts": found.sampled_attempts,
        "sampled_executions": found.sampled_executions,
        "runners": [_runner_json(row) for row in found.runners],
    }


def label_set_runners_rows(found: Json) -> list[Json]:
    """The runners' CSV: one row per runner, with the label set."""
    return [{"label_set": found["label_set"], **row} for row in found["runners"]]


def _hour_json(hour: HourWaits) -> Json:
    return {
        "hour": hour.hour,
        "waited_jobs": hour.waited_jobs,
        "p50_queue_seconds": hour.p50_queue_seconds,
        "p95_queue_seconds": hour.p95_queue_seconds,
        "total_queue_seconds": hour.total_queue_seconds,
    }


def queue_by_hour_json(found: QueueByHour) -> Json:
    """Waits by UTC hour of day (``/analytics/runners/hours``)."""
    return {
        "window": window_json(found.window),
        "label_set": found.label_set,
        "hours": [_hour_json(hour) for hour in found.hours],
    }


def queue_by_hour_rows(found: Json) -> list[Json]:
    """The 24 hours as CSV rows."""
    return list(found["hours"])
