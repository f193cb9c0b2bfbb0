"""The read API's tests: figures per test, and one test's page.

Thin: the window and its filters, a page, then one call of the analytics service. A test
list as CSV without ``limit`` nor ``cursor`` holds every test of the window."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from cipulse.analytics.paging import DEFAULT_LIMIT
from cipulse.analytics.questions.test_page import parse_test_id
from cipulse.errors import InvalidRequest
from cipulse.web.csv_export import csv_response
from cipulse.web.list_routes import LIMIT, PageParam, _whole
from cipulse.web.presenters import json_response, page_answer
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
from cipulse.web.test_presenters import test_detail_json, test_row_json

routes = APIRouter(prefix="/api/v1", tags=["read"], route_class=CheckedRoute)
_Search = Annotated[
    str, Query(description="part of the test's suite, class, name or file, any case")
]


def _search(q: str) -> str:
    if len(q) > 1000:
        raise InvalidRequest("q: must be at most 1000 characters")
    return q


@routes.get(
    "/analytics/tests",
    summary="Figures per test: runs, failures, flaky results, durations",
    responses=_answers(_PAGE),
)
async def list_tests(
    request: Request,
    principal: Auth,
    window: WindowParam,
    page: PageParam,
    q: _Search = "",
    format: Format = "json",
) -> Response:
    service = _service(request)
    search = _search(q)
    if _whole(request, format):
        rows = await _call(service.all_tests, principal.org_id, window, page.sort, search)
        return csv_response([test_row_json(row) for row in rows])
    found = await _call(service.tests, principal.org_id, window, page, search)
    return page_answer(found, format, test_row_json)


@routes.get(
    "/tests/{test_id:path}",
    summary="One test: its figures, state, evidence, messages and history",
    responses=_answers(_OBJECT, csv=False, not_found="No such test (in this organisation)"),
)
async def get_test(
    request: Request,
    principal: Auth,
    window: WindowParam,
    test_id: Annotated[str, Path(description="the test's id, as the test list shows it")],
    limit: Annotated[int | None, Query(description=LIMIT)] = None,
    cursor: Annotated[str | None, Query(description="history.next_cursor of the last page")] = None,
) -> Response:
    found = await _call(
        _service(request).test,
        principal.org_id,
        parse_test_id(test_id),
        window,
        DEFAULT_LIMIT if limit is None else limit,
        cursor,
    )
    return json_response(test_detail_json(found))


def router() -> APIRouter:
    return routes
