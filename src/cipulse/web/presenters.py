"""Answers as the read API's JSON and CSV: the wire's field names.

The presenter layer: how the analytics' answers are named and shaped on the wire. Typed
answers (``analytics/questions/run_answers.py``) become the JSON objects and CSV rows the
read API answers and the dashboard's templates show; the other answers' JSON is given its
envelope here (a page's ``items`` and ``next_cursor``, the rows a CSV holds)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson
from starlette.responses import Response

from cipulse.analytics.comparison import Change
from cipulse.analytics.cost_definitions import COST_METRICS
from cipulse.analytics.custom_metrics import MetricPoint
from cipulse.analytics.definitions import (
    JOB_METRICS,
    PULL_REQUEST_METRICS,
    RECOVERY_METRICS,
    RUN_METRICS,
    TRIAGE_METRICS,
    WAIT_METRICS,
)
from cipulse.analytics.paging import Page
from cipulse.analytics.questions.custom_metrics import MetricSeries
from cipulse.analytics.questions.recovery import ListedPeriod, RecoveryAnswer
from cipulse.analytics.questions.run_answers import (
    NO_ATTEMPT,
    Attempt,
    JobNode,
    OtherAttempt,
    RunDetail,
    time_split,
)
from cipulse.analytics.questions.runs import LatestAttempt
from cipulse.analytics.questions.series import SeriesBucket, SeriesPoint, Timeseries
from cipulse.analytics.questions.summary import Summary, SummaryFigures, WindowBounds, iso
from cipulse.analytics.questions.waits import WaitFigures, Waits
from cipulse.analytics.run_metrics import RunFigures
from cipulse.analytics.runner_definitions import RUNNER_METRICS
from cipulse.analytics.team_definitions import TEAM_METRICS
from cipulse.domain.runners import NO_RUNNER, Runner
from cipulse.web.cost_presenters import attempt_cost_json
from cipulse.web.csv_export import csv_response
from cipulse.web.run_test_presenters import job_failed_tests_json
from cipulse.web.triage_presenters import time_split_json, triage_json

Item = TypeVar("Item")
Answer = TypeVar("Answer")
#: A JSON object, or a CSV row, as the read API answers it.
Json = dict[str, Any]


def json_response(payload: Any) -> Response:
    return Response(orjson.dumps(payload), media_type="application/json")


def attempt_json(attempt: Attempt) -> Json:
    """A run attempt as ``/runs`` lists it and ``/runs/{id}`` begins."""
    return {
        "id": attempt.id,
        "repository": attempt.repository,
        "repository_host": attempt.repository_host,
        "pipeline_id": attempt.pipeline_id,
        "pipeline": attempt.pipeline_name,
        "run_key": attempt.run_key,
        "run_number": attempt.run_number,
        "attempt": attempt.attempt,
        "status": attempt.status,
        "raw_status": attempt.raw_status,
        "provider": attempt.provider,
        "source_format": attempt.source_format,
        "branch": attempt.branch,
        "actor": attempt.actor,
        "triggered_by": attempt.triggered_by,
        "run_name": attempt.run_name,
        "url": attempt.run_url,
        "mode": attempt.mode,
        "started_at": iso(attempt.started_at_ms),
        "completed_at": iso(attempt.completed_at_ms),
        "duration_seconds": attempt.duration_seconds,
        "compute_seconds": attempt.compute_seconds,
        "tags": attempt.tags,
        "metrics": attempt.metrics,
        "commit_sha": attempt.commit_sha,
        "commit_message": attempt.commit_message,
        "commit_author": attempt.commit_author,
        "pull_request_number": attempt.pull_request_number,
        "pull_request_title": attempt.pull_request_title,
        "pull_request_url": attempt.pull_request_url,
        "pull_request_source_branch": attempt.pull_request_source_branch,
        "pull_request_target_branch": attempt.pull_request_target_branch,
        "event_kind": attempt.event_kind,
        "failure_reason": attempt.failure_reason,
        "failure_class": attempt.failure_class,
        "queue_seconds": attempt.queue_seconds,
    }


#: The columns of a CSV of run attempts, of an empty one too.
BLANK_ATTEMPT = attempt_json(NO_ATTEMPT)


def _other_attempt_json(other: OtherAttempt) -> Json:
    return {
        "id": other.id,
        "attempt": other.attempt,
        "status": other.status,
        "started_at": iso(other.started_at_ms),
        "completed_at": iso(other.completed_at_ms),
    }


def runner_json(runner: Runner) -> Json | None:
    """The runner a job ran on; null when its source named none."""
    if runner == NO_RUNNER:
        return None
    return {"labels": runner.labels, "name": runner.name, "group": runner.group, "id": runner.id}


def job_node_json(node: JobNode) -> Json:
    """A node of a job tree with its children (``job_url``: ``url``'s older name)."""
    return {
        "id": node.id,
        "name": node.name,
        "kind": node.kind,
        "status": node.status,
        "raw_status": node.raw_status,
        "started_at": iso(node.started_at_ms),
        "completed_at": iso(node.completed_at_ms),
        "duration_seconds": node.duration_seconds,
        "job_id": node.external_id,
        "job_url": node.url,
        "url": node.url,
        "tags": node.tags,
        "metrics": node.metrics,
        "failure_reason": node.failure_reason,
        "failure_class": node.failure_class,
        "failing_step": node.failing_step,
        "queue_seconds": node.queue_seconds,
        "runner": runner_json(node.runner),
        "definition_key": node.definition_key,
        "children": [job_node_json(child) for child in node.children],
    }


def run_json(detail: RunDetail) -> Json:
    """One attempt with the attempts of its run and its job tree (``/runs/{id}``)."""
    return {
        **attempt_json(detail.attempt),
        "attempts": [_other_attempt_json(other) for other in detail.attempts],
        "jobs": [job_node_json(node) for node in detail.jobs],
        "time_split": time_split_json(time_split(detail.jobs)),
        "triage": None if detail.triage is None else triage_json(detail.triage),
        "cost": None if detail.cost is None else attempt_cost_json(detail.cost),
        "failed_tests": [job_failed_tests_json(job) for job in detail.failed_tests],
    }


def latest_attempt_json(latest: LatestAttempt) -> Json:
    """One of a pipeline's latest attempts (the Pipelines page's sparklines)."""
    return {
        "id": latest.id,
        "status": latest.status,
        "duration_seconds": latest.duration_seconds,
        "started_at": iso(latest.started_at_ms),
        "branch": latest.branch,
        "provider": latest.provider,
    }


def page_answer(page: Page[Item], format: str, present: Callable[[Item], Json]) -> Response:
    """A page as ``{"items": …, "next_cursor": …}``, or CSV (cursor in ``X-Next-Cursor``)."""
    items = [present(item) for item in page.items]
    if format == "csv":
        cursor = page.next_cursor
        return csv_response(items, {"X-Next-Cursor": cursor} if cursor else None)
    return json_response({"items": items, "next_cursor": page.next_cursor})


def as_is(row: Json) -> Json:
    """A row whose answer is already named as the wire names it."""
    return row


def answer(
    result: Answer,
    format: str,
    present: Callable[[Answer], Json],
    csv_rows: Callable[[Json], Sequence[Json]],
) -> Response:
    """An answer as JSON (``present``), or its JSON's ``csv_rows`` as CSV."""
    found = present(result)
    return csv_response(list(csv_rows(found))) if format == "csv" else json_response(found)


def window_json(bounds: WindowBounds) -> Json:
    """The window's bounds; ``partial`` and ``elapsed_until`` where the answer has them."""
    found: Json = {
        "since": iso(bounds.since_ms),
        "until": iso(bounds.until_ms),
        "days": bounds.days,
    }
    if bounds.partial is not None:
        found["partial"] = bounds.partial
        found["elapsed_until"] = iso(bounds.elapsed_until_ms)
    return found


def run_figures_json(figures: RunFigures) -> Json:
    """The run figures, in ``definitions.RUN_METRICS``' order (``by_status`` after runs)."""
    return {
        "runs": figures.runs,
        "by_status": figures.by_status,
        "success_rate": figures.success_rate,
        "first_attempt_success_rate": figures.first_attempt_success_rate,
        "p50_duration_seconds": figures.p50_duration_seconds,
        "p95_duration_seconds": figures.p95_duration_seconds,
        "mean_duration_seconds": figures.mean_duration_seconds,
        "compute_seconds": figures.compute_seconds,
        "throughput_per_day": figures.throughput_per_day,
        "flaky_runs": figures.flaky_runs,
        "flaky_rate": figures.flaky_rate,
        "retry_compute_seconds": figures.retry_compute_seconds,
        "failures_by_class": figures.failures_by_class,
    }


def _summary_figures_json(figures: SummaryFigures) -> Json:
    return {
        **run_figures_json(figures.run),
        "mttr_seconds": figures.mttr_seconds,
        "red_at_end": figures.red_at_end,
        "red_now": figures.red_now,
    }


def change_json(change: Change) -> Json:
    return {"kind": change.kind, "change": change.change, "reason": change.reason}


def summary_json(summary: Summary) -> Json:
    """A window's summary (``/analytics/summary``), the dashboard's cards read it too."""
    return {
        "window": window_json(summary.window),
        **_summary_figures_json(summary.figures),
        "previous": {
            "window": window_json(summary.previous_window),
            **_summary_figures_json(summary.previous),
        },
        "changes": {metric: change_json(change) for metric, change in summary.changes.items()},
    }


def wait_figures_json(figures: WaitFigures) -> Json:
    return {
        "waited_jobs": figures.waited_jobs,
        "p50_queue_seconds": figures.p50_queue_seconds,
        "p95_queue_seconds": figures.p95_queue_seconds,
        "mean_queue_seconds": figures.mean_queue_seconds,
        "total_queue_seconds": figures.total_queue_seconds,
        "running_seconds": figures.running_seconds,
        "waiting_share": figures.waiting_share,
    }


def waits_json(waits: Waits) -> Json:
    """How long jobs waited for a runner (``/analytics/waits``), and before."""
    return {
        "window": window_json(waits.window),
        **wait_figures_json(waits.figures),
        "previous": {
            "window": window_json(waits.previous_window),
            **wait_figures_json(waits.previous),
        },
        "changes": {name: change_json(change) for name, change in waits.changes.items()},
    }


def summary_rows(summary: Json) -> list[Json]:
    """A summary's CSV: one row, nested figures as JSON text."""
    return [summary]


def series_bucket_json(bucket: SeriesBucket) -> Json:
    """One bucket of the run series with every run figure (the dashboard's charts)."""
    return {
        "start": iso(bucket.start_ms),
        "partial": bucket.partial,
        **run_figures_json(bucket.figures),
    }


def _point_json(point: SeriesPoint) -> Json:
    return {"start": iso(point.start_ms), "value": point.value, "partial": point.partial}


def timeseries_json(series: Timeseries) -> Json:
    """One figure per bucket (``/analytics/timeseries``)."""
    return {
        "window": window_json(series.window),
        "metric": series.metric,
        "interval": series.interval.value,
        "points": [_point_json(point) for point in series.points],
    }


def series_rows(series: Json) -> list[Json]:
    """A time series' CSV: a row per bucket (``start``, ``value``, ``partial``)."""
    return list(series["points"])


def _period_json(period: ListedPeriod) -> Json:
    found: Json = {
        "pipeline_id": period.pipeline_id,
        "pipeline": period.pipeline,
        "repository": period.repository,
        "branch": period.branch,
        "red_since": iso(period.red_since_ms),
        "recovered_at": iso(period.recovered_at_ms),
        "seconds": period.seconds,
        "failing_attempts": period.failing_attempts,
    }
    if period.red_seconds_at_end is not None:  # still red at the window's end
        found["red_seconds_at_end"] = period.red_seconds_at_end
    return found


def recovery_json(recovery: RecoveryAnswer) -> Json:
    """Red periods ended and red at the end (``/analytics/recovery``, the red lists)."""
    red = [_period_json(period) for period in recovery.red_at_end]
    return {
        "window": window_json(recovery.window),
        "mttr_seconds": recovery.mttr_seconds,
        "recovered_periods": recovery.recovered_periods,
        "periods": [_period_json(period) for period in recovery.periods],
        "window_ends_now": recovery.window_ends_now,
        "red_at": iso(recovery.red_at_ms),
        "red_at_end_count": recovery.red_at_end_count,
        "red_at_end": red,
        "red_now_count": recovery.red_now_count,
        "red_now": None if recovery.red_now is None else red,
    }


def recovery_rows(recovery: Json) -> list[Json]:
    """The recovery answer's CSV: the periods that ended, then those red at the end."""
    return [*recovery["periods"], *recovery["red_at_end"]]


def _metric_point_json(point: MetricPoint) -> Json:
    return {
        "start": iso(point.start_ms),
        "count": point.count,
        "sum": point.sum,
        "mean": point.mean,
        "p50": point.p50,
        "p95": point.p95,
    }


def custom_metric_json(metric: MetricSeries) -> Json:
    """One custom metric per bucket, a series per group (``/analytics/custom-metrics``)."""
    return {
        "window": window_json(metric.window),
        "key": metric.key,
        "group_by": metric.group_by,
        "interval": metric.interval.value,
        "groups": [
            {"group": group.group, "points": [_metric_point_json(p) for p in group.points]}
            for group in metric.groups
        ],
        "partial": metric.partial,
    }


def custom_metric_rows(metric: Json) -> list[Json]:
    """A custom metric's CSV: a row per group and bucket."""
    return [{"group": g["group"], **point} for g in metric["groups"] for point in g["points"]]


def definitions_json() -> list[Json]:
    """The metric definitions, as implemented (``/analytics/definitions``)."""
    return [
        {"name": m.name, "unit": m.unit, "definition": m.definition}
        for m in (
            *RUN_METRICS,
            *RECOVERY_METRICS,
            *JOB_METRICS,
            *TRIAGE_METRICS,
            *PULL_REQUEST_METRICS,
            *WAIT_METRICS,
            *TEAM_METRICS,
            *COST_METRICS,
            *RUNNER_METRICS,
        )
    ]
