"""The dashboard's Costs page: what CI cost, and wasted, by group.

The Costs page shows the window's cost and waste in the organisation's currency beside the
window before (the overview's cards), then ranks the groups the reader picks (pipelines,
teams, runner label sets, repositories, branch scopes) by cost, each with its waste, billed
and unpriced minutes, and states the sample: which executions, how many, how each provider
bills them. The figures are ``/analytics/costs``'s, as its CSV link gives them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cipulse.analytics.questions.window_costs import DEFAULT_GROUPING, GROUPINGS
from cipulse.web.auth import SignedIn
from cipulse.web.dashboard.kpis import cost_cards, minutes_shown, money_shown
from cipulse.web.dashboard.page_parts import call, render_page, service_of
from cipulse.web.dashboard.routing import page_router
from cipulse.web.dashboard.view import view_of
from cipulse.web.window_cost_presenters import window_costs_json

routes = page_router()
#: The groupings the page offers, as its tabs name them.
GROUPING_LABELS = {
    "pipeline": "Pipelines",
    "team": "Teams",
    "label_set": "Label sets",
    "repository": "Repositories",
    "branch_scope": "Branch scopes",
}
assert set(GROUPING_LABELS) == set(GROUPINGS)


@routes.get("/costs")
async def costs(request: Request, session: SignedIn) -> Response:
    """The window's cost and waste, and the groups ranked by cost."""
    view = view_of(request)
    group_by = request.query_params.get("group_by") or DEFAULT_GROUPING
    if group_by not in GROUPINGS:
        group_by = DEFAULT_GROUPING
    found = await call(service_of(request).costs, session.org_id, view.window, group_by)
    answer = window_costs_json(found)
    currency = answer["currency"]
    return await render_page(
        request,
        "costs.html",
        session,
        view,
        title="Costs",
        costs=answer,
        kpis=cost_cards(answer),
        group_by=group_by,
        groupings=GROUPING_LABELS,
        money=lambda text: money_shown(text, currency),
        minutes=minutes_shown,
        csv=view.api("analytics/costs", group_by=group_by, format="csv"),
    )


def router() -> APIRouter:
    return routes
