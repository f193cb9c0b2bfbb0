"""The settings page: keys, usage, members, teams, webhooks, rates.

The settings page: API keys (create with a scope, shown once; revoke; last used), plan
usage against limits, the organisation's members and repositories, its webhooks and its
rate card. What admins change besides keys is in ``settings_admin.py`` and
``settings_rates.py``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from cipulse.accounts.rates import RateCard, RateService
from cipulse.accounts.repositories import RepositoryService
from cipulse.accounts.service import AccountService, CreatedKey, parse_scopes
from cipulse.accounts.teams import RuleListing, TeamService
from cipulse.accounts.users import Member, Session
from cipulse.analytics.flaky_tests import FlakyTestService
from cipulse.domain.flaky_rules import RuleSettings
from cipulse.domain.model import ROLES, ApiKeyInfo, Organisation, WebhookProvider
from cipulse.errors import Forbidden, NotFound
from cipulse.ingestion.runwatch.example import example_curl
from cipulse.storage.clock import from_ms, month_of, now_ms
from cipulse.storage.repositories import RepositoryRow
from cipulse.web.auth import SignedIn, check_csrf, users
from cipulse.web.cost_presenters import rate_card_json
from cipulse.web.dashboard.rendering import public_base_url, render
from cipulse.web.dashboard.routing import page_router, redirect
from cipulse.web.dashboard.view import BRANCH_SCOPES, RANGES, view_of
from cipulse.web.deadlines import run_in_database_thread


def admin_only(session: Session, what: str = "its keys") -> None:
    if session.role != "admin":
        raise Forbidden(f"role: only an organisation's admins manage {what}")


@dataclass(frozen=True, slots=True)
class Shown:
    """What an action shows on its response only: a title and a message, and a secret
    (a new user's password, a webhook secret) that is not shown again."""

    title: str
    message: str
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the settings page shows of the organisation, read in one database thread."""

    organisation: Organisation
    keys: list[ApiKeyInfo]
    usage: tuple[int, int]
    members: list[Member]
    secrets_set: dict[str, int]
    repositories: list[RepositoryRow]
    team_rules: RuleListing
    rate_card: RateCard
    test_rules: RuleSettings


def _facts(request: Request, session: Session, month: str) -> _Facts:
    accounts = AccountService(request.app.state.database)
    return _Facts(
        organisation=accounts.organisation(session.org_name),
        keys=accounts.keys(session.org_name),
        usage=accounts.usage(session.org_name, month),
        members=users(request).members(session.org_id),
        secrets_set=request.app.state.webhooks.secrets_set(session.org_id),
        repositories=RepositoryService(request.app.state.database).repositories(session.org_name),
        team_rules=TeamService(request.app.state.database).rules(session.org_name),
        rate_card=RateService(request.app.state.database).card(session.org_id),
        test_rules=FlakyTestService(request.app.state.database).settings(session.org_name),
    )


async def settings_page(
    request: Request,
    session: Session,
    created: CreatedKey | None = None,
    status: int = 200,
    shown: Shown | None = None,
) -> Response:
    base_url = public_base_url(request)
    month = month_of(now_ms())
    facts = await run_in_database_thread(_facts, request, session, month)
    return render(
        request,
        "settings.html",
        {
            "session": session,
            "view": view_of(request),
            "ranges": RANGES,
            "branch_scopes": BRANCH_SCOPES,
            "title": "Settings",
            "organisation": facts.organisation,
            "keys": facts.keys,
            "usage": {"month": month, "repositories": facts.usage[0], "runs": facts.usage[1]},
            "members": facts.members,
            "repositories": facts.repositories,
            "team_rules": facts.team_rules,
            "roles": ROLES,
            "shown": shown,
            "created": created,
            "curl": example_curl(base_url, created.key) if created else None,
            "base_url": base_url,
            "webhooks": _webhooks(base_url, session.org_name, facts.secrets_set),
            "rate_card": rate_card_json(facts.rate_card),
            "test_rules": facts.test_rules,
        },
        status_code=status,
    )


_WEBHOOK_LABELS = {WebhookProvider.GITHUB: "GitHub", WebhookProvider.GITLAB: "GitLab"}


def _webhooks(base_url: str, org_name: str, secrets_set: dict[str, int]) -> list[dict[str, Any]]:
    """The organisation's webhook URL per code host, and when its secret was set."""
    return [
        {
            "provider": provider.value,
            "label": label,
            "url": f"{base_url}/webhooks/{provider.value}/{quote(org_name, safe='')}",
            "set_at": _iso(secrets_set.get(provider.value)),
        }
        for provider, label in _WEBHOOK_LABELS.items()
    ]


def _iso(ms: int | None) -> str | None:
    moment = from_ms(ms)
    return moment.isoformat() if moment else None


def router() -> APIRouter:
    routes = page_router()

    @routes.get("/settings")
    async def show_settings(request: Request, session: SignedIn) -> Response:
        return await settings_page(request, session)

    @routes.post("/settings/keys")
    async def create_key(
        request: Request,
        session: SignedIn,
        csrf: Annotated[str, Form()] = "",
        name: Annotated[str, Form()] = "",
        scope: Annotated[list[str] | None, Form()] = None,
    ) -> Response:
        check_csrf(session, csrf)
        admin_only(session)
        scopes = parse_scopes(",".join(scope or []))
        accounts = AccountService(request.app.state.database)
        created = await run_in_database_thread(
            accounts.create_key, session.org_name, name.strip() or None, scopes
        )
        # Shown on this response only: the key is not stored, and a reload does not repeat it.
        return await settings_page(request, session, created, status=201)

    @routes.post("/settings/keys/{prefix}/revoke")
    async def revoke_key(
        request: Request, session: SignedIn, prefix: str, csrf: Annotated[str, Form()] = ""
    ) -> Response:
        check_csrf(session, csrf)
        admin_only(session)
        accounts = AccountService(request.app.state.database)
        own = {key.prefix for key in await run_in_database_thread(accounts.keys, session.org_name)}
        if prefix not in own:
            raise NotFound(f"prefix: no key {prefix!r} in this organisation")
        await run_in_database_thread(accounts.revoke_key, prefix)
        return redirect(request, "/settings#keys")

    return routes
