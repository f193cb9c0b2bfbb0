"""The read API's pull requests: the list, the summary, one pull request.

``/api/v1/pull-requests`` (the pull requests active in the window, a page at a time, JSON
or CSV), ``/pull-requests/summary`` (the organisation's figures, with the window before) and
``/pull-requests/{repository_id}/{number}`` (one, with its commits and runs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from cipulse.analytics.paging import DEFAULT_LIMIT
from cipulse.analytics.questions.pull_requests import parse_key
from cipulse.web.csv_export import csv_response
from cipulse.web.list_routes import LIMIT, PageParam, _whole
from cipulse.web.presenters import json_response, page_answer
from cipulse.web.pull_request_presenters import (
    pull_request_detail_json,
    pull_request_json,
    pull_request_summary_json,
)
from cipulse.web.read_routes import (
    _OBJECT,
    _PAGE,
    Auth,
    Format,
    WindowParam,
    _answers,
    _call,
    _service,
)
from cipulse.web.requests import CheckedRoute

routes = APIRouter(prefix="/api/v1", tags=["read"], route_class=CheckedRoute)
ChangeWindow = WindowParam  # window_query reads the change filters too


@routes.get(
    "/pull-requests",
    summary="Pull requests active in the window, with their CI time and time to green",
    responses=_answers(_PAGE),
)
async def list_pull_requests(
    request: Request,
    principal: Auth,
    window: ChangeWindow,
    page: PageParam,
    format: Format = "json",
) -> Response:
    service = _service(request)
    if _whole(request, format):
        rows = await _call(service.all_pull_requests, principal.org_id, window, page.sort)
        return csv_response([pull_request_json(row) for row in rows])
    found = await _call(service.pull_requests, principal.org_id, window, page)
    return page_answer(found, format, pull_request_json)


@routes.get(
    "/pull-requests/summary",
    summary="CI time per pull request and time to green, p50 and p90, and the window before",
    responses=_answers(_OBJECT, csv=False),
)
async def pull_request_summary(request: Request, principal: Auth, window: ChangeWindow) -> Response:
    found = await _call(_service(request).pull_request_summary, principal.org_id, window)
    return json_response(pull_request_summary_json(found))


@routes.get(
    "/pull-requests/{repository_id}/{number}",
    summary="One pull request: its figures, commits and runs newest first",
    responses=_answers(
        _OBJECT, csv=False, not_found="No run of that pull request (in this organisation)"
    ),
)
async def get_pull_request(
    request: Request,
    principal: Auth,
    repository_id: Annotated[str, Path(description="the repository's id, a UUID")],
    number: Annotated[str, Path(description="the pull or merge request number")],
    limit: Annotated[int | None, Query(description=LIMIT.split(";")[0] + " runs")] = None,
    cursor: Annotated[str | None, Query(description="runs_page.next_cursor")] = None,
) -> Response:
    key = parse_key(repository_id, number)
    found = await _call(
        _service(request).pull_request,
        principal.org_id,
        key,
        DEFAULT_LIMIT if limit is None else limit,
        cursor,
    )
    return json_response(pull_request_detail_json(found))


def router() -> APIRouter:
    return routes
