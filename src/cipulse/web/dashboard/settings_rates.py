"""The settings page's rate card: prices per minute and the currency.

The forms of the settings page's "Rates" section: an admin sets the currency, adds or
replaces a rate (provider, label-set pattern, price, platform charge, effective day),
removes one, or loads GitHub's and GitLab's published rates. Every form carries the
session's CSRF token; members get 403; a bad value is a 400 naming every bad field, and
nothing is written (``accounts/rates.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from cipulse.accounts.rates import RateService, parse_rate
from cipulse.accounts.users import Session
from cipulse.domain.money import money_text
from cipulse.web.auth import SignedIn, check_csrf
from cipulse.web.dashboard.routing import page_router, redirect
from cipulse.web.dashboard.settings_page import Shown, admin_only, settings_page
from cipulse.web.deadlines import run_in_database_thread

Text = Annotated[str, Form()]
routes = page_router()


def _rates(request: Request) -> RateService:
    return RateService(request.app.state.database)


def _checked(session: Session, csrf: str) -> None:
    check_csrf(session, csrf)
    admin_only(session, "its rates")


@routes.post("/settings/rates")
async def set_rate(
    request: Request,
    session: SignedIn,
    csrf: Text = "",
    provider: Text = "",
    pattern: Text = "",
    price: Text = "",
    platform: Text = "",
    effective: Text = "",
) -> Response:
    _checked(session, csrf)
    rate = parse_rate(provider, pattern, price, platform, effective or None)
    await run_in_database_thread(_rates(request).set_rates, session.org_name, [rate])
    shown = Shown(
        "Rate set",
        f"{rate.provider} jobs on {rate.pattern} cost {money_text(rate.price_micros)} "
        f"(+ {money_text(rate.platform_micros)} platform) a minute from "
        f"{rate.effective.isoformat()}.",
    )
    return await settings_page(request, session, status=201, shown=shown)


@routes.post("/settings/rates/remove")
async def remove_rate(
    request: Request,
    session: SignedIn,
    csrf: Text = "",
    provider: Text = "",
    pattern: Text = "",
    effective: Text = "",
) -> Response:
    _checked(session, csrf)
    await run_in_database_thread(
        _rates(request).remove, session.org_name, provider, pattern, effective or None
    )
    return redirect(request, "/settings#rates")


@routes.post("/settings/rates/defaults")
async def load_defaults(request: Request, session: SignedIn, csrf: Text = "") -> Response:
    _checked(session, csrf)
    loaded = await run_in_database_thread(_rates(request).load_defaults, session.org_name)
    shown = Shown(
        "Published rates loaded",
        f"{loaded} rates of GitHub and GitLab, in USD, list prices (docs/metrics.md cites "
        "them); change or remove any of them.",
    )
    return await settings_page(request, session, status=201, shown=shown)


@routes.post("/settings/currency")
async def set_currency(
    request: Request, session: SignedIn, csrf: Text = "", currency: Text = ""
) -> Response:
    _checked(session, csrf)
    await run_in_database_thread(_rates(request).set_currency, session.org_name, currency)
    return redirect(request, "/settings#rates")


def router() -> APIRouter:
    return routes
