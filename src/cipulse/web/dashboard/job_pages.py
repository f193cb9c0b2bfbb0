"""The dashboard's job pages: every job's figures, one job, the flaky jobs.

The Jobs page (job metrics per pipeline and job, a page at a time, searched by the job's
name, pipeline and repository), a job's page (its figures over time, failures and places:
``web/job_paths.py`` names it) and the Flaky page (flaky jobs, most flaky first, with the
totals over all of them)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from cipulse.analytics.flaky_totals import flaky_totals
from cipulse.analytics.paging import PageRequest, page_of, page_range
from cipulse.analytics.service import JOB_SORTS
from cipulse.domain.accepted import canonical_uuid
from cipulse.errors import InvalidRequest
from cipulse.web.auth import SignedIn
from cipulse.web.dashboard.charts import job_charts
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
from cipulse.web.job_paths import key_in_path
from cipulse.web.job_presenters import job_detail_json
from cipulse.web.list_presenters import flaky_job_json, job_row_json

routes = page_router()


@routes.get("/jobs")
async def jobs(request: Request, session: SignedIn) -> Response:
    view = view_of(request)
    sort = sort_param(request, JOB_SORTS, "-total_duration_seconds")
    level = level_param(request)
    search = _job_search(request)
    service = service_of(request)
    found, next_cursor = await call(
        service.jobs,
        session.org_id,
        view.narrowed(job_level=level, **search.filters),
        PageRequest(limit=JOBS_PER_PAGE, sort=sort, cursor=cursor_param(request)),
    )
    choices = await call(service.every_pipeline, session.org_id)
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
        search=search,
        pipelines=choices,
        csv=view.api(
            "analytics/jobs",
            sort=sort,
            level=level,
            job=search.job or None,
            pipeline=search.pipeline or None,
            format="csv",
        ),
    )


@dataclass(frozen=True, slots=True)
class JobSearch:
    """The Jobs page's search: part of the job's name, and a pipeline's id ('' for none)."""

    job: str
    pipeline: str

    @property
    def filters(self) -> dict[str, str | None]:
        return {"job_name": self.job or None, "pipeline_id": self.pipeline or None}


def _job_search(request: Request) -> JobSearch:
    job = (request.query_params.get("job") or "").strip()
    pipeline = (request.query_params.get("pipeline") or "").strip()
    problems = []
    if len(job) > 1000:
        problems.append("job: must be at most 1000 characters")
    found = canonical_uuid(pipeline) if pipeline else ""
    if found is None:
        problems.append("pipeline: must be a pipeline's id")
    if problems:
        raise InvalidRequest("; ".join(problems))
    return JobSearch(job=job, pipeline=found or "")


@routes.get("/jobs/{pipeline_id}/{job:path}")
async def job_page(request: Request, session: SignedIn, pipeline_id: str, job: str) -> Response:
    return await _job_page(
        request, session, pipeline_id, key_in_path(request.scope, pipeline_id, job)
    )


@routes.get("/jobs/{pipeline_id}")
async def job_page_by_query(request: Request, session: SignedIn, pipeline_id: str) -> Response:
    """A job whose key is dots only (``web/job_paths.py``), named in ``?job=``."""
    key = request.query_params.get("job")
    if key is None:
        raise InvalidRequest("job: the job's definition key")
    return await _job_page(request, session, pipeline_id, key)


async def _job_page(request: Request, session: SignedIn, pipeline_id: str, key: str) -> Response:
    view = view_of(request)
    found = await call(
        service_of(request).job, session.org_id, pipeline_id, key, view.window, view.interval
    )
    detail = job_detail_json(found)
    figures = [detail["figures"]] if detail["figures"] else []
    pipeline = detail["pipeline"]["id"]
    return await render_page(
        request,
        "job.html",
        session,
        view,
        title=detail["job"],
        job=detail,
        units=column_units(figures, JOB_DURATIONS),
        charts=job_charts(detail["series"]),
        csv=view.api(f"jobs/{pipeline}", job=key, interval=view.interval.value, format="csv"),
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
