"""The read API's job: one job of a pipeline over a window, JSON or CSV.

``GET /api/v1/jobs/{pipeline_id}/{job}``: the job's figures, series, failures and places
(``web/job_paths.py`` says how the job's definition key is written in the path; a key of
dots only goes in ``?job=``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from cipulse.analytics.buckets import parse_interval
from cipulse.web.job_paths import key_in_path
from cipulse.web.job_presenters import job_detail_json, job_detail_rows
from cipulse.web.presenters import answer
from cipulse.web.read_routes import (
    _OBJECT,
    Auth,
    Format,
    WindowParam,
    _answers,
    _call,
    _check_format,
    _service,
)
from cipulse.web.requests import CheckedRoute

routes = APIRouter(prefix="/api/v1", tags=["read"], route_class=CheckedRoute)
_PIPELINE = Annotated[str, Path(description="the pipeline's id, a UUID in any case")]
_INTERVAL = Annotated[str, Query(description="the series' buckets: hour, day or week")]
_ANSWERS = _answers(_OBJECT, not_found="No such pipeline or job (in this organisation)")


async def _job(
    request: Request,
    principal: Auth,
    window: WindowParam,
    pipeline_id: str,
    job: str,
    interval: str,
    format: str,
) -> Response:
    _check_format(format)
    found = await _call(
        _service(request).job, principal.org_id, pipeline_id, job, window, parse_interval(interval)
    )
    return answer(found, format, job_detail_json, job_detail_rows)


@routes.get(
    "/jobs/{pipeline_id}/{job:path}",
    summary="One job of a pipeline: figures, series, failures by class, places",
    responses=_ANSWERS,
)
async def get_job(
    request: Request,
    principal: Auth,
    window: WindowParam,
    pipeline_id: _PIPELINE,
    job: Annotated[str, Path(description="the job's definition key, percent-encoded")],
    interval: _INTERVAL = "day",
    format: Format = "json",
) -> Response:
    key = key_in_path(request.scope, pipeline_id, job)
    return await _job(request, principal, window, pipeline_id, key, interval, format)


@routes.get(
    "/jobs/{pipeline_id}",
    summary="One job of a pipeline, its key in the query (keys of dots only)",
    responses=_ANSWERS,
)
async def get_job_by_query(
    request: Request,
    principal: Auth,
    window: WindowParam,
    pipeline_id: _PIPELINE,
    job: Annotated[str, Query(description="the job's definition key")],
    interval: _INTERVAL = "day",
    format: Format = "json",
) -> Response:
    return await _job(request, principal, window, pipeline_id, job, interval, format)


def router() -> APIRouter:
    return routes
