"""The window and filters of a question, read from request parameters.

Reading the window and filters of an analytics question from request parameters, with
errors that name the parameter. The default window is the 30 whole UTC days that end with
today (today included): whole days are answered from the daily rollups."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from cipulse.domain.accepted import EARLIEST, END
from cipulse.domain.changes import SHA_FORM, EventKind, is_sha
from cipulse.domain.compute import LEVELS
from cipulse.domain.ownership import MAX_NAME
from cipulse.domain.status import Status
from cipulse.domain.tallies import FAILURE_CLASSES
from cipulse.domain.window import BRANCH_SCOPES, Filters, Window
from cipulse.errors import InvalidRequest

DEFAULT_DAYS = 30
MAX_WINDOW_DAYS = 3660
#: What ``since`` and ``until`` may be: the accepted range of instants, its end included.
WINDOW_RANGE = "1970-01-01T00:00:00Z to 2200-01-01T00:00:00Z"


def parse_time(name: str, value: str) -> datetime:
    """An instant from ``1970-01-01T00:00:00Z`` to ``2200-01-01T00:00:00Z`` (the accepted
    range, its end included as the end of a window); no offset means UTC."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{name}: not an ISO 8601 time (e.g. 2024-01-15T10:30:00Z)") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if not EARLIEST <= parsed <= END:
        raise InvalidRequest(f"{name}: must be from {WINDOW_RANGE}")
    return parsed


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _days(text: str | None) -> int | None:
    if not text:
        return None
    try:
        days = int(text)
    except ValueError:
        raise InvalidRequest(f"days: must be a whole number from 1 to {MAX_WINDOW_DAYS}") from None
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise InvalidRequest(f"days: must be a whole number from 1 to {MAX_WINDOW_DAYS}")
    return days


def window_from(
    params: Mapping[str, str | None], now: datetime, tags: Sequence[str] = ()
) -> Window:
    """Build the window from query parameters (``since``, ``until``, ``days``, the filters)
    and tag filters (``key:value``), naming the parameter at fault in any error.

    ``until`` defaults to the end of today (UTC midnight tonight); ``since`` to ``days``
    (default 30) whole days before ``until``."""
    until_text, since_text = params.get("until"), params.get("since")
    days = _days(params.get("days"))
    if days is not None and since_text:
        raise InvalidRequest("days: give since or days, not both")
    end_of_today = datetime.combine(now.astimezone(UTC).date(), time(), UTC) + timedelta(days=1)
    until = parse_time("until", until_text) if until_text else end_of_today
    if since_text:
        since = parse_time("since", since_text)
    else:
        since = until - timedelta(days=days or DEFAULT_DAYS)
    if since >= until:
        raise InvalidRequest("since: must be before until")
    if until - since > timedelta(days=MAX_WINDOW_DAYS):
        raise InvalidRequest(f"since: the window may span at most {MAX_WINDOW_DAYS} days")
    return Window(_ms(since), _ms(until), filters_from(params, tags))


