"""The read API's teams: ranked by CI time, and the teams the rules name.

``GET /api/v1/analytics/teams`` ranks the teams (``analytics/questions/teams.py``) a page
at a time as JSON or CSV, or every team as CSV; ``GET /api/v1/teams`` lists the teams the
rules name with the pipelines each owns. Both take a read key or a dashboard session."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cipulse.accounts.teams import TeamService
from cipulse.web.csv_export import csv_response
from cipulse.web.list_routes import PageParam, _whole
from cipulse.web.presenters import json_response
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
from cipulse.web.team_presenters import team_row_csv, team_summary_json, teams_json

routes = APIRouter(prefix="/api/v1", tags=["read"], route_class=CheckedRoute)


@routes.get(
    "/analytics/teams",
    summary="Teams ranked by CI time, with runs, failures, flakes and red time, and before",
    responses=_answers(_PAGE),
)
async def analytics_teams(
    request: Request, principal: Auth, window: WindowParam, page: PageParam, format: Format = "json"
) -> Response:
    _check_format(format)
    found, answer = await _call(_service(request).teams, principal.org_id, window, page)
    if format == "csv":
        rows = answer.rows if _whole(request, format) else found.items
        cursor = None if _whole(request, format) else found.next_cursor
        return csv_response(
            [team_row_csv(row) for row in rows], {"X-Next-Cursor": cursor} if cursor else None
        )
    return json_response(teams_json(answer, found.items, found.next_cursor))


@routes.get(
    "/teams",
    summary="The teams the rules name, with how many pipelines each owns",
    responses=_answers({"type": "object"}, csv=False),
)
async def list_teams(request: Request, principal: Auth) -> Response:
    service = TeamService(request.app.state.database)
    found = await _call(service.teams_of, principal.org_id)
    return json_response({"items": [team_summary_json(team) for team in found]})


def router() -> APIRouter:
    return routes
