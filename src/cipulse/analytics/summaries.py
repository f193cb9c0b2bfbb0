"""A window's summary and the recovery answer (red at its end).

The summary of a window (its run metrics, MTTR and what is red at its end, compared like
with like with the window before) and the recovery answer, as the read API and the dashboard
give them.

"Red now" means one thing: red at this moment. It is only given for a window that ends now or
later (a window still under way); for a past window, what was red at its end is
``red_at_end``, labelled so, and how long it had been red is measured to that end, never to
today."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from cipulse.analytics import comparison, recovery, run_metrics
from cipulse.analytics.run_metrics import RedPeriod
from cipulse.analytics.window_figures import window_figures
from cipulse.domain.window import DAY_MS, Window
from cipulse.storage import analytics_store as store

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: What a date can hold, in epoch milliseconds: 0001-01-01 to the end of 9999, UTC.
_DATE_RANGE_MS = (-62_135_596_800_000, 253_402_300_799_999)


def iso(ms: int | None) -> str | None:
    """An instant as ISO 8601 text in UTC. One stored before the accepted range was enforced
    and beyond what a date can hold is shown at the edge (``0001-01-01T00:00:00Z``)."""
    if ms is None:
        return None
    shown = min(max(ms, _DATE_RANGE_MS[0]), _DATE_RANGE_MS[1])
    moment = EPOCH + timedelta(milliseconds=shown)  # exact, unlike a float of seconds
    return moment.isoformat().replace("+00:00", "Z")


def window_json(window: Window, now_ms: int | None = None) -> dict[str, Any]:
    """The window's bounds; with ``now_ms``, whether it is still under way and up to when
    its figures run (``elapsed_until``: now, for a window still under way)."""
    found: dict[str, Any] = {
        "since": iso(window.since_ms),
        "until": iso(window.until_ms),
        "days": window.days,
    }
    if now_ms is not None:
        found["partial"] = comparison.is_partial(window, now_ms)
        found["elapsed_until"] = iso(comparison.elapsed_until(window, now_ms))
    return found


def ends_now(window: Window, now_ms: int) -> bool:
    """Whether the window's end is now or later: what is red at its end is red now."""
    return window.until_ms >= now_ms


def _figures(conn: Connection, org_id: str, window: Window, now_ms: int) -> dict[str, Any]:
    tally = window_figures(conn, org_id, window, with_jobs=False, per_pipeline=False).total()
    red = recovery.recovery_in(conn, org_id, window, limit=0)
    metrics = run_metrics.metrics_of(window, tally)
    if comparison.is_partial(window, now_ms):  # per day of what has elapsed, like with like
        elapsed_days = (comparison.elapsed_until(window, now_ms) - window.since_ms) / DAY_MS
        metrics["throughput_per_day"] = metrics["runs"] / max(elapsed_days, 1 / 86_400_000)
    return {
        **metrics,
        "mttr_seconds": red.mttr_seconds,
        "red_at_end": red.red_now_count,
        "red_now": red.red_now_count if ends_now(window, now_ms) else None,
    }


def summary(conn: Connection, org_id: str, window: Window, now_ms: int) -> dict[str, Any]:
    """All run-level metrics for the window, and for the window it is compared with
    (``previous``: the same elapsed length just before), with each figure's change."""
    before = comparison.compared_previous(window, now_ms)
    current = _figures(conn, org_id, window, now_ms)
    previous = _figures(conn, org_id, before, now_ms)
    return {
        "window": window_json(window, now_ms),
        **current,
        "previous": {"window": window_json(before), **previous},
        "changes": {
            metric: change.json()
            for metric, change in comparison.changes(current, previous).items()
        },
    }


def recovery_answer(
    conn: Connection, org_id: str, window: Window, limit: int, now_ms: int
) -> dict[str, Any]:
    """Red periods that ended in the window (newest first) and what was red at its end
    (longest red first), at most ``limit`` of each, with their whole counts."""
    result = recovery.recovery_in(conn, org_id, window, limit)
    names = {row["id"]: row for row in store.pipeline_rows(conn, org_id)}
    at_end = comparison.elapsed_until(window, now_ms) if ends_now(window, now_ms) else None
    red_at = at_end if at_end is not None else window.until_ms

    def period_json(period: RedPeriod, still_red: bool = False) -> dict[str, Any]:
        pipeline = names.get(period.pipeline_id, {})
        found = {
            "pipeline_id": period.pipeline_id,
            "pipeline": pipeline.get("name"),
            "repository": pipeline.get("repository"),
            "branch": period.branch,
            "red_since": iso(period.started_at_ms),
            "recovered_at": iso(period.ended_at_ms),
            "seconds": period.seconds,
            "failing_attempts": period.failing_attempts,
        }
        if still_red:
            found["red_seconds_at_end"] = max(red_at - period.started_at_ms, 0) / 1000
        return found

    red = [period_json(replace(p, ended_at_ms=None), still_red=True) for p in result.red_now]
    now = ends_now(window, now_ms)
    return {
        "window": window_json(window, now_ms),
        "mttr_seconds": result.mttr_seconds,
        "recovered_periods": result.recovered_periods,
        "periods": [period_json(p) for p in result.ended],
        "window_ends_now": now,
        "red_at": iso(red_at),
        "red_at_end_count": result.red_now_count,
        "red_at_end": red,
        "red_now_count": result.red_now_count if now else None,
        "red_now": red if now else None,
    }
