"""Reading the window and filters of an analytics question from request parameters, with
errors that name the parameter. The default window is the last 30 days."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from cipulse.domain.status import Status
from cipulse.domain.window import Filters, Window
from cipulse.errors import InvalidRequest

DEFAULT_DAYS = 30
MAX_WINDOW_DAYS = 3660


def parse_time(name: str, value: str) -> datetime:
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{name}: not an ISO 8601 time (e.g. 2024-01-15T10:30:00Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def window_from(
    params: Mapping[str, str | None], now: datetime, tags: Sequence[str] = ()
) -> Window:
    """Build the window from query parameters (``since``, ``until``, the filters) and tag
    filters (``key:value``), naming the parameter at fault in any error."""
    until_text, since_text = params.get("until"), params.get("since")
    until = parse_time("until", until_text) if until_text else now
    since = parse_time("since", since_text) if since_text else until - timedelta(days=DEFAULT_DAYS)
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
    statuses: tuple[str, ...] = ()
    status_text = params.get("status")
    if status_text:
        statuses = tuple(dict.fromkeys(s.strip() for s in status_text.split(",") if s.strip()))
        unknown = [s for s in statuses if s not in set(Status)]
        if unknown:
            raise InvalidRequest(
                "status: must be one of "
                + ", ".join(s.value for s in Status)
                + f" (comma-separated); got {', '.join(unknown)}"
            )
    pipeline = _text(params, "pipeline")
    pipeline_id = pipeline_name = None
    if pipeline is not None:
        try:
            pipeline_id = str(uuid.UUID(pipeline))
        except ValueError:
            pipeline_name = pipeline
    tag_filters: list[tuple[str, str]] = []
    for raw in tags:
        key, separator, value = raw.partition(":")
        if not separator or not key:
            raise InvalidRequest("tag: must be key:value (e.g. tag=runner:self-hosted)")
        tag_filters.append((key, value))
    return Filters(
        repository=_text(params, "repository"),
        pipeline_id=pipeline_id,
        pipeline_name=pipeline_name,
        branch=_text(params, "branch"),
        provider=_text(params, "provider"),
        statuses=statuses,
        actor=_text(params, "actor"),
        triggered_by=_text(params, "triggered_by"),
        tags=tuple(tag_filters),
    )
