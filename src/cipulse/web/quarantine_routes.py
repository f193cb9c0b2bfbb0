"""The quarantine list as CI reads it: JSON, or test ids one per line.

``GET /api/v1/tests/quarantine?repository=owner/name`` with a read key (or a dashboard
session): the repository's quarantined tests with their owners as JSON, or with
``format=text`` their test ids (``classname::name``), one per line, for a CI step to
match (docs/api.md, "Quarantine"). Changes go through the CLI and the dashboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import PlainTextResponse, Response

from cipulse.analytics.quarantine import QuarantineService
from cipulse.errors import InvalidRequest
from cipulse.web.presenters import json_response
from cipulse.web.quarantine_presenters import quarantine_json, quarantine_text
from cipulse.web.read_routes import Auth, _answers, _call
from cipulse.web.requests import CheckedRoute

routes = APIRouter(prefix="/api/v1", tags=["read"], route_class=CheckedRoute)

_TEXT = {"text/plain": {"schema": {"type": "string"}}}


@routes.get(
    "/tests/quarantine",
    summary="A repository's quarantined tests (JSON), or their test ids one per line",
    responses={
        **_answers({"type": "object"}, csv=False, not_found="No repository of this name"),
        200: {
            "description": "JSON, or with format=text one test id (classname::name) a line",
            "content": {"application/json": {"schema": {"type": "object"}}, **_TEXT},
        },
    },
)
async def quarantine_list(
    request: Request,
    principal: Auth,
    repository: Annotated[str, Query(description="owner/name")] = "",
    format: Annotated[str, Query(description="json or text")] = "json",
) -> Response:
    problems = []
    if not repository.strip():
        problems.append("repository: required (owner/name)")
    if format not in {"json", "text"}:
        problems.append("format: must be json or text")
    if problems:
        raise InvalidRequest("; ".join(problems), problems)
    service = QuarantineService(request.app.state.database)
    history = 0 if format == "text" else 50
    found = await _call(service.listing, principal.org_id, repository, history)
    if format == "text":
        return PlainTextResponse(quarantine_text(found))
    return json_response(quarantine_json(found))


def router() -> APIRouter:
    return routes
