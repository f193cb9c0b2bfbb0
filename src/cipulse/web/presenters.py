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

from cipulse.analytics.definitions import JOB_METRICS, RECOVERY_METRICS, RUN_METRICS
from cipulse.analytics.paging import Page
from cipulse.analytics.questions.run_answers import (
    NO_ATTEMPT,
    Attempt,
    JobNode,
    OtherAttempt,
    RunDetail,
)
from cipulse.analytics.questions.summary import iso
from cipulse.web.csv_export import csv_response

Item = TypeVar("Item")
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
        "children": [job_node_json(child) for child in node.children],
    }


def run_json(detail: RunDetail) -> Json:
    """One attempt with the attempts of its run and its job tree (``/runs/{id}``)."""
    return {
        **attempt_json(detail.attempt),
        "attempts": [_other_attempt_json(other) for other in detail.attempts],
        "jobs": [job_node_json(node) for node in detail.jobs],
    }


def page_answer(page: Page[Item], format: str, present: Callable[[Item], Json]) -> Response:
    """A page as ``{"items": …, "next_cursor": …}``, or as CSV rows with the next cursor
    in ``X-Next-Cursor``."""
    items = [present(item) for item in page.items]
    if format == "csv":
        cursor = page.next_cursor
        return csv_response(items, {"X-Next-Cursor": cursor} if cursor else None)
    return json_response({"items": items, "next_cursor": page.next_cursor})


def as_is(row: Json) -> Json:
    """A row whose answer is already named as the wire names it."""
    return row


def answer(result: Json, format: str, csv_rows: Callable[[Json], Sequence[Json]]) -> Response:
    """An answer as JSON, or its ``csv_rows`` as CSV."""
    return csv_response(list(csv_rows(result))) if format == "csv" else json_response(result)


def summary_rows(summary: Json) -> list[Json]:
    """A summary's CSV: one row, nested figures as JSON text."""
    return [summary]


def series_rows(series: Json) -> list[Json]:
    """A time series' CSV: a row per bucket (``start``, ``value``, ``partial``)."""
    return list(series["points"])


def recovery_rows(recovery: Json) -> list[Json]:
    """The recovery answer's CSV: the periods that ended, then those red at the end."""
    return [*recovery["periods"], *recovery["red_at_end"]]


def custom_metric_rows(metric: Json) -> list[Json]:
    """A custom metric's CSV: a row per group and bucket."""
    return [{"group": g["group"], **point} for g in metric["groups"] for point in g["points"]]


def definitions_json() -> list[Json]:
    """The metric definitions, as implemented (``/analytics/definitions``)."""
    return [
        {"name": m.name, "unit": m.unit, "definition": m.definition}
        for m in (*RUN_METRICS, *RECOVERY_METRICS, *JOB_METRICS)
    ]
