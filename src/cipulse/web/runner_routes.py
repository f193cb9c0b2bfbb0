"""The read API's runners: label sets, their runners, waits by hour.

``/api/v1/analytics/runners`` (figures per runner label set, a page at a time, JSON or
CSV), ``/analytics/runners/names`` (one label set's top runners, from a bounded sample)
and ``/analytics/runners/hours`` (waits by the UTC hour of day jobs were queued)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from cipulse.errors import InvalidRequest
from cipulse.web.list_routes import PageParam
from cipulse.web.presenters import answer, page_answer
from cipulse.web.read_routes import (
    _OBJECT,
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
from cipulse.web.runner_presenters import (
    label_set_json,
    label_set_runners_json,
    label_set_runners_rows,
    queue_by_hour_json,
    queue_by_hour_rows,
)

routes = APIRouter(prefix="/api/v1", tags=["read"], route_class=CheckedRoute)
#: The longest label set a request may name.
MAX_LABEL_SET = 1000
_LABEL_SET = "a label set as the runners list writes it; empty: the executions whose CI named none"


def _label_set(label_set: str | None, *, required: bool) -> str | None:
    if label_set is None:
        if required:
            raise InvalidRequest("label_set: required (empty for the unknown label set)")
        return None
    if len(label_set) > MAX_LABEL_SET:
        raise InvalidRequest(f"label_set: must be at most {MAX_LABEL_SET} characters")
    return label_set


@routes.get(
    "/analytics/runners",
    summary="Figures per runner label set: jobs, durations, waits, failures, busy hours",
    responses=_answers(_PAGE),
)
async def list_runners(
    request: Request, principal: Auth, window: WindowParam, page: PageParam, format: Format = "json"
) -> Response:
    _check_format(format)
    found = await _call(_service(request).runners, principal.org_id, window, page)
    return page_answer(found, format, label_set_json)


@routes.get(
    "/analytics/runners/names",
    summary="One label set's runners by name, from the window's latest attempts",
    responses=_answers(_OBJECT),
)
async def label_set_runners(
    request: Request,
    principal: Auth,
    window: WindowParam,
    label_set: Annotated[str | None, Query(description=_LABEL_SET)] = None,
    format: Format = "json",
) -> Response:
    _check_format(format)
    chosen = _label_set(label_set, required=True) or ""
    found = await _call(_service(request).runners_of, principal.org_id, window, chosen)
    return answer(found, format, label_set_runners_json, label_set_runners_rows)


@routes.get(
    "/analytics/runners/hours",
    summary="Waits by the UTC hour of day jobs were queued (24 buckets)",
    responses=_answers(_OBJECT),
)
async def queue_by_hour(
    request: Request,
    principal: Auth,
    window: WindowParam,
    label_set: Annotated[str | None, Query(description=_LABEL_SET + "; absent: all")] = None,
    format: Format = "json",
) -> Response:
    _check_format(format)
    chosen = _label_set(label_set, required=False)
    found = await _call(_service(request).queue_by_hour, principal.org_id, window, chosen)
    return answer(found, format, queue_by_hour_json, queue_by_hour_rows)


def router() -> APIRouter:
    return routes
