"""Dashboard routes: a redirect to sign in, errors as pages; Server-Timing.

Dashboard routes answer a missing session with a redirect to sign in, and errors through the
one error handler (``web/errors.py``) as pages, unless the client asks for JSON."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from cipulse.errors import CipulseError
from cipulse.web.auth import SignInRequired
from cipulse.web.errors import cipulse_error_answer
from cipulse.web.requests import CheckedRoute
from cipulse.web.root_path import root_of


def redirect(request: Request, path: str) -> Response:
    """303 to ``path`` on this site, under the prefix the server is served under."""
    return RedirectResponse(f"{root_of(request)}{path}", status_code=303)


def sign_in_redirect(request: Request, exc: SignInRequired) -> Response:
    target = "/sign-in" if exc.next_url in {"", "/"} else f"/sign-in?next={quote(exc.next_url)}"
    return redirect(request, target)


class PageRoute(CheckedRoute):
    """A dashboard route: its form fields are checked too, and errors answer pages."""

    reads_forms = True

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await handler(request)
            except SignInRequired as exc:
                response = sign_in_redirect(request, exc)
            except CipulseError as exc:
                if exc.status_code >= 500:
                    raise
                response = cipulse_error_answer(request, exc, page=True)
            # How long the server took, for browsers' developer tools and bench/pages.py.
            elapsed = (time.perf_counter() - started) * 1000
            response.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
            return response

        return page_handler


def page_router() -> APIRouter:
    return APIRouter(route_class=PageRoute, include_in_schema=False)
