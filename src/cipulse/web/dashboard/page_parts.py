"""What every dashboard page shares: the service, the layout, the view.

The parts of the dashboard's pages: how a page asks the analytics service (in a database
thread), renders inside the layout, says where runs are when a window holds none, and reads
its sort, cursor, level and page number."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from starlette.responses import Response

from cipulse.accounts.teams import TeamService
from cipulse.accounts.users import Session
from cipulse.analytics.service import AnalyticsService, RunSpan
from cipulse.domain.compute import LEVELS
from cipulse.errors import InvalidRequest
from cipulse.web.dashboard.rendering import render
from cipulse.web.dashboard.view import BRANCH_SCOPES, RANGES, View
from cipulse.web.deadlines import run_in_database_thread

T = TypeVar("T")
TOP = 5
PIPELINES_PER_PAGE = 50
JOBS_PER_PAGE = 100
FLAKY_PER_PAGE = 100
RUNS_PER_PAGE = 50
RED_NOW_SHOWN = 8
PIPELINE_COLUMNS = (
    ("name", "Pipeline"),
    ("runs", "Runs"),
    ("success_rate", "Success"),
    ("p50_duration_seconds", "p50"),
    ("p95_duration_seconds", "p95"),
    ("compute_seconds", "Compute"),
    ("flaky_rate", "Flaky-run share"),
    ("p95_queue_seconds", "p95 wait"),
    ("total_queue_seconds", "Total wait"),
)
#: The job tables' columns (``job_table.html`` shows each: a duration, in ``JOB_DURATIONS``,
#: in its column's unit; a ``*_rate`` as a percentage; anything else as a number).
JOB_COLUMNS = (
    ("job", "Job"),
    ("runs", "Runs"),
    ("success_rate", "Success"),
    ("failure_count", "Failures"),
    ("failed_code", "Code"),
    ("failed_infrastructure", "Infra"),
    ("failed_timeout", "Timeout"),
    ("failed_cancelled", "Cancelled"),
    ("failed_unknown", "Unknown"),
    ("flaky_count", "Flaky runs"),
    ("p50_duration_seconds", "p50"),
    ("p95_duration_seconds", "p95"),
    ("exclusive_seconds", "Exclusive"),
    ("total_duration_seconds", "Total time"),
    ("mean_queue_seconds", "Mean queue"),
    ("p95_queue_seconds", "p95 queue"),
    ("total_queue_seconds", "Total queue"),
)
#: The columns of durations: each shown in one unit, named in its header.
PIPELINE_DURATIONS = (
    "p50_duration_seconds",
    "p95_duration_seconds",
    "p95_queue_seconds",
    "total_queue_seconds",
)
JOB_DURATIONS = (
    "p50_duration_seconds",
    "p95_duration_seconds",
    "exclusive_seconds",
    "total_duration_seconds",
    "mean_queue_seconds",
    "p95_queue_seconds",
    "total_queue_seconds",
)


async def call(function: Callable[..., T], *args: Any) -> T:
    return await run_in_database_thread(function, *args)


def service_of(request: Request) -> AnalyticsService:
    return AnalyticsService(request.app.state.database)


async def render_page(
    request: Request, template: str, session: Session, view: View, **context: Any
) -> Response:
    repositories = await call(service_of(request).repository_names, session.org_id)
    teams = await call(TeamService(request.app.state.database).team_names, session.org_id)
    return render(
        request,
        template,
        {
            "session": session,
            "view": view,
            "ranges": RANGES,
            "branch_scopes": BRANCH_SCOPES,
            "repositories": repositories,
            "teams": teams,
            **context,
        },
    )


def runs_elsewhere(view: View, span: RunSpan | None, what: str) -> dict[str, Any] | None:
    """When a window shows no runs but some are stored: when they started, and a link to
    that period (unless it overlaps the window, and only filters hide them)."""
    if span is None:
        return None
    first, last = span.first_day.isoformat(), span.last_day.isoformat()
    overlaps = span.last_ms >= view.window.since_ms and span.first_ms < view.window.until_ms
    return {
        "what": what,
        "first": first,
        "last": last,
        "url": None if overlaps else view.url(range=None, since=first, until=last),
        "filtered": bool(view.repository or view.branches),
        "clear_url": view.url(repository=None, branches=None),
    }


def sort_param(request: Request, allowed: tuple[str, ...], default: str) -> str:
    sort = request.query_params.get("sort") or default
    if sort.removeprefix("-") not in allowed:
        raise InvalidRequest("sort: must be one of " + ", ".join(allowed) + " (- for descending)")
    return sort


def cursor_param(request: Request) -> str | None:
    return request.query_params.get("cursor") or None


def level_param(request: Request) -> str:
    """The level of the jobs listed (``domain.compute.LEVELS`` or all; default: job)."""
    level = request.query_params.get("level") or "job"
    if level not in (*LEVELS, "all"):
        raise InvalidRequest("level: must be job, stage, step or all")
    return level


def page_number(request: Request) -> int:
    text = request.query_params.get("page") or "1"
    if not text.isdigit() or int(text) < 1:
        raise InvalidRequest("page: must be a whole number from 1")
    return int(text)
