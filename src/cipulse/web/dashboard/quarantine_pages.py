"""The dashboard's Quarantine page: a repository's quarantined tests.

``/quarantine?repository=owner/name``: the tests quarantined with their owners, since when,
why and by whom, the latest changes, a form to quarantine tests by hand and a button to
take each out. Any member may change the list (each change records their e-mail); every
form carries the session's CSRF token."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from cipulse.analytics.quarantine import QuarantineService
from cipulse.web.auth import SignedIn, check_csrf
from cipulse.web.dashboard.page_parts import call, render_page
from cipulse.web.dashboard.routing import page_router, redirect
from cipulse.web.dashboard.view import view_of
from cipulse.web.quarantine_presenters import quarantine_json

Text = Annotated[str, Form()]
routes = page_router()


def _service(request: Request) -> QuarantineService:
    return QuarantineService(request.app.state.database)


@routes.get("/quarantine")
async def quarantine_page(request: Request, session: SignedIn) -> Response:
    view = view_of(request)
    repository = request.query_params.get("repository", "").strip()
    found = None
    if repository:
        found = quarantine_json(
            await call(_service(request).listing, session.org_id, repository, 50)
        )
    return await render_page(
        request,
        "quarantine.html",
        session,
        view,
        title="Quarantine",
        repository=repository,
        found=found,
    )


def _back(request: Request, repository: str) -> Response:
    return redirect(request, f"/quarantine?repository={quote(repository.strip(), safe='/')}")


@routes.post("/quarantine/add")
async def add(
    request: Request,
    session: SignedIn,
    csrf: Text = "",
    repository: Text = "",
    tests: Text = "",
    reason: Text = "",
) -> Response:
    check_csrf(session, csrf)
    named = [line.strip() for line in tests.splitlines() if line.strip()]
    await call(_service(request).add, session.org_id, repository, named, reason, session.email)
    return _back(request, repository)


@routes.post("/quarantine/remove")
async def remove(
    request: Request,
    session: SignedIn,
    csrf: Text = "",
    repository: Text = "",
    test: Text = "",
    reason: Text = "",
) -> Response:
    check_csrf(session, csrf)
    named = [test.strip()] if test.strip() else []
    await call(_service(request).remove, session.org_id, repository, named, reason, session.email)
    return _back(request, repository)


def router() -> APIRouter:
    return routes
