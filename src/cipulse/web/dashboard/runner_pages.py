"""The dashboard's Runners page: label sets, saturation, their runners.

The Runners page lists the window's runner label sets with their jobs, waits, failure
rates and a strip of their busy time per UTC hour of day (how saturated each pool is);
above them, two charts by hour of day: the runners busy per label set (which pool is
saturated, and when) and the jobs' waits (``/analytics/runners/hours``). Each label set
links to a page of its runners by name (a bounded sample) with its own waits by hour."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cipulse.analytics.paging import PageRequest
from cipulse.analytics.questions.runners import SORTS
from cipulse.web.auth import SignedIn
from cipulse.web.dashboard.charts import busy_by_hour_chart, waits_by_hour_chart
from cipulse.web.dashboard.page_parts import (
    call,
    cursor_param,
    render_page,
    service_of,
    sort_param,
)
from cipulse.web.dashboard.routing import page_router
from cipulse.web.dashboard.view import view_of
from cipulse.web.presenters import Json
from cipulse.web.runner_presenters import (
    label_set_json,
    label_set_runners_json,
    queue_by_hour_json,
)

routes = page_router()
LABEL_SETS_PER_PAGE = 50
#: The list's columns that sort (key, header).
RUNNER_COLUMNS = (
    ("jobs", "Jobs"),
    ("p50_duration_seconds", "p50 duration"),
    ("p95_duration_seconds", "p95 duration"),
    ("p50_queue_seconds", "p50 wait"),
    ("p95_queue_seconds", "p95 wait"),
    ("total_queue_seconds", "Total wait"),
    ("failure_rate", "Failure rate"),
    ("infrastructure_failure_rate", "Infra failures"),
    ("busy_hours", "Busy"),
)


def strip_scale(rows: list[Json]) -> float:
    """The highest mean busy runners of any hour of any row: the strips' common scale."""
    return max([float(v) for row in rows for v in row["mean_busy_runners_by_hour"]] + [0.0])


@routes.get("/runners")
async def runners(request: Request, session: SignedIn) -> Response:
    """The window's label sets with their figures and saturation by hour of day."""
    view = view_of(request)
    sort = sort_param(request, SORTS, "-jobs")
    page = PageRequest(limit=LABEL_SETS_PER_PAGE, cursor=cursor_param(request), sort=sort)
    answer = service_of(request).runners_and_hours
    found, hours = await call(answer, session.org_id, view.window, page)
    rows = [label_set_json(row) for row in found.items]
    waited = queue_by_hour_json(hours)["hours"]
    charts = [busy_by_hour_chart(rows)] if rows else []
    if any(hour["waited_jobs"] for hour in waited):
        charts.append(waits_by_hour_chart(waited, "Waits by hour of day, every label set"))
    return await render_page(
        request,
        "runners.html",
        session,
        view,
        title="Runners",
        rows=rows,
        scale=strip_scale(rows),
        charts=charts,
        next_cursor=found.next_cursor,
        sort=sort,
        columns=RUNNER_COLUMNS,
        csv=view.api("analytics/runners", sort=sort, format="csv"),
    )


@routes.get("/runners/names")
async def label_set_runners(request: Request, session: SignedIn) -> Response:
    """One label set's runners by name, from the window's latest attempts."""
    view = view_of(request)
    label_set = request.query_params.get("label_set", "")[:1000]
    service = service_of(request)
    found = await call(service.runners_of, session.org_id, view.window, label_set)
    detail = label_set_runners_json(found)
    hours = await call(service.queue_by_hour, session.org_id, view.window, label_set)
    waited = queue_by_hour_json(hours)["hours"]
    charts = []
    if any(hour["waited_jobs"] for hour in waited):
        title = f"Waits by hour of day, {detail['label_set_name']}"
        charts.append(waits_by_hour_chart(waited, title))
    return await render_page(
        request,
        "runner.html",
        session,
        view,
        title=f"Runners of {detail['label_set_name']}",
        detail=detail,
        charts=charts,
        csv=view.api("analytics/runners/names", label_set=label_set, format="csv"),
    )


def router() -> APIRouter:
    return routes
