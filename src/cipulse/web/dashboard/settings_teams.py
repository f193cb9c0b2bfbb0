"""The settings page's teams: CODEOWNERS uploaded or pasted, rules.

What the settings page changes about teams (``accounts/teams.py`` keeps the rules): a
CODEOWNERS file uploaded or pasted for a repository or as the organisation's default, its
rules forgotten, and explicit pipeline, repository and job rules added and removed. Every
form carries the session's CSRF token; members see the rules and get 403 on the forms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from cipulse.accounts.teams import TeamService, decode
from cipulse.domain.codeowners import MAX_BYTES
from cipulse.errors import InvalidRequest
from cipulse.web.auth import SignedIn
from cipulse.web.dashboard.routing import page_router, redirect
from cipulse.web.dashboard.settings_admin import _checked
from cipulse.web.dashboard.settings_page import Shown, settings_page
from cipulse.web.deadlines import run_in_database_thread

Text = Annotated[str, Form()]
routes = page_router()


def _teams(request: Request) -> TeamService:
    return TeamService(request.app.state.database)


async def _file_text(upload: UploadFile | None, pasted: str) -> str:
    """The uploaded file's text, else the pasted text; one of them, not both nor none."""
    content = await upload.read(MAX_BYTES + 1) if upload is not None and upload.filename else b""
    if content and pasted.strip():
        raise InvalidRequest("file: upload a file or paste its text, not both")
    if content:
        return decode(content)
    if not pasted.strip():
        raise InvalidRequest("file: upload a CODEOWNERS file or paste its text")
    return pasted


@routes.post("/settings/teams/codeowners")
async def import_codeowners(
    request: Request,
    session: SignedIn,
    csrf: Text = "",
    repository: Text = "",
    text: Text = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    _checked(session, csrf, "its teams")
    content = await _file_text(file, text)
    imported = await run_in_database_thread(
        _teams(request).import_codeowners, session.org_name, content, repository
    )
    where = imported.repository or "the organisation's default (repositories without their own)"
    shown = Shown(
        "CODEOWNERS imported",
        f"{imported.rules:,} rules for {where}; teams: {', '.join(imported.teams) or 'none'}.",
    )
    return await settings_page(request, session, status=201, shown=shown)


@routes.post("/settings/teams/codeowners/remove")
async def remove_codeowners(
    request: Request, session: SignedIn, csrf: Text = "", repository: Text = ""
) -> Response:
    _checked(session, csrf, "its teams")
    await run_in_database_thread(_teams(request).remove_codeowners, session.org_name, repository)
    return redirect(request, "/settings#teams")


@routes.post("/settings/teams/rules")
async def add_rule(
    request: Request,
    session: SignedIn,
    csrf: Text = "",
    kind: Text = "",
    pattern: Text = "",
    team: Text = "",
) -> Response:
    _checked(session, csrf, "its teams")
    await run_in_database_thread(_teams(request).add_rule, session.org_name, kind, pattern, team)
    return redirect(request, "/settings#teams")


@routes.post("/settings/teams/rules/remove")
async def remove_rule(
    request: Request, session: SignedIn, csrf: Text = "", kind: Text = "", pattern: Text = ""
) -> Response:
    _checked(session, csrf, "its teams")
    await run_in_database_thread(_teams(request).remove_rule, session.org_name, kind, pattern)
    return redirect(request, "/settings#teams")


def router() -> APIRouter:
    return routes
