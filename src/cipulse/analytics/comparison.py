"""A window compared with the one before it, like with like.

Comparing a window with the one before it, like with like: a window that is still under
way (it ends after now) is compared with the same elapsed length of the previous window,
and a change is only a number when there is something to compare with. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from cipulse.domain.window import Window

#: Figures whose change is a difference (ratios: percentage points), not a relative change.
DIFFERENCES = frozenset(
    {"success_rate", "first_attempt_success_rate", "flaky_rate", "waiting_share"}
)
#: The figures a summary gives a change for.
COMPARED = (
    "runs",
    "success_rate",
    "first_attempt_success_rate",
    "p50_duration_seconds",
    "p95_duration_seconds",
    "mean_duration_seconds",
    "compute_seconds",
    "throughput_per_day",
    "flaky_runs",
    "flaky_rate",
    "retry_compute_seconds",
    "mttr_seconds",
)
#: Why a change is null.
NO_EARLIER_DATA = "no_earlier_data"
NO_VALUE = "no_value"
WAS_ZERO = "was_zero"


def elapsed_until(window: Window, now_ms: int) -> int:
    """The end of what has happened of the window: now, for a window still under way."""
    return min(window.until_ms, max(now_ms, window.since_ms))


def is_partial(window: Window, now_ms: int) -> bool:
    """Whether the window is still under way (now falls inside it)."""
    return window.since_ms <= now_ms < window.until_ms


def compared_previous(window: Window, now_ms: int) -> Window:
    """The window it is compared with: the window of equal length just before (for a whole
    calendar month, the month before: ``Window.previous``), cut to the
    same elapsed length when ``window`` is still under way (at 04:40 on the 7th day of a
    7-day window, the previous window's first 6 days 4 h 40 min), same filters."""
    previous = window.previous()
    if not is_partial(window, now_ms):
        return previous
    elapsed = elapsed_until(window, now_ms) - window.since_ms
    return replace(previous, until_ms=previous.since_ms + max(elapsed, 1))


@dataclass(frozen=True, slots=True)
class Change:
    """One figure's change against the compared window: ``change`` is a relative change
    (0.25: +25%) or, for ratios, a difference (0.012: +1.2 points); null with ``reason``
    when there is nothing to compare with."""

    kind: str  # "relative" or "difference"
    change: float | None
    reason: str | None


def change_of(metric: str, now: float | None, before: float | None, earlier_runs: int) -> Change:
    kind = "difference" if metric in DIFFERENCES else "relative"
    if earlier_runs == 0:
        return Change(kind, None, NO_EARLIER_DATA)
    if now is None or before is None:
        return Change(kind, None, NO_VALUE)
    if kind == "difference":
        return Change(kind, now - before, None)
    if before == 0:
        return Change(kind, 0.0, None) if now == 0 else Change(kind, None, WAS_ZERO)
    return Change(kind, (now - before) / before, None)


class Figured(Protocol):
    """Figures read by the names of their definitions."""

    def figure(self, name: str) -> Any: ...


def changes(current: Figured, previous: Figured) -> dict[str, Change]:
    """Every compared figure's change, from two summaries (``runs`` of the earlier one tells
    whether it holds any data)."""
    earlier_runs = int(previous.figure("runs") or 0)
    return {
        metric: change_of(metric, current.figure(metric), previous.figure(metric), earlier_runs)
        for metric in COMPARED
    }
