"""The headline figures of a summary and their change.

The headline figures of a summary, each with its change against the previous window and
whether that change is good news: more successes are, longer durations are not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cipulse.web.dashboard import rendering


@dataclass(frozen=True, slots=True)
class Kpi:
    label: str
    metric: str
    value: str
    previous: str
    #: "up", "down" or "" (no change or nothing to compare with).
    direction: str
    #: "good", "bad" or "neutral".
    verdict: str
    change: str
    help: str


#: metric, label, formatter, which direction is good (+1 up, -1 down, 0 neither), help.
KPIS: tuple[tuple[str, str, Any, int, str], ...] = (
    ("runs", "Runs", rendering.number, 0, "Run attempts started in the window"),
    ("success_rate", "Success rate", rendering.percent, 1, "success ÷ (success + failure)"),
    ("p50_duration_seconds", "p50 duration", rendering.duration, -1, "Median successful run"),
    ("p95_duration_seconds", "p95 duration", rendering.duration, -1, "95th percentile"),
    ("compute_seconds", "Compute", rendering.hours, -1, "Sum of job time"),
    ("flaky_rate", "Flaky rate", rendering.percent, -1, "Runs that passed on a retry"),
    ("mttr_seconds", "MTTR", rendering.duration, -1, "Mean time from red to green"),
)


def _change(metric: str, now: float, before: float) -> str:
    if metric in {"success_rate", "flaky_rate"}:
        points = (now - before) * 100
        return f"{points:+.1f} pts"
    if before == 0:
        return "new"
    return f"{(now - before) / before * 100:+.0f}%"


def kpi_cards(summary: dict[str, Any]) -> list[Kpi]:
    previous = summary.get("previous") or {}
    cards = []
    for metric, label, formatter, good, help_text in KPIS:
        now, before = summary.get(metric), previous.get(metric)
        direction = verdict = change = ""
        if now is not None and before is not None and now != before:
            direction = "up" if now > before else "down"
            change = _change(metric, now, before)
            sign = 1 if now > before else -1
            verdict = "neutral" if good == 0 else ("good" if sign == good else "bad")
        cards.append(
            Kpi(
                label=label,
                metric=metric,
                value=formatter(now),
                previous=formatter(before),
                direction=direction,
                verdict=verdict or "neutral",
                change=change,
                help=help_text,
            )
        )
    return cards
