"""The read API's costs: a window's cost and waste in money, by group.

``GET /api/v1/analytics/costs``: the window's cost and waste (``analytics/questions/
window_costs.py``), the window before and each change, and the groups (``group_by``:
pipeline, repository, label_set, team or branch_scope), as JSON or, one row per group, CSV.
It takes every filter the other analytics endpoints take, ``team`` included."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from cipulse.analytics.questions.window_costs import GROUPINGS
from cipulse.errors import InvalidRequest
from cipulse.web.presenters import answer
from cipulse.web.read_routes import (
    _OBJECT,
    Auth,
    Format,
    WindowParam,
    _answers,
    _call,
    _service,
)
from cipulse.web.requests import CheckedRoute
from cipulse.web.window_cost_presenters import window_cost_rows, window_costs_json

GROUPING_OR_NONE = (*GROUPINGS, None, "")
routes = APIRouter(prefix="/api/v1", tags=["read"], route_class=CheckedRoute)
_GROUP_BY = Annotated[str | None, Query(description=f"{', '.join(GROUPINGS)} [pipeline]")]


@routes.get(
    "/analytics/costs",
    summary="Cost and waste in money over the window, by group, and the window before",
    responses=_answers(_OBJECT),
)
async def analytics_costs(
    request: Request,
    principal: Auth,
    window: WindowParam,
    group_by: _GROUP_BY = None,
    format: Format = "json",
) -> Response:
    problems = [
        problem
        for problem, bad in (
            ("format: must be json or csv", format not in {"json", "csv"}),
            (f"group_by: must be one of {', '.join(GROUPINGS)}", group_by not in GROUPING_OR_NONE),
        )
        if bad
    ]
    if problems:
        raise InvalidRequest("; ".join(problems), problems)
    found = await _call(_service(request).costs, principal.org_id, window, group_by)
    return answer(found, format, window_costs_json, window_cost_rows)


def router() -> APIRouter:
    return routes
