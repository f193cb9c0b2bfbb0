"""The dashboard's pull requests: the list with its figures, one PR.

The Pull requests page (the window's pull requests, a page at a time, sortable by CI time and
time to green, with the organisation's p50 and p90 beside the window before's) and a page per
pull request (its figures, authors, commits and runs newest first, each linked to its run)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cipulse.analytics.paging import PageRequest
from cipulse.analytics.questions.pull_requests import PULL_REQUEST_SORTS, parse_key
from cipulse.web.auth import SignedIn
from cipulse.web.dashboard.page_parts import (
    RUNS_PER_PAGE,
    call,
    cursor_param,
    render_page,
    service_of,
    sort_param,
)
from cipulse.web.dashboard.routing import page_router
from cipulse.web.dashboard.view import view_of
from cipulse.web.presenters import attempt_json
from cipulse.web.pull_request_presenters import (
    pull_request_detail_json,
    pull_request_json,
    pull_request_summary_json,
)

routes = page_router()
PULL_REQUESTS_PER_PAGE = 50
#: The list's columns that sort (key, header).
PULL_REQUEST_COLUMNS = (
    ("runs", "Runs"),
    ("reruns", "Reruns"),
    ("ci_seconds", "CI time"),
    ("compute_seconds", "Compute"),
    ("time_to_green_head_seconds", "To green (head)"),
    ("time_to_green_seconds", "To green (PR)"),
    ("last_run_at", "Last run"),
)
#: The summary's rows: (figure, label).
SUMMARY_ROWS = (
    ("ci_seconds", "CI time per pull request"),
    ("compute_seconds", "Compute per pull request"),
    ("time_to_green_head_seconds", "Time to green, head commit"),
    ("time_to_green_seconds", "Time to green, first run to last green"),
)


@routes.get("/pull-requests")
async def pull_requests(request: Request, session: SignedIn) -> Response:
    """The window's pull requests with their figures, and the organisation's."""
    view = view_of(request)
    window = view.window  # the change filters (author among them) are the view's
    sort = sort_param(request, PULL_REQUEST_SORTS, "-last_run_at")
    service = service_of(request)
    page = PageRequest(limit=PULL_REQUESTS_PER_PAGE, cursor=cursor_param(request), sort=sort)
    found = await call(service.pull_requests, session.org_id, window, page)
    summary = await call(service.pull_request_summary, session.org_id, window)
    return await render_page(
        request,
        "pull_requests.html",
        session,
        view,
        title="Pull requests",
        rows=[pull_request_json(row) for row in found.items],
        next_cursor=found.next_cursor,
        sort=sort,
        columns=PULL_REQUEST_COLUMNS,
        summary=pull_request_summary_json(summary),
        summary_rows=SUMMARY_ROWS,
        author=request.query_params.get("author") or "",  # the form's field
        csv=view.api("pull-requests", sort=sort, format="csv"),
    )


@routes.get("/pull-requests/{repository_id}/{number}")
async def pull_request(
    request: Request, session: SignedIn, repository_id: str, number: str
) -> Response:
    """One pull request: its figures, authors, commits and runs newest first."""
    view = view_of(request)
    key = parse_key(repository_id, number)
    found = await call(
        service_of(request).pull_request, session.org_id, key, RUNS_PER_PAGE, cursor_param(request)
    )
    detail = pull_request_detail_json(found)
    return await render_page(
        request,
        "pull_request.html",
        session,
        view,
        title=f"{detail['repository']} #{detail['number']}",
        pr=detail,
        runs=[attempt_json(attempt) for attempt in found.runs.items],
        next_cursor=found.runs.next_cursor,
    )


def router() -> APIRouter:
    return routes
