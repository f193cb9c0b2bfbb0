"""The read API (/api/v1): a read key or a dashboard session.

The read API (``/api/v1``): thin handlers that authenticate a ``read`` key, read the window
and filters, call the analytics service and render JSON or CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from cipulse.accounts.rates import RateService
from cipulse.analytics.buckets import parse_interval
from cipulse.analytics.paging import DEFAULT_LIMIT, MAX_PAGE
from cipulse.analytics.service import AnalyticsService
from cipulse.analytics.window import MAX_WINDOW_DAYS, WINDOW_RANGE, window_from
from cipulse.domain.changes import EventKind
from cipulse.domain.window import Window
from cipulse.errors import InvalidRequest
from cipulse.web.auth import Reader
from cipulse.web.cost_presenters import rate_card_json
from cipulse.web.deadlines import run_in_database_thread
from cipulse.web.presenters import (
    answer,
    custom_metric_json,
    custom_metric_rows,
    definitions_json,
    json_response,
    recovery_json,
    recovery_rows,
    run_json,
    series_rows,
    summary_json,
    summary_rows,
    timeseries_json,
    waits_json,
)
from cipulse.web.requests import CheckedRoute

T = TypeVar("T")


_Since = Annotated[
    str | None, Query(description=f"ISO 8601, {WINDOW_RANGE}; default: `days` days before until")
]
_Until = Annotated[
    str | None,
    Query(description=f"ISO 8601, {WINDOW_RANGE}; default: the end of today (UTC midnight)"),
]
_Days = Annotated[
    str | None,
    Query(
        description=f"window length in whole days (1 to {MAX_WINDOW_DAYS}) when since is "
        "not given [30]"
    ),
]
_Repository = Annotated[str | None, Query(description="owner/name")]
_Pipeline = Annotated[str | None, Query(description="pipeline id or name")]
_Team = Annotated[
    str | None,
    Query(
        description="a team's name (any case): the pipelines its rules give it; unowned: "
        "the pipelines of no team"
    ),
]
_Branches = Annotated[
    str | None,
    Query(
        description="default: only attempts on their repository's default branch (the "
        "one it names, else main or master); other: every other attempt, those without "
        "a branch included; empty: all"
    ),
]
_Status = Annotated[str | None, Query(description="comma-separated statuses")]
_Tag = Annotated[list[str] | None, Query(description="key:value, repeatable")]
_Level = Annotated[
    str | None,
    Query(
        description="job lists: job (the default: nodes directly under the run), stage or "
        "step (nested in a job), or all"
    ),
]
_Commit = Annotated[str | None, Query(description="a commit SHA or its start (4 to 64 hex digits)")]
_PullRequest = Annotated[str | None, Query(description="a pull or merge request number")]
_Author = Annotated[str | None, Query(description="part of the commit author's name, any case")]
_BranchContains = Annotated[str | None, Query(description="part of the branch's name, any case")]
_EventKind = Annotated[
    str | None,
    Query(description="comma-separated: " + ", ".join(kind.value for kind in EventKind)),
]


def window_query(
    since: _Since = None,
    until: _Until = None,
    days: _Days = None,
    repository: _Repository = None,
    pipeline: _Pipeline = None,
    team: _Team = None,
    branch: str | None = None,
    branches: _Branches = None,
    provider: str | None = None,
    status: _Status = None,
    actor: str | None = None,
    triggered_by: str | None = None,
    tag: _Tag = None,
    level: _Level = None,
    commit: _Commit = None,
    pull_request: _PullRequest = None,
    author: _Author = None,
    branch_contains: _BranchContains = None,
    event_kind: _EventKind = None,
) -> Window:
    """The window and filters of a read request, from its query parameters (the filters
    of the change among them: every read endpoint takes them)."""
    params = {
        "since": since,
        "until": until,
        "days": days,
        "repository": repository,
        "pipeline": pipeline,
        "team": team,
        "branch": branch,
        "branches": branches,
        "level": level,
        "provider": provider,
        "status": status,
        "actor": actor,
        "triggered_by": triggered_by,
        "commit": commit,
        "pull_request": pull_request,
        "author": author,
        "branch_contains": branch_contains,
        "event_kind": event_kind,
    }
    return window_from(params, datetime.now(UTC), tag or [])


#: The organisation a read request reads (``web/auth.py``: a read key or a session).
Auth = Reader
WindowParam = Annotated[Window, Depends(window_query)]
Format = Annotated[str, Query(description="json or csv")]


_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A parameter is wrong; the message names each", "content": _ERROR},
    401: {"description": "Missing, unknown or revoked key (and no session)", "content": _ERROR},
    403: {"description": "The key lacks the `read` scope", "content": _ERROR},
    503: {"description": "Database unavailable; retry after `Retry-After`", "content": _ERROR},
}
_OBJECT = {"type": "object"}
_PAGE = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": _OBJECT},
        "next_cursor": {"type": ["string", "null"], "description": "null on the last page"},
    },
    "required": ["items", "next_cursor"],
}


def _answers(
    schema: dict[str, Any], csv: bool = True, not_found: str | None = None
) -> dict[int | str, Any]:
    """The documented answers of a read endpoint: 200 as JSON (and CSV with ``format=csv``),
    the errors every read endpoint may give, and 404 when ``not_found`` says when."""
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    answers: dict[int | str, Any] = {200: {"description": "The answer", "content": content}}
    answers.update(_ERRORS)
    if not_found:
        answers[404] = {"description": not_found, "content": _ERROR}
    return answers


def _service(request: Request) -> AnalyticsService:
    return AnalyticsService(request.app.state.database)


def _check_format(format: str) -> str:
    if format not in {"json", "csv"}:
        raise InvalidRequest("format: must be json or csv")
    return format


_json = json_response


async def _call(function: Callable[..., T], *args: Any) -> T:
    return await run_in_database_thread(function, *args)


routes = APIRouter(prefix="/api/v1", tags=["read"], route_class=CheckedRoute)


@routes.get(
    "/analytics/summary",
    summary="Run-level metrics for the window, and the previous one",
    responses=_answers(_OBJECT),
)
async def analytics_summary(
    request: Request, principal: Auth, window: WindowParam, format: Format = "json"
) -> Response:
    _check_format(format)
    result = await _call(_service(request).summary, principal.org_id, window)
    return answer(result, format, summary_json, summary_rows)


@routes.get(
    "/analytics/waits",
    summary="How long jobs waited for a runner in the window, and in the previous one",
    responses=_answers(_OBJECT),
)
async def analytics_waits(
    request: Request, principal: Auth, window: WindowParam, format: Format = "json"
) -> Response:
    _check_format(format)
    result = await _call(_service(request).waits, principal.org_id, window)
    return answer(result, format, waits_json, summary_rows)


@routes.get(
    "/analytics/timeseries",
    summary="One metric per hour, day or week (UTC)",
    responses=_answers(_OBJECT),
)
async def analytics_timeseries(
    request: Request,
    principal: Auth,
    window: WindowParam,
    metric: Annotated[str, Query(description="a run metric name, or mttr_seconds")] = "runs",
    interval: Annotated[str, Query(description="hour, day or week")] = "day",
    format: Format = "json",
) -> Response:
    _check_format(format)
    result = await _call(
        _service(request).timeseries,
        principal.org_id,
        window,
        metric,
        parse_interval(interval),
    )
    return answer(result, format, timeseries_json, series_rows)


@routes.get(
    "/analytics/recovery",
    summary="Red periods, and what was red at the window's end (red now)",
    responses=_answers(_OBJECT),
)
async def analytics_recovery(
    request: Request,
    principal: Auth,
    window: WindowParam,
    limit: Annotated[int, Query(description=f"0 to {MAX_PAGE} periods per list")] = DEFAULT_LIMIT,
    format: Format = "json",
) -> Response:
    _check_format(format)
    result = await _call(_service(request).recovery, principal.org_id, window, limit)
    return answer(result, format, recovery_json, recovery_rows)


@routes.get(
    "/analytics/custom-metrics/keys",
    summary="Metric and tag keys seen in the window",
    responses=_answers(_OBJECT, csv=False),
)
async def custom_metric_keys(request: Request, principal: Auth, window: WindowParam) -> Response:
    return _json(await _call(_service(request).custom_metric_keys, principal.org_id, window))


@routes.get(
    "/analytics/custom-metrics",
    summary="One custom metric per bucket, by tag",
    responses=_answers(_OBJECT),
)
async def custom_metric(
    request: Request,
    principal: Auth,
    window: WindowParam,
    key: Annotated[str, Query(description="metric key")] = "",
    group_by: Annotated[str | None, Query(description="tag:<tag key>")] = None,
    interval: Annotated[str, Query(description="hour, day or week")] = "day",
    format: Format = "json",
) -> Response:
    _check_format(format)
    result = await _call(
        _service(request).custom_metric,
        principal.org_id,
        window,
        key,
        group_by,
        parse_interval(interval),
    )
    return answer(result, format, custom_metric_json, custom_metric_rows)


@routes.get(
    "/analytics/definitions",
    summary="The metric definitions, as implemented",
    responses=_answers({"type": "array", "items": _OBJECT}, csv=False),
)
async def analytics_definitions(principal: Auth) -> Response:
    return _json(definitions_json())


@routes.get(
    "/runs/{pipeline_run_id}",
    summary="One run attempt with its job tree",
    responses=_answers(_OBJECT, csv=False, not_found="No such run attempt (in this organisation)"),
)
async def get_run(
    request: Request,
    principal: Auth,
    pipeline_run_id: Annotated[str, Path(description="the attempt's id, a UUID in any case")],
) -> Response:
    return _json(run_json(await _call(_service(request).run, principal.org_id, pipeline_run_id)))


@routes.get(
    "/rates",
    summary="The organisation's rate card and currency",
    responses=_answers(_OBJECT, csv=False),
)
async def get_rates(request: Request, principal: Auth) -> Response:
    service = RateService(request.app.state.database)
    return _json(rate_card_json(await _call(service.card, principal.org_id)))


def router() -> APIRouter:
    return routes
