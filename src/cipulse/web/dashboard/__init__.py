"""The web dashboard: server-rendered pages over the analytics.

The web dashboard: server-rendered pages (Jinja2) over the analytics service, a little
JavaScript for charts, and the static files they need, all shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cipulse.web.dashboard import (
    auth,
    cost_pages,
    job_pages,
    pages,
    pull_request_pages,
    quarantine_pages,
    runner_pages,
    settings_admin,
    settings_page,
    settings_rates,
    settings_teams,
    settings_test_rules,
    team_pages,
    test_pages,
)
from cipulse.web.dashboard.assets import CachedStaticFiles, StaticAssets

STATIC = Path(__file__).resolve().parent.parent / "static"


def install(app: FastAPI) -> None:
    for module in (
        auth,
        pages,
        job_pages,
        pull_request_pages,
        team_pages,
        test_pages,
        runner_pages,
        cost_pages,
        quarantine_pages,
        settings_page,
        settings_admin,
        settings_teams,
        settings_rates,
        settings_test_rules,
    ):
        app.include_router(module.router())
    # Hashed once, from the bytes the package ships: each file's URL names its version.
    assets = StaticAssets.of(STATIC)
    app.state.static_assets = assets
    app.mount("/static", CachedStaticFiles(STATIC, assets), name="static")
