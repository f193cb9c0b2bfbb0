"""The recovery question: red periods ended, and red at the end.

Red periods that ended in the window (newest first) and what was red at its end (longest
red first), with MTTR. "Red now" is only given for a window that ends now or later."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cipulse.analytics import comparison, recovery
from cipulse.analytics.paging import check_limit
from cipulse.analytics.questions.summary import WindowBounds, bounds_of, ends_now
from cipulse.analytics.run_metrics import RedPeriod
from cipulse.domain.window import Window
from cipulse.storage import list_store
from cipulse.storage.database import Database


@dataclass(frozen=True, slots=True)
class ListedPeriod:
    """A red period with its pipeline's name and repository (None: no longer stored);
    ``red_seconds_at_end``: for one still red at ``red_at``, how long it had been red."""

    pipeline_id: str
    pipeline: str | None
    repository: str | None
    branch: str | None
    red_since_ms: int
    recovered_at_ms: int | None
    seconds: float | None
    failing_attempts: int
    red_seconds_at_end: float | None = None


@dataclass(frozen=True, slots=True)
class RecoveryAnswer:
    """Red periods that ended in the window and what was red at its end (at ``red_at_ms``),
    at most the limit asked for of each, with their whole counts; the ``red_now`` ones only
    for a window that ends now or later (else None)."""

    window: WindowBounds
    mttr_seconds: float | None
    recovered_periods: int
    periods: list[ListedPeriod]
    window_ends_now: bool
    red_at_ms: int
    red_at_end_count: int
    red_at_end: list[ListedPeriod]
    red_now_count: int | None
    red_now: list[ListedPeriod] | None


def recovery_answer(
    database: Database, org_id: str, window: Window, limit: int, now_ms: int
) -> RecoveryAnswer:
    """Red periods that ended in the window (newest first) and what was red at its end
    (longest red first), at most ``limit`` of each, with their whole counts."""
    check_limit(limit, low=0)
    with database.read() as conn:
        result = recovery.recovery_in(conn, org_id, window, limit)
        names = {row["id"]: row for row in list_store.pipeline_rows(conn, org_id)}
    at_end = comparison.elapsed_until(window, now_ms) if ends_now(window, now_ms) else None
    red_at = at_end if at_end is not None else window.until_ms

    def listed(period: RedPeriod, still_red: bool = False) -> ListedPeriod:
        pipeline = names.get(period.pipeline_id, {})
        return ListedPeriod(
            pipeline_id=period.pipeline_id,
            pipeline=pipeline.get("name"),
            repository=pipeline.get("repository"),
            branch=period.branch,
            red_since_ms=period.started_at_ms,
            recovered_at_ms=period.ended_at_ms,
            seconds=period.seconds,
            failing_attempts=period.failing_attempts,
            red_seconds_at_end=max(red_at - period.started_at_ms, 0) / 1000 if still_red else None,
        )

    red = [listed(replace(p, ended_at_ms=None), still_red=True) for p in result.red_now]
    now = ends_now(window, now_ms)
    return RecoveryAnswer(
        window=bounds_of(window, now_ms),
        mttr_seconds=result.mttr_seconds,
        recovered_periods=result.recovered_periods,
        periods=[listed(p) for p in result.ended],
        window_ends_now=now,
        red_at_ms=red_at,
        red_at_end_count=result.red_now_count,
        red_at_end=red,
        red_now_count=result.red_now_count if now else None,
        red_now=red if now else None,
    )
