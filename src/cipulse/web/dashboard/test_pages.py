"""The dashboard's Tests pages: the top lists and a search, and one test.

The Tests page: the slowest, most failing and flakiest tests of the window, the new
failures on default branches, and every test a page at a time, searched by part of its
suite, class, name or file. A test's page: its figures, state and flaky evidence, its
results as a strip and its durations as a line (the newest first page), its failure
messages grouped, its runs, and where it started failing. Test figures are per
repository and day: the branch scope of the view does not apply to them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from cipulse.analytics.paging import PageRequest
from cipulse.analytics.questions.summary import iso
from cipulse.analytics.questions.test_page import parse_test_id
from cipulse.analytics.questions.tests import TEST_SORTS
from cipulse.analytics.questions.tests_overview import NewFailure
from cipulse.errors import InvalidRequest
from cipulse.web.auth import SignedIn
from cipulse.web.dashboard.page_parts import call, cursor_param, render_page, service_of, sort_param
from cipulse.web.dashboard.routing import page_router
from cipulse.web.dashboard.view import View, view_of
from cipulse.web.presenters import Json
from cipulse.web.test_presenters import test_detail_json, test_result_json, test_row_json

routes = page_router()
TESTS_PER_PAGE = 50
#: Results the strip and the duration line show: the history's first page.
STRIP = 100


def _window(view: View) -> Any:
    """The view's window with the filters test figures do not have left out."""
    return view.narrowed(branch_scope=None, team=None, team_pipelines=None)


def _search(request: Request) -> str:
    q = (request.query_params.get("q") or "").strip()
    if len(q) > 1000:
        raise InvalidRequest("q: must be at most 1000 characters")
    return q


def _new_failure_json(found: NewFailure) -> Json:
    return {"test": test_row_json(found.test), "started": test_result_json(found.started)}


@routes.get("/tests")
async def tests(request: Request, session: SignedIn) -> Response:
    view = view_of(request)
    sort = sort_param(request, TEST_SORTS, "-failures")
    q = _search(request)
    page = PageRequest(limit=TESTS_PER_PAGE, sort=sort, cursor=cursor_param(request))
    found = await call(service_of(request).tests_overview, session.org_id, _window(view), q, page)
    return await render_page(
        request,
        "tests.html",
        session,
        view,
        title="Tests",
        q=q,
        sort=sort,
        count=found.tests,
        slowest=[test_row_json(r) for r in found.slowest],
        most_failing=[test_row_json(r) for r in found.most_failing],
        flakiest=[test_row_json(r) for r in found.flakiest],
        new_failures=[_new_failure_json(f) for f in found.new_failures],
        rows=[test_row_json(r) for r in found.page.items],
        next_cursor=found.page.next_cursor,
        csv=_api(
            view,
            "analytics/tests",
            repository=view.repository or None,
            q=q or None,
            sort=sort,
            format="csv",
        ),
    )


def _api(view: View, endpoint: str, **params: str | None) -> str:
    """A read API link with the view's window and repository only (no branch scope)."""
    window = {"since": iso(view.window.since_ms), "until": iso(view.window.until_ms)}
    chosen = {**window, **{k: v for k, v in params.items() if v is not None}}
    return f"{view.root}/api/v1/{endpoint}?{urlencode(chosen)}"


def _strip(history: list[Json]) -> dict[str, Any]:
    """The newest results oldest first, with the longest duration (the line's scale)."""
    shown = list(reversed(history[:STRIP]))
    longest = max((r["duration_ms"] or 0 for r in shown), default=0) or 1
    return {"results": shown, "longest": longest}


@routes.get("/tests/{test_id:path}")
async def test_page(request: Request, session: SignedIn, test_id: str) -> Response:
    view = view_of(request)
    found = await call(
        service_of(request).test,
        session.org_id,
        parse_test_id(test_id),
        _window(view),
        STRIP,
        cursor_param(request),
    )
    detail = test_detail_json(found)
    return await render_page(
        request,
        "test.html",
        session,
        view,
        title=detail["name"],
        test=detail,
        strip=_strip(detail["history"]["items"]),
        next_cursor=detail["history"]["next_cursor"],
        api=_api(view, f"tests/{detail['id']}", repository=None),
    )


def router() -> APIRouter:
    return routes
