"""Who is asking: an API key or a dashboard session, for API and pages.

One place resolves who a request comes from, for the JSON API and the dashboard alike: a
read key (``X-API-Key``, ``Authorization: Bearer``) or, without one, the session cookie of a
signed-in dashboard user, who reads their current organisation as a read key would. Pages
need a session (without one: off to sign in and back); forms carry its CSRF token."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import Session, UserService
from cipulse.errors import Forbidden
from cipulse.settings import Settings
from cipulse.storage.accounts import Principal
from cipulse.web.deadlines import run_in_database_thread
from cipulse.web.requests import RUNWATCH_KEY_HEADERS, api_key
from cipulse.web.root_path import root_of

SESSION_COOKIE = "cipulse_session"
READ_SCOPE = "read"


class SignInRequired(Exception):
    """Raised by pages without a valid session: answered with a redirect to sign in."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def users(request: Request) -> UserService:
    settings: Settings = request.app.state.settings
    return UserService(request.app.state.database, session_days=settings.session_days)


async def session_of(request: Request) -> Session | None:
    """The session of the request's cookie, if it holds a valid one."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await run_in_database_thread(users(request).session, token)


async def signed_in(request: Request) -> Session:
    """The session of a page's viewer; without one, off to the sign-in page and back."""
    session = await session_of(request)
    if session is None:
        path = request.url.path.removeprefix(root_of(request)) or "/"
        target = path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    request.state.session = session
    return session


def session_principal(session: Session) -> Principal:
    """A signed-in user reads their current organisation's data as a read key would."""
    return Principal(
        key_id="",
        org_id=session.org_id,
        scopes=frozenset({READ_SCOPE}),
        revoked=False,
        last_used_at_ms=None,
        max_repositories=None,
        max_runs_per_month=None,
    )


async def read_principal(request: Request) -> Principal:
    """A ``read`` key's organisation or, without a key, the organisation a signed-in
    dashboard user is looking at (the dashboard's CSV links)."""
    has_key = any(request.headers.get(h) for h in (*RUNWATCH_KEY_HEADERS, "authorization"))
    if not has_key and request.cookies.get(SESSION_COOKIE):
        session = await session_of(request)
        if session is not None:
            return session_principal(session)
    key = api_key(request, RUNWATCH_KEY_HEADERS)
    accounts = AccountService(request.app.state.database)
    return await run_in_database_thread(accounts.authenticate, key, READ_SCOPE)


def same_token(given: str, expected: str) -> bool:
    """Compared in constant time, as bytes: a form may send any text, not only ASCII."""
    return bool(given) and secrets.compare_digest(given.encode(), expected.encode())


def check_csrf(session: Session, token: str) -> None:
    if not same_token(token, session.csrf_token):
        raise Forbidden("csrf: the form is stale or came from another site; reload and retry")


#: A page's signed-in viewer.
SignedIn = Annotated[Session, Depends(signed_in)]
#: The organisation a read request reads, by key or session.
Reader = Annotated[Principal, Depends(read_principal)]
