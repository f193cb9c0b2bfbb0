"""The dashboard's job pages: every job's figures, and the flaky jobs.

The Jobs page (job metrics per pipeline and job, a page at a time) and the Flaky page (flaky
jobs, most flaky first, with the totals over all of them)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cipulse.analytics.flaky_totals import flaky_totals
from cipulse.analytics.paging import PageRequest, page_of, page_range
from cipulse.analytics.service import JOB_SORTS
from cipulse.web.auth import SignedIn
from cipulse.web.dashboard.page_parts import (
    FLAKY_PER_PAGE,
    JOB_COLUMNS,
    JOB_DURATIONS,
    JOBS_PER_PAGE,
    call,
    cursor_param,
    level_param,
    render_page,
    service_of,
    sort_param,
)
from cipulse.web.dashboard.rendering import column_units
from cipulse.web.dashboard.routing import page_router
from cipulse.web.dashboard.view import view_of
from cipulse.web.list_presenters import flaky_job_json, job_row_json

routes = page_router()


@routes.get("/jobs")
async def jobs(request: Request, session: SignedIn) -> Response:
    view = view_of(request)
    sort = sort_param(request, JOB_SORTS, "-total_duration_seconds")
    level = level_param(request)
    found, next_cursor = await call(
        service_of(request).jobs,
        session.org_id,
        view.narrowed(job_level=level),
        PageRequest(limit=JOBS_PER_PAGE, sort=sort, cursor=cursor_param(request)),
    )
    rows = [job_row_json(row) for row in found]
    return await render_page(
        request,
        "jobs.html",
        session,
        view,
        title="Jobs",
        rows=rows,
        units=column_units(rows, JOB_DURATIONS),
        sort=sort,
        columns=(("pipeline", "Pipeline"), *JOB_COLUMNS),
        next_cursor=next_cursor,
        level=level,
        csv=view.api("analytics/jobs", sort=sort, level=level, format="csv"),
    )


@routes.get("/flaky")
async def flaky(request: Request, session: SignedIn) -> Response:
    view = view_of(request)
    level = level_param(request)
    window = view.narrowed(job_level=level)
    every = await call(service_of(request).all_flaky, session.org_id, window, None)
    page = PageRequest(limit=FLAKY_PER_PAGE, cursor=cursor_param(request))
    found, next_cursor = page_of(every, None, page)
    rows = [flaky_job_json(row) for row in found]
    return await render_page(
        request,
        "flaky.html",
        session,
        view,
        title="Flaky jobs",
        rows=rows,
        first_rank=page_range(page)[0] + 1,
        next_cursor=next_cursor,
        totals=flaky_totals(every),
        units=column_units(rows, ("retry_compute_seconds",)),
        level=level,
        csv=view.api("analytics/flaky", level=level, format="csv"),
    )


def router() -> APIRouter:
    return routes
