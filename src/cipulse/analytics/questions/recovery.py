"""The recovery question: red periods ended, and red at the end.

Red periods that ended in the window (newest first) and what was red at its end (longest
red first), with MTTR. "Red now" is only given for a window that ends now or later."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cipulse.analytics import comparison, recovery
from cipulse.analytics.paging import check_limit
from cipulse.analytics.questions.summary import ends_now, iso, window_json
from cipulse.analytics.run_metrics import RedPeriod
from cipulse.domain.window import Window
from cipulse.storage import list_store
from cipulse.storage.database import Database


def recovery_answer(
    database: Database, org_id: str, window: Window, limit: int, now_ms: int
) -> dict[str, Any]:
    """Red periods that ended in the window (newest first) and what was red at its end
    (longest red first), at most ``limit`` of each, with their whole counts."""
    check_limit(limit, low=0)
    with database.read() as conn:
        result = recovery.recovery_in(conn, org_id, window, limit)
        names = {row["id"]: row for row in list_store.pipeline_rows(conn, org_id)}
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
