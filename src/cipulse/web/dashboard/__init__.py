"""The web dashboard: server-rendered pages over the analytics.

The web dashboard: server-rendered pages (Jinja2) over the analytics service, a little
JavaScript for charts, and the static files they need, all shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

from cipulse.web.dashboard import auth, pages, settings_admin, settings_page

STATIC = Path(__file__).resolve().parent.parent / "static"


def install(app: FastAPI) -> None:
    for module in (auth, pages, settings_page, settings_admin):
        app.include_router(module.router())
    # The chart library is 1 MB; compressed, a third of that.
    app.mount("/static", GZipMiddleware(StaticFiles(directory=STATIC)), name="static")
