"""The Jinja2 environment (autoescape), number formats, headers.

Rendering dashboard pages: one Jinja2 environment (autoescaping everything), the filters
templates format numbers with, and the security headers every page carries."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from cipulse.settings import Settings
from cipulse.web.dashboard.assets import StaticAssets
from cipulse.web.job_paths import job_path
from cipulse.web.root_path import root_of

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

#: No inline scripts or styles, nothing from elsewhere: what CI sent cannot run as code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def duration(seconds: float | None) -> str:
    """``1h 02m``, ``12m 05s``, ``42s``, ``0.4s``; an em dash when unknown."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    if seconds < 10:
        return f"{seconds:.1f}s".replace(".0s", "s")
    if seconds >= 48 * 3600:
        return f"{seconds / 86400:.1f}d"
    if seconds >= 3600 - 30:  # rounded to the minute: 93,764.9 s is 26h 03m, not 26h 02m
        hours, minutes = divmod(round(seconds / 60), 60)
        return f"{hours}h {minutes:02d}m"
    minutes, secs = divmod(round(seconds), 60)
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


#: Units a column of durations is shown in: the largest its longest value fills twice.
DURATION_UNITS = (("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0))


def duration_unit(values: Any) -> str:
    """The one unit a column (or an axis) of durations in seconds is shown in: days from 2
    days, hours from 2 hours, minutes from 2 minutes, else seconds (by its longest value)."""
    longest = max((v for v in values if v is not None), default=0.0)
    for unit, seconds in DURATION_UNITS:
        if longest >= 2 * seconds:
            return unit
    return "s"


def column_units(rows: Any, fields: Any) -> dict[str, str]:
    """Per duration field of a table, the unit of its column."""
    return {field: duration_unit(row.get(field) for row in rows) for field in fields}


def in_unit(seconds: float | None, unit: str) -> str:
    """A duration as a number of ``unit`` (the column's header names it): ``47.6``."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    value = seconds / dict(DURATION_UNITS)[unit]
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def percent(ratio: float | None, digits: int = 1) -> str:
    if ratio is None:
        return "—"
    return f"{ratio * 100:.{digits}f}%"


def number(value: float | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return f"{int(value):,}"


def hours(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    value = seconds / 3600
    return f"{value:,.0f} h" if value >= 100 else f"{value:,.1f} h"


def when(iso: str | None) -> str:
    """A UTC time as ``2024-01-15 10:30``."""
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def ago(iso: str | None, now: datetime | None = None) -> str:
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    return f"{duration(seconds).split(' ')[0]} ago"


def safe_url(url: str | None) -> str:
    """Links CI sent, only when they are http(s): ``javascript:`` and the like are dropped."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return ""


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        duration=duration,
        percent=percent,
        number=number,
        hours=hours,
        in_unit=in_unit,
        when=when,
        ago=ago,
        safe_url=safe_url,
    )
    env.globals["job_path"] = job_path
    return env


def public_base_url(request: Request) -> str:
    """The base URL commands on a page should use: ``public_url`` when set, else the address
    this request came to (scheme and host as the client, or a proxy's ``X-Forwarded-*``
    headers that uvicorn trusts, saw them), with the path prefix."""
    settings: Settings = request.app.state.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    root = root_of(request)
    assets: StaticAssets = request.app.state.static_assets
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            root=root,
            static_url=partial(assets.url, root),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
