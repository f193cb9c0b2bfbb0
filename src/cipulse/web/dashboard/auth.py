"""Sign-in and out of the dashboard, and switching organisation.

Signing in and out of the dashboard and switching organisation: a session cookie (HttpOnly,
SameSite=Lax, Secure behind https) whose value is stored only as a hash, and a CSRF token
on every form. Who a request comes from is resolved in ``web/auth.py``."""

from __future__ import annotations

import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from cipulse.accounts.throttle import SignInThrottle
from cipulse.errors import CipulseError, Forbidden, Unauthenticated
from cipulse.settings import Settings
from cipulse.web.auth import SESSION_COOKIE, SignedIn, check_csrf, same_token, session_of, users
from cipulse.web.dashboard.rendering import render
from cipulse.web.dashboard.routing import page_router, redirect
from cipulse.web.deadlines import run_in_database_thread
from cipulse.web.root_path import root_of

#: Double-submit token of the sign-in form, before there is a session to hold one.
SIGN_IN_COOKIE = "cipulse_sign_in"
#: How the sign-in page says which limit of the throttle refused.
THROTTLED = {"email": "for this email", "client": "from your address"}


def _safe_next(next_url: str | None) -> str:
    """Only paths on this site: ``//evil.example`` and ``https://…`` go home instead."""
    if next_url and next_url.startswith("/") and not next_url.startswith(("//", "/\\")):
        return next_url
    return "/"


def _cookie_path(request: Request, path: str = "") -> str:
    """Cookies stay under the prefix the server is served under (``/`` without one)."""
    return f"{root_of(request)}{path}" or "/"


def _cookie_secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.cookie_secure


def _sign_in_page(
    request: Request, next_url: str, email: str = "", error: str = "", status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "sign_in.html",
        {"next": _safe_next(next_url), "email": email, "error": error, "csrf": token},
        status_code=status,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_cookie_secure(request),
        path=_cookie_path(request, "/sign-in"),
    )
    return response


routes = page_router()


@routes.get("/sign-in")
async def sign_in_form(request: Request, next: str = "/") -> Response:
    if await session_of(request) is not None:
        return redirect(request, _safe_next(next))
    return _sign_in_page(request, next)


@routes.post("/sign-in")
async def sign_in(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not same_token(csrf, expected):
        return _sign_in_page(request, next, email, "The form expired; please sign in again.", 403)
    throttle: SignInThrottle = request.app.state.sign_in_throttle
    address = email.strip().lower()
    client = request.client.host if request.client else "unknown"
    wait, limit = throttle.wait_seconds(address, client)
    if wait > 0:
        minutes = math.ceil(wait / 60)
        message = (
            f"Too many failed sign-ins {THROTTLED[limit]}: try again in "
            f"{minutes} minute{'s' if minutes > 1 else ''}."
        )
        page = _sign_in_page(request, next, email, message, 429)
        page.headers["Retry-After"] = str(math.ceil(wait))
        return page
    try:
        signed = await run_in_database_thread(users(request).sign_in, email, password)
    except (Unauthenticated, Forbidden) as exc:
        if isinstance(exc, Unauthenticated):
            throttle.failed(address, client)
        return _sign_in_page(request, next, email, exc.message, exc.status_code)
    except CipulseError as exc:
        return _sign_in_page(request, next, email, exc.message, 400)
    throttle.succeeded(address)
    response = redirect(request, _safe_next(next))
    settings: Settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=_cookie_secure(request),
        path=_cookie_path(request),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=_cookie_path(request, "/sign-in"))
    return response


@routes.post("/sign-out")
async def sign_out(
    request: Request, session: SignedIn, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(session, csrf)
    token = request.cookies.get(SESSION_COOKIE, "")
    await run_in_database_thread(users(request).sign_out, token)
    response = redirect(request, "/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=_cookie_path(request))
    return response


@routes.post("/organisation")
async def switch_organisation(
    request: Request,
    session: SignedIn,
    org: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(session, csrf)
    token = request.cookies.get(SESSION_COOKIE, "")
    await run_in_database_thread(users(request).switch_organisation, token, org)
    return redirect(request, "/")


def router() -> APIRouter:
    return routes
