"""The read API's lists: a page as JSON or CSV, or a whole list as CSV.

The read API's lists (``/api/v1``): repositories, pipelines, jobs, flaky jobs and run
attempts, a page at a time as JSON or CSV, or a whole list as CSV (streamed, a batch at a
time: ``analytics/whole_lists.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from cipulse.analytics import whole_lists
from cipulse.analytics.paging import DEFAULT_LIMIT, MAX_PAGE, Page, PageRequest
from cipulse.analytics.pipeline_search import PipelineSearch
from cipulse.analytics.service import AnalyticsService
from cipulse.analytics.whole_lists import WholeList
from cipulse.domain.window import Window
from cipulse.errors import InvalidRequest
from cipulse.web.csv_export import csv_stream
from cipulse.web.list_presenters import (
    flaky_job_json,
    job_row_json,
    pipeline_row_json,
    repository_row_json,
)
from cipulse.web.presenters import Json, attempt_json, page_answer
from cipulse.web.read_routes import (
    _PAGE,
    Auth,
    Format,
    WindowParam,
    _answers,
    _call,
    _check_format,
    _service,
)
from cipulse.web.requests import CheckedRoute

Item = TypeVar("Item")
LIMIT = f"1 to {MAX_PAGE} [{DEFAULT_LIMIT}]; a CSV without limit nor cursor holds the whole list"


def page_query(
    limit: Annotated[int | None, Query(description=LIMIT)] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    sort: Annotated[
        str | None, Query(description="a field of the rows; prefix - for descending")
    ] = None,
) -> PageRequest:
    return PageRequest(
        limit=DEFAULT_LIMIT if limit is None else limit, cursor=cursor, sort=sort or None
    )


PageParam = Annotated[PageRequest, Depends(page_query)]


def _whole(request: Request, format: str) -> bool:
    """Whether the answer is a whole list: a CSV asked without ``limit`` nor ``cursor``."""
    given = request.query_params
    return _check_format(format) == "csv" and "limit" not in given and "cursor" not in given


def _streamed(whole: WholeList[Item], present: Callable[[Item], Json]) -> Response:
    """A whole list as CSV, each batch read in a database thread."""

    async def next_batch() -> list[Json] | None:
        batch = await _call(next, whole.batches, None)
        return None if batch is None else [present(item) for item in batch]

    return csv_stream(present(whole.blank), next_batch)


def _windowed_list(
    method: Callable[[AnalyticsService, str, Window, PageRequest], Page[Item]],
    whole_list: Callable[[AnalyticsService, str, Window, str | None], WholeList[Item]],
    present: Callable[[Item], Json],
) -> Callable[..., Any]:
    """An endpoint answering a page of ``method(...)`` for the window, JSON or CSV, or the
    whole list (``whole_list``) as CSV, each row as ``present`` names it."""

    async def endpoint(
        request: Request,
        principal: Auth,
        window: WindowParam,
        page: PageParam,
        format: Format = "json",
    ) -> Response:
        if _whole(request, format):
            service = _service(request)
            return _streamed(whole_list(service, principal.org_id, window, page.sort), present)
        found = await _call(method, _service(request), principal.org_id, window, page)
        return page_answer(found, format, present)

    return endpoint


routes = APIRouter(prefix="/api/v1", tags=["read"], route_class=CheckedRoute)


def _add_windowed_list(
    path: str,
    method: Callable[[AnalyticsService, str, Window, PageRequest], Page[Item]],
    whole_list: Callable[[AnalyticsService, str, Window, str | None], WholeList[Item]],
    present: Callable[[Item], Json],
    summary: str,
) -> None:
    routes.add_api_route(
        path,
        _windowed_list(method, whole_list, present),
        methods=["GET"],
        summary=summary,
        responses=_answers(_PAGE),
    )


def jobs_window_query(
    window: WindowParam,
    job: Annotated[str | None, Query(description="part of the job's name, any case")] = None,
) -> Window:
    """The window of the job list: the common filters (``pipeline``, ``repository``…), and
    the job's name."""
    if job is not None and len(job) > 1000:
        raise InvalidRequest("job: must be at most 1000 characters")
    return replace(window, filters=replace(window.filters, job_name=(job or "").strip() or None))


@routes.get(
    "/analytics/jobs",
    summary="Job metrics per pipeline and job",
    responses=_answers(_PAGE),
)
async def list_jobs(
    request: Request,
    principal: Auth,
    window: Annotated[Window, Depends(jobs_window_query)],
    page: PageParam,
    format: Format = "json",
) -> Response:
    if _whole(request, format):
        whole = whole_lists.jobs(_service(request), principal.org_id, window, page.sort)
        return _streamed(whole, job_row_json)
    found = await _call(_service(request).jobs, principal.org_id, window, page)
    return page_answer(found, format, job_row_json)


_add_windowed_list(
    "/analytics/flaky",
    AnalyticsService.flaky,
    whole_lists.flaky,
    flaky_job_json,
    "Flaky jobs, most flaky first",
)
_add_windowed_list(
    "/repositories",
    AnalyticsService.repositories,
    whole_lists.repositories,
    repository_row_json,
    "Repositories with their metrics",
)


@routes.get(
    "/pipelines",
    summary="Pipelines with their metrics",
    responses=_answers(_PAGE),
)
async def list_pipelines(
    request: Request,
    principal: Auth,
    window: WindowParam,
    page: PageParam,
    q: Annotated[str, Query(description="part of the pipeline's or repository's name")] = "",
    latest_provider: Annotated[
        str, Query(description="the provider of the pipeline's latest attempt")
    ] = "",
    format: Format = "json",
) -> Response:
    service = _service(request)
    search = PipelineSearch(text=q, latest_provider=latest_provider)
    if _whole(request, format):
        whole = whole_lists.pipelines(service, principal.org_id, window, page.sort, search)
        return _streamed(whole, pipeline_row_json)
    found = await _call(service.pipelines, principal.org_id, window, page, search)
    return page_answer(found, format, pipeline_row_json)


@routes.get(
    "/runs",
    summary="Run attempts, newest first, a page at a time",
    responses=_answers(_PAGE),
)
async def list_runs(
    request: Request,
    principal: Auth,
    window: WindowParam,
    limit: Annotated[int | None, Query(description=LIMIT)] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    format: Format = "json",
) -> Response:
    if _whole(request, format):
        whole = whole_lists.runs(_service(request), principal.org_id, window)
        return _streamed(whole, attempt_json)
    found = await _call(
        _service(request).runs,
        principal.org_id,
        window,
        DEFAULT_LIMIT if limit is None else limit,
        cursor,
    )
    return page_answer(found, format, attempt_json)


def router() -> APIRouter:
    return routes
