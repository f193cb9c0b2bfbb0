"""A window's summary: its run metrics, MTTR and what is red at its end.

The summary of a window (its run metrics, MTTR and what is red at its end, compared like
with like with the window before), as the read API and the dashboard give it.

"Red now" means one thing: red at this moment. It is only given for a window that ends now or
later (a window still under way); for a past window, what was red at its end is
``red_at_end``, labelled so, and how long it had been red is measured to that end, never to
today."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from cipulse.analytics import comparison, recovery, run_metrics
from cipulse.analytics.comparison import Change
from cipulse.analytics.run_metrics import RunFigures
from cipulse.analytics.window_figures import run_totals
from cipulse.domain.window import DAY_MS, Window
from cipulse.storage.database import Database

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


@dataclass(frozen=True, slots=True)
class WindowBounds:
    """The window an answer is about; ``partial`` (whether it is still under way) and
    ``elapsed_until_ms`` (up to when its figures run: now, for a window still under way)
    only where the answer is given with now."""

    since_ms: int
    until_ms: int
    days: float
    partial: bool | None = None
    elapsed_until_ms: int | None = None


def bounds_of(window: Window, now_ms: int | None = None) -> WindowBounds:
    """The window's bounds; with ``now_ms``, whether it is under way and up to when."""
    if now_ms is None:
        return WindowBounds(window.since_ms, window.until_ms, window.days)
    return WindowBounds(
        window.since_ms,
        window.until_ms,
        window.days,
        partial=comparison.is_partial(window, now_ms),
        elapsed_until_ms=comparison.elapsed_until(window, now_ms),
    )


def ends_now(window: Window, now_ms: int) -> bool:
    """Whether the window's end is now or later: what is red at its end is red now."""
    return window.until_ms >= now_ms


@dataclass(frozen=True, slots=True)
class SummaryFigures:
    """A window's run figures, its MTTR and what was red at its end (``red_now``: the
    same, for a window that ends now or later; else None)."""

    run: RunFigures
    mttr_seconds: float | None
    red_at_end: int
    red_now: int | None

    def figure(self, name: str) -> Any:
        """The figure a definition names (a run figure, or MTTR)."""
        return self.mttr_seconds if name == "mttr_seconds" else self.run.figure(name)


@dataclass(frozen=True, slots=True)
class Summary:
    """A window's figures and those of the window it is compared with (``previous``: the
    same elapsed length just before), with each compared figure's change."""

    window: WindowBounds
    figures: SummaryFigures
    previous_window: WindowBounds
    previous: SummaryFigures
    changes: dict[str, Change]


def _figures(conn: Connection, org_id: str, window: Window, now_ms: int) -> SummaryFigures:
    tally = run_totals(conn, org_id, window).total()
    red = recovery.recovery_in(conn, org_id, window, limit=0)
    metrics = run_metrics.metrics_of(window, tally)
    if comparison.is_partial(window, now_ms):  # per day of what has elapsed, like with like
        elapsed_days = (comparison.elapsed_until(window, now_ms) - window.since_ms) / DAY_MS
        throughput = metrics.runs / max(elapsed_days, 1 / 86_400_000)
        metrics = replace(metrics, throughput_per_day=throughput)
    return SummaryFigures(
        run=metrics,
        mttr_seconds=red.mttr_seconds,
        red_at_end=red.red_now_count,
        red_now=red.red_now_count if ends_now(window, now_ms) else None,
    )


def summary(database: Database, org_id: str, window: Window, now_ms: int) -> Summary:
    """All run-level metrics for the window, and for the window it is compared with
    (``previous``: the same elapsed length just before), with each figure's change."""
    before = comparison.compared_previous(window, now_ms)
    with database.read() as conn:
        current = _figures(conn, org_id, window, now_ms)
        previous = _figures(conn, org_id, before, now_ms)
    return Summary(
        window=bounds_of(window, now_ms),
        figures=current,
        previous_window=bounds_of(before),
        previous=previous,
        changes=comparison.changes(current, previous),
    )