def _text(params: Mapping[str, str | None], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if len(value) > 1000:
        raise InvalidRequest(f"{name}: must be at most 1000 characters")
    return value


def filters_from(params: Mapping[str, str | None], tags: Sequence[str] = ()) -> Filters:
    statuses = _statuses(params)
    pipeline_id, pipeline_name = _pipeline(params)
    branch_scope = _choice(
        params, "branches", BRANCH_SCOPES, "default or other (none: every branch)"
    )
    tag_filters = _tags(tags)
    job_level = _choice(params, "level", (*LEVELS, "all"), "job, stage, step or all (none: job)")
    return Filters(
        job_level=job_level,
        repository=_text(params, "repository"),
        pipeline_id=pipeline_id,
        pipeline_name=pipeline_name,
        team=_team(params),
        branch=_text(params, "branch"),
        branch_scope=branch_scope,
        provider=_text(params, "provider"),
        statuses=statuses,
        actor=_text(params, "actor"),
        triggered_by=_text(params, "triggered_by"),
        tags=tag_filters,
        **change_filters_from(params),
    )


def _team(params: Mapping[str, str | None]) -> str | None:
    """A team's name (known teams are checked when the question is asked)."""
    text = (_text(params, "team") or "").strip()
    if not text:
        return None
    if len(text) > MAX_NAME:
        raise InvalidRequest(f"team: must be at most {MAX_NAME} characters")
    return text


def change_filters_from(params: Mapping[str, str | None]) -> dict[str, Any]:
    """The ``Filters`` fields of the change (``CHANGE_FILTERS``) the parameters set."""
    return {
        "commit": _commit(params),
        "pull_request": _pull_request(params),
        "author": _text(params, "author"),
        "branch_contains": _text(params, "branch_contains"),
        "event_kinds": _event_kinds(params),
    }


#: The filters of the change an attempt ran for (every read endpoint and page takes them).
CHANGE_FILTERS = ("commit", "pull_request", "author", "branch_contains", "event_kind")


def failure_class_from(params: Mapping[str, str | None]) -> str | None:
    """The failure class a "most failing" list is split by (None: every failure)."""
    value = params.get("failure_class") or None
    if value is not None and value not in FAILURE_CLASSES:
        raise InvalidRequest("failure_class: must be one of " + ", ".join(FAILURE_CLASSES))
    return value


def _commit(params: Mapping[str, str | None]) -> str | None:
    """The start of a commit SHA: 4 to 64 hexadecimal digits, any case."""
    text = (_text(params, "commit") or "").strip().lower()
    if not text:
        return None
    if not is_sha(text):
        raise InvalidRequest(f"commit: must be a commit SHA or its start: {SHA_FORM}")
    return text


def _pull_request(params: Mapping[str, str | None]) -> int | None:
    """A pull or merge request number (``12`` or ``#12``; GitLab's ``!12`` too)."""
    text = (_text(params, "pull_request") or "").strip().lstrip("#!")
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) < 2**63:
        raise InvalidRequest("pull_request: must be a pull request number (a whole number from 1)")
    return int(text)


def _event_kinds(params: Mapping[str, str | None]) -> tuple[str, ...]:
    text = params.get("event_kind")
    if not text:
        return ()
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in set(EventKind)]
    if unknown:
        raise InvalidRequest(
            "event_kind: must be one of "
            + ", ".join(kind.value for kind in EventKind)
            + f" (comma-separated); got {', '.join(unknown)}"
        )
    return kinds


def _statuses(params: Mapping[str, str | None]) -> tuple[str, ...]:
    status_text = params.get("status")
    if not status_text:
        return ()
    statuses = tuple(dict.fromkeys(s.strip() for s in status_text.split(",") if s.strip()))
    unknown = [s for s in statuses if s not in set(Status)]
    if unknown:
        raise InvalidRequest(
            "status: must be one of "
            + ", ".join(s.value for s in Status)
            + f" (comma-separated); got {', '.join(unknown)}"
        )
    return statuses


def _pipeline(params: Mapping[str, str | None]) -> tuple[str | None, str | None]:
    """(pipeline id, pipeline name): ``pipeline`` is an id when it is a UUID, else a name."""
    pipeline = _text(params, "pipeline")
    if pipeline is None:
        return None, None
    try:
        return str(uuid.UUID(pipeline)), None
    except ValueError:
        return None, pipeline


def _choice(
    params: Mapping[str, str | None], name: str, allowed: Sequence[str], said: str
) -> str | None:
    value = params.get(name) or None
    if value is not None and value not in allowed:
        raise InvalidRequest(f"{name}: must be {said}")
    return value


def _tags(tags: Sequence[str]) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for raw in tags:
        key, separator, value = raw.partition(":")
        if not separator or not key:
            raise InvalidRequest("tag: must be key:value (e.g. tag=runner:self-hosted)")
        found.append((key, value))
    return tuple(found)
