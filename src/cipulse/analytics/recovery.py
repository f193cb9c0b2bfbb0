"""Red periods from the ``red_periods`` table. The refresher recomputes a pipeline's periods
from the earliest day ingest changed (``recompute``); a read recomputes, in memory, those of
the pipelines whose changes are not refreshed yet, so answers are exact at all times.

Recomputing from a time T: every stored period of the pipeline still open or ended at or
after T is stale; per branch, the outcomes from the start of its earliest stale period (or
from T) are run through ``run_metrics.red_periods`` again. Before that point the branch was
green (a red period open across it would be stale itself), so the result joins up with the
periods kept."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from cipulse.analytics import run_metrics
from cipulse.analytics.run_metrics import RedPeriod
from cipulse.domain.window import DAY_MS, Window
from cipulse.storage import analytics_store as store
from cipulse.storage import rollup_store
from cipulse.storage.analytics_store import Outcome


def recompute(
    conn: Connection, org_id: str, pipeline_id: str, from_ms: int
) -> tuple[list[str], list[RedPeriod]]:
    """The ids of the pipeline's stored periods made stale by changes from ``from_ms`` on,
    and the periods that replace them."""
    stale = rollup_store.periods_from(conn, org_id, pipeline_id, from_ms)
    starts: dict[str | None, int] = {}
    for period in stale:
        starts[period.branch] = min(starts.get(period.branch, from_ms), period.started_at_ms)
    lowest = min([from_ms, *starts.values()])
    outcomes = [
        Outcome(pipeline_id, branch, status, completed, str(attempt_id))
        for branch, status, completed, attempt_id in rollup_store.outcomes_of_pipeline(
            conn, org_id, pipeline_id, lowest
        )
        if completed >= starts.get(branch, from_ms)
    ]
    return [period.id for period in stale], run_metrics.red_periods(outcomes)


def served_by_table(window: Window) -> bool:
    """Red periods are stored per pipeline and branch; other filters (status aside, which
    recovery ignores) need the raw outcomes."""
    f = window.filters
    return not (f.provider or f.actor or f.triggered_by or f.tags)


def periods_for(conn: Connection, org_id: str, window: Window) -> list[RedPeriod]:
    """The red periods that ended in the window or were open at its end (and maybe more)."""
    filters = window.filters
    if not served_by_table(window):
        outcomes = store.outcomes_before(conn, org_id, filters, window.until_ms)
        return run_metrics.red_periods(outcomes)
    pipeline_ids = None
    if filters.repository or filters.pipeline_id or filters.pipeline_name:
        pipeline_ids = store.pipeline_ids_of(conn, org_id, filters)
        if not pipeline_ids:
            return []
    dirty = rollup_store.dirty_pipelines(conn, org_id)
    if pipeline_ids is not None:
        dirty = {p: day for p, day in dirty.items() if p in set(pipeline_ids)}
    periods = [
        RedPeriod(p.pipeline_id, p.branch, p.started_at_ms, p.ended_at_ms, p.failing_attempts)
        for p in rollup_store.periods_around(
            conn, org_id, window.since_ms, window.until_ms, pipeline_ids, filters.branch
        )
        if not (
            p.pipeline_id in dirty
            and (p.ended_at_ms is None or p.ended_at_ms >= dirty[p.pipeline_id] * DAY_MS)
        )
    ]
    for pipeline_id, day in sorted(dirty.items()):
        _, fresh = recompute(conn, org_id, pipeline_id, day * DAY_MS)
        periods += [p for p in fresh if filters.branch is None or p.branch == filters.branch]
    return periods


def recovery_of(window: Window, periods: list[RedPeriod]) -> dict[str, Any]:
    """``mttr_seconds`` of the periods that ended in the window, and the periods open at its
    end (shown as still red: what happened later is outside the window)."""
    ended = [
        p
        for p in periods
        if p.ended_at_ms is not None and window.since_ms <= p.ended_at_ms < window.until_ms
    ]
    lengths = [p.seconds for p in ended if p.seconds is not None]
    red_now = [
        RedPeriod(p.pipeline_id, p.branch, p.started_at_ms, None, p.failing_attempts)
        for p in periods
        if p.started_at_ms < window.until_ms
        and (p.ended_at_ms is None or p.ended_at_ms >= window.until_ms)
    ]
    return {
        "mttr_seconds": sum(lengths) / len(lengths) if lengths else None,
        "recovered_periods": len(ended),
        "ended": ended,
        "red_now": red_now,
    }
