"""The settings page's admin forms: members, repositories, webhooks.

What an organisation's admins change on the settings page besides keys: members (add an
existing user or create one, change a role, remove; disable, enable or delete an account
that belongs to this organisation alone), repositories (removed with all their runs, after
typing the name), and webhook secrets (set or rotated, the new one shown once). Every form
carries the session's CSRF token; members get 403. The rules are the services'
(``accounts/members.py``, ``accounts/deletion.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from cipulse.accounts.deletion import DeletionService
from cipulse.accounts.members import MemberService
from cipulse.accounts.users import Session
from cipulse.domain.model import WebhookProvider
from cipulse.errors import InvalidRequest, NotFound
from cipulse.web.auth import SignedIn, check_csrf
from cipulse.web.dashboard.routing import page_router, redirect
from cipulse.web.dashboard.settings_page import Shown, admin_only, settings_page
from cipulse.web.deadlines import run_in_database_thread

Text = Annotated[str, Form()]


def _members(request: Request) -> MemberService:
    return MemberService(request.app.state.database)


def _checked(session: Session, csrf: str, what: str) -> None:
    check_csrf(session, csrf)
    admin_only(session, what)


def _back(request: Request, anchor: str) -> Response:
    return redirect(request, f"/settings#{anchor}")


def _confirmed(given: str, expected: str, what: str) -> None:
    """A destructive form names what it destroys: the user typed it."""
    if given.strip().lower() != expected.lower():
        raise InvalidRequest(f"confirm: type {expected} to confirm that {what}")


routes = page_router()


@routes.post("/settings/members")
async def add_member(
    request: Request, session: SignedIn, csrf: Text = "", email: Text = "", role: Text = ""
) -> Response:
    _checked(session, csrf, "its members")
    added = await run_in_database_thread(
        _members(request).add, session.org_name, email, role or "member"
    )
    who = added.created
    if added.password is None:
        shown = Shown("Member added", f"{who.email} is now {who.role} of {who.org_name}.")
    else:
        shown = Shown(
            "User created",
            f"{who.email} is now {who.role} of {who.org_name}. Give them this password; "
            "it is shown only this once (an operator can change it with "
            f"cipulse users set-password {who.email}).",
            added.password,
        )
    return await settings_page(request, session, status=201, shown=shown)


@routes.post("/settings/members/role")
async def change_role(
    request: Request, session: SignedIn, csrf: Text = "", email: Text = "", role: Text = ""
) -> Response:
    _checked(session, csrf, "its members")
    await run_in_database_thread(_members(request).set_role, session.org_name, email, role, session)
    return _back(request, "members")


@routes.post("/settings/members/remove")
async def remove_member(
    request: Request, session: SignedIn, csrf: Text = "", email: Text = ""
) -> Response:
    _checked(session, csrf, "its members")
    await run_in_database_thread(_members(request).remove, session.org_name, email, session)
    return _back(request, "members")


@routes.post("/settings/members/disable")
async def disable_member(
    request: Request, session: SignedIn, csrf: Text = "", email: Text = ""
) -> Response:
    _checked(session, csrf, "its members")
    await run_in_database_thread(_members(request).disable, email, session)
    return _back(request, "members")


@routes.post("/settings/members/enable")
async def enable_member(
    request: Request, session: SignedIn, csrf: Text = "", email: Text = ""
) -> Response:
    _checked(session, csrf, "its members")
    await run_in_database_thread(_members(request).enable, email, session)
    return _back(request, "members")


@routes.post("/settings/members/delete")
async def delete_member(
    request: Request, session: SignedIn, csrf: Text = "", email: Text = "", confirm: Text = ""
) -> Response:
    _checked(session, csrf, "its members")
    _confirmed(confirm, email.strip(), f"the account of {email.strip()} goes for good")
    await run_in_database_thread(_members(request).delete, email, session)
    return _back(request, "members")


@routes.post("/settings/repositories/{repository_id}/delete")
async def delete_repository(
    request: Request,
    session: SignedIn,
    repository_id: str,
    csrf: Text = "",
    confirm: Text = "",
) -> Response:
    _checked(session, csrf, "its repositories")
    deletion = DeletionService(request.app.state.database)
    repository = await run_in_database_thread(deletion.repository, session.org_id, repository_id)
    _confirmed(confirm, repository.full_name, "its runs and figures go for good")
    deleted = await run_in_database_thread(deletion.delete_repository, session.org_id, repository)
    shown = Shown(
        "Repository removed",
        f"{repository.full_name} ({repository.host}) and its {deleted.attempts:,} run "
        "attempts are deleted; the organisation's figures no longer count them.",
    )
    return await settings_page(request, session, shown=shown)


@routes.post("/settings/webhooks/{provider}")
async def set_webhook_secret(
    request: Request, session: SignedIn, provider: str, csrf: Text = "", secret: Text = ""
) -> Response:
    _checked(session, csrf, "its webhooks")
    try:
        host = WebhookProvider(provider)
    except ValueError:
        raise NotFound(f"provider: no webhooks from {provider!r}") from None
    webhooks = request.app.state.webhooks
    new = await run_in_database_thread(webhooks.set_secret, session.org_name, host, secret or None)
    kept = "only its hash" if host is WebhookProvider.GITLAB else "it, to check signatures"
    shown = Shown(
        f"{provider.capitalize()} webhook secret set",
        "Deliveries are verified with it from now on; enter it in the webhook's settings "
        f"on {provider.capitalize()}. It is shown only this once (cipulse keeps {kept}).",
        new,
    )
    return await settings_page(request, session, status=201, shown=shown)


def router() -> APIRouter:
    return routes
