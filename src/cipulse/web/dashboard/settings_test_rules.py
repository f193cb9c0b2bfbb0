"""The settings page's flaky test rules: which apply, and their parameters.

An admin chooses the rules (a, b, c) and sets ``clear_after_passes`` and
``max_flip_failures``; the form carries the session's CSRF token, members get 403, and a
bad value is a 400 naming every bad field, with nothing written."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from cipulse.analytics.flaky_tests import FlakyTestService
from cipulse.domain.flaky_rules import RuleSettings
from cipulse.errors import InvalidRequest
from cipulse.web.auth import SignedIn, check_csrf
from cipulse.web.dashboard.routing import page_router
from cipulse.web.dashboard.settings_page import Shown, admin_only, settings_page
from cipulse.web.deadlines import run_in_database_thread

Text = Annotated[str, Form()]
routes = page_router()


def _whole(name: str, text: str, problems: list[str]) -> int:
    if not text.strip().isdigit() or len(text.strip()) > 6:
        problems.append(f"{name}: must be a whole number")
        return 0
    return int(text.strip())


@routes.post("/settings/test-rules")
async def set_test_rules(
    request: Request,
    session: SignedIn,
    csrf: Text = "",
    rule: Annotated[list[str] | None, Form()] = None,
    clear_after_passes: Text = "",
    max_flip_failures: Text = "",
) -> Response:
    check_csrf(session, csrf)
    admin_only(session, "its flaky test rules")
    problems: list[str] = []
    clear = _whole("clear_after_passes", clear_after_passes, problems)
    flips = _whole("max_flip_failures", max_flip_failures, problems)
    if problems:
        raise InvalidRequest("; ".join(problems))
    chosen = RuleSettings(tuple(rule or ()), clear, flips)
    service = FlakyTestService(request.app.state.database)
    done = await run_in_database_thread(
        service.set_settings, session.org_name, chosen, session.email
    )
    shown = Shown(
        "Flaky test rules set",
        f"Rules {', '.join(done.rules)} apply; a test stops being flaky after "
        f"{done.clear_after_passes} passes in a row.",
    )
    return await settings_page(request, session, status=201, shown=shown)


def router() -> APIRouter:
    return routes
