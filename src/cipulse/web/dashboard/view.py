"""The view in the URL (range, branches, repository) → a Window.

What every dashboard page is looking at: the time range, branches and repository from the
URL (so every view can be shared and bookmarked), turned into the same ``Window`` the read
API builds from the same parameters."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from cipulse.analytics.buckets import Interval
from cipulse.analytics.window import CHANGE_FILTERS, window_from
from cipulse.domain.accepted import EARLIEST, END
from cipulse.domain.window import Window
from cipulse.errors import InvalidRequest

RANGES = {
    "24h": "24 hours",
    "7d": "7 days",
    "30d": "30 days",
    "90d": "90 days",
    "month": "This month",
    "last_month": "Last month",
}
#: The ranges that are a UTC calendar month (compared with the month before it).
MONTHS = ("month", "last_month")
DEFAULT_RANGE = "30d"
BRANCH_SCOPES = {"": "All branches", "default": "Default branch", "other": "Other branches"}
#: Parameters kept from page to page: the range, branches, repository and the change.
SHARED = ("range", "since", "until", "branches", "repository", "team", *CHANGE_FILTERS)


#: The days a view may show: those of the accepted range of instants.
FIRST_DAY, LAST_DAY = EARLIEST.date(), END.date() - timedelta(days=1)


def _date(name: str, text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{name}: a date like 2024-01-15") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidRequest(f"{name}: must be a date from {FIRST_DAY} to {LAST_DAY}")
    return day


@dataclass(frozen=True, slots=True)
class View:
    """The shared state of a page and the window it means."""

    range: str
    since: str
    until: str
    branches: str
    repository: str
    window: Window
    interval: Interval
    #: The team the view is narrowed to ('' : none; ``unowned``: pipelines of no team).
    team: str
    #: The read API's parameters for the same window (CSV links, the data behind charts).
    api_params: dict[str, str]
    #: The page's path after ``root``, the prefix the server is served under ('' at ``/``).
    path: str
    query: dict[str, str]
    root: str = ""

    @property
    def label(self) -> str:
        if self.range == "custom":
            return f"{self.since} to {self.until}"
        return RANGES[self.range]

    def url(self, path: str | None = None, **changes: Any) -> str:
        """This page (or ``path``) with some parameters changed; None or '' removes one."""
        query = dict(self.query) if path is None else {k: v for k, v in self.shared().items()}
        for key, value in changes.items():
            if value is None or value == "":
                query.pop(key, None)
            else:
                query[key] = str(value)
        text = urlencode(query)
        target = f"{self.root}{path or self.path}"
        if not text:
            return target
        return f"{target}{'&' if '?' in target else '?'}{text}"

    @property
    def changes(self) -> dict[str, str]:
        """The filters of the change the view sets (kept from page to page)."""
        return {k: v for k, v in self.query.items() if k in CHANGE_FILTERS}

    def shared(self) -> dict[str, str]:
        return {k: v for k, v in self.query.items() if k in SHARED}

    def api(self, endpoint: str, **params: Any) -> str:
        query = {**self.api_params, **{k: str(v) for k, v in params.items() if v is not None}}
        return f"{self.root}/api/v1/{endpoint}?{urlencode(query)}"

    def narrowed(self, **filters: Any) -> Window:
        return replace(self.window, filters=replace(self.window.filters, **filters))


def _custom_range(since: str, until: str, now: datetime) -> tuple[dict[str, str], str, str, int]:
    """A custom range of whole UTC days: its API parameters, its first and last day (ISO)
    and its length in days (30 days up to ``until`` without ``since``)."""
    given_first = _date("since", since) if since else None
    last = _date("until", until) if until else now.date()
    first = given_first or max(last - timedelta(days=29), FIRST_DAY)
    if first > last:
        raise InvalidRequest("since: must be on or before until")
    api = {
        "since": f"{first.isoformat()}T00:00:00Z",
        "until": f"{(last + timedelta(days=1)).isoformat()}T00:00:00Z",
    }
    return api, first.isoformat(), last.isoformat(), (last - first).days + 1


def _last_hours(now: datetime) -> dict[str, str]:
    """24 whole UTC hours ending with the current one, as the day ranges are whole days
    ending with today: every hour but the current one is read from stored hours."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return {
        "since": (end - timedelta(hours=24)).isoformat().replace("+00:00", "Z"),
        "until": end.isoformat().replace("+00:00", "Z"),
    }


def _range_params(
    range_: str, since: str, until: str, now: datetime
) -> tuple[dict[str, str], str, str, int]:
    """The API parameters of a range (and its days), with the custom dates it stands for."""
    if range_ == "custom":
        return _custom_range(since, until, now)
    if range_ == "24h":
        return _last_hours(now), since, until, 1
    if range_ in MONTHS:
        first, following = _month(now.date(), before=range_ == "last_month")
        api = {
            "since": f"{first.isoformat()}T00:00:00Z",
            "until": f"{following.isoformat()}T00:00:00Z",
        }
        return api, since, until, (following - first).days
    if range_ in RANGES:
        days = int(range_.removesuffix("d"))
        return {"days": str(days)}, since, until, days
    raise InvalidRequest("range: must be one of " + ", ".join(RANGES) + " or custom dates")


def _month(today: date, *, before: bool) -> tuple[date, date]:
    """The first day of this UTC calendar month (or the one before) and of the next."""
    first = today.replace(day=1)
    if before:
        first = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following


def _interval(range_: str, days: int) -> Interval:
    if range_ == "24h":
        return Interval.HOUR
    return Interval.WEEK if days > 120 else Interval.DAY


def _filter_params(**given: str) -> dict[str, str]:
    """The view's filters the read API takes as they are (those set)."""
    return {name: value for name, value in given.items() if value}


def _change_params(params: Any) -> dict[str, str]:
    """The filters of the change the URL sets, as the read API takes them."""
    return {name: params[name] for name in CHANGE_FILTERS if params.get(name)}


def view_of(request: Request, now: datetime | None = None) -> View:
    params = request.query_params
    root = str(request.scope.get("root_path", "")).rstrip("/")
    now = now or datetime.now(UTC)
    since = params.get("since") or ""
    until = params.get("until") or ""
    range_ = "custom" if since or until else params.get("range") or DEFAULT_RANGE
    branches = params.get("branches") or ""
    repository = params.get("repository") or ""
    team = (params.get("team") or "").strip()
    api, since, until, days = _range_params(range_, since, until, now)
    if branches not in BRANCH_SCOPES:
        raise InvalidRequest("branches: must be default or other")
    api.update(_filter_params(branches=branches, repository=repository, team=team))
    api.update(_change_params(params))
    return View(
        range=range_,
        since=since,
        until=until,
        branches=branches,
        repository=repository,
        team=team,
        window=window_from(api, now),
        interval=_interval(range_, days),
        api_params=api,
        path=request.url.path.removeprefix(root) or "/",
        query={k: v for k, v in params.items() if v != ""},
        root=root,
    )
