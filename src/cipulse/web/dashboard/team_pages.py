"""The dashboard's Teams page: teams ranked by CI time, and before.

The Teams page: every team the rules name (and ``unowned``) with its CI time, runs,
failure rate over its decided runs, flaky runs, red time, cost and waste in money, each
beside the window before's, sortable; a team's name opens the overview narrowed to it
(``team=``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cipulse.analytics.paging import MAX_PAGE, PageRequest
from cipulse.analytics.questions.teams import DEFAULT_SORT, TEAM_SORTS
from cipulse.web.auth import SignedIn
from cipulse.web.dashboard.kpis import minutes_shown, money_shown
from cipulse.web.dashboard.page_parts import call, render_page, service_of, sort_param
from cipulse.web.dashboard.routing import page_router
from cipulse.web.dashboard.view import view_of
from cipulse.web.team_presenters import team_row_json

routes = page_router()
#: The table's figure columns that sort (key, header).
TEAM_COLUMNS = (
    ("pipelines", "Pipelines"),
    ("compute_seconds", "CI time"),
    ("runs", "Runs"),
    ("failure_rate", "Failure rate"),
    ("flaky_runs", "Flaky runs"),
    ("red_seconds", "Red time"),
    ("cost", "Cost"),
    ("waste", "Waste"),
)


@routes.get("/teams")
async def teams(request: Request, session: SignedIn) -> Response:
    """The teams ranked by CI time in the view's window, with the window before's."""
    view = view_of(request)
    sort = sort_param(request, TEAM_SORTS, DEFAULT_SORT)
    page = PageRequest(limit=MAX_PAGE, sort=sort)
    _, answer = await call(service_of(request).teams, session.org_id, view.window, page)
    return await render_page(
        request,
        "teams.html",
        session,
        view,
        title="Teams",
        rows=[team_row_json(row) for row in answer.rows],
        money=lambda text: money_shown(text, answer.currency),
        minutes=minutes_shown,
        sort=sort,
        columns=TEAM_COLUMNS,
        csv=view.api("analytics/teams", sort=sort, format="csv"),
    )


def router() -> APIRouter:
    return routes
