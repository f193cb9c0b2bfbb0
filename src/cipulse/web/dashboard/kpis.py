"""The headline figures of a summary and their change.

The headline figures of a summary, each with its change against the previous window and
whether that change is good news: more successes are, longer durations are not."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cipulse.analytics.questions.waits import Waits
from cipulse.web.dashboard import rendering
from cipulse.web.presenters import waits_json


@dataclass(frozen=True, slots=True)
class Kpi:
    label: str
    metric: str
    value: str
    previous: str
    #: "up", "down" or "" (no change, or nothing to compare with: ``change`` says which).
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
    (
        "compute_seconds",
        "Compute",
        rendering.hours,
        -1,
        "Compute time of the runs (reported, or the sum of their jobs' durations)",
    ),
    (
        "flaky_rate",
        "Flaky-run share",
        rendering.percent,
        -1,
        "Share of runs that failed and then passed on a retry",
    ),
    ("mttr_seconds", "MTTR", rendering.duration, -1, "Mean time from red to green"),
)


#: What a card says when there is no change to show, by the summary's ``reason``.
NO_CHANGE_NOTES = {
    "no_earlier_data": "no earlier data",
    "no_value": "nothing to compare",
    "was_zero": "was 0 before",
}


def _change_text(change: dict[str, Any]) -> str:
    value = change["change"]
    if change["kind"] == "difference":
        points = value * 100
        return f"{points:+.2f} pts" if abs(points) < 0.05 else f"{points:+.1f} pts"
    return f"{value * 100:+.0f}%"


def _compared_with(summary: dict[str, Any]) -> str:
    """What the previous figure is of: the previous window, or, while this one is still
    under way, the same elapsed time of it."""
    window = summary.get("window") or {}
    earlier = (summary.get("previous") or {}).get("window") or {}
    if not window.get("partial") or not earlier.get("days"):
        return "previous"
    return f"previous, first {rendering.duration(earlier['days'] * 86400)}"


#: The overview's wait cards, from ``/analytics/waits`` (job queue times), like ``KPIS``.
WAIT_KPIS: tuple[tuple[str, str, Any, int, str], ...] = (
    ("p50_queue_seconds", "p50 wait", rendering.duration, -1, "Median wait of a job for a runner"),
    ("p95_queue_seconds", "p95 wait", rendering.duration, -1, "95th percentile of job waits"),
    (
        "total_queue_seconds",
        "Waiting",
        rendering.hours,
        -1,
        "Time jobs spent waiting for a runner, of those whose CI system says",
    ),
    (
        "waiting_share",
        "Share waiting",
        rendering.percent,
        -1,
        "Of the jobs' time waiting plus running, the part spent waiting for a runner",
    ),
)


def kpi_cards(
    summary: dict[str, Any], figures: tuple[tuple[str, str, Any, int, str], ...] = KPIS
) -> list[Kpi]:
    """The cards, each with its change as the summary's ``changes`` give it: a number only
    when there is something to compare with, else what is missing ("no earlier data");
    ``figures``: which cards (the waits' for ``/analytics/waits``)."""
    previous = summary.get("previous") or {}
    changes = summary.get("changes") or {}
    compared = _compared_with(summary)
    cards = []
    for metric, label, formatter, good, help_text in figures:
        now, before = summary.get(metric), previous.get(metric)
        change = changes.get(metric) or {"kind": "relative", "change": None, "reason": "no_value"}
        direction = verdict = ""
        if change["change"] is None:
            text = NO_CHANGE_NOTES.get(change["reason"] or "", "nothing to compare")
        elif change["change"] == 0:
            text = "no change"
        else:
            direction = "up" if change["change"] > 0 else "down"
            text = _change_text(change)
            sign = 1 if change["change"] > 0 else -1
            verdict = "neutral" if good == 0 else ("good" if sign == good else "bad")
        cards.append(
            Kpi(
                label=label,
                metric=metric,
                value=formatter(now),
                previous=f"{compared} {formatter(before)}",
                direction=direction,
                verdict=verdict or "neutral",
                change=text,
                help=help_text,
            )
        )
    return cards


def wait_cards(waits: Waits) -> list[Kpi]:
    """The overview's wait cards; none when no job in either window says how long it
    waited (its CI system does not tell: nothing to show, rather than zeros)."""
    if not (waits.figures.waited_jobs or waits.previous.waited_jobs):
        return []
    return kpi_cards(waits_json(waits), WAIT_KPIS)


def money_shown(text: str | None, currency: str) -> str:
    """Money (decimal text) as a card shows it: whole cents from 1 on, every digit below
    (a few cents of CI must not read as 0.00); ``unknown`` when null."""
    if text is None:
        return "unknown"
    amount = Decimal(text)
    shown = f"{amount:,.2f}" if abs(amount) >= 1 else f"{amount.normalize():f}"
    return f"{shown} {currency}"


def minutes_shown(text: str | None) -> str:
    """Minutes (decimal text) to the tenth below 100, whole from then on."""
    if text is None:
        return "unknown"
    amount = Decimal(text)
    if amount >= 100:
        return f"{amount:,.0f} min"
    tenths = f"{amount.quantize(Decimal('0.1')):f}"
    return f"{tenths.removesuffix('.0')} min"


def cost_cards(costs: dict[str, Any]) -> list[Kpi]:
    """The overview's cost cards (``/analytics/costs``): cost, waste and, when some are,
    the minutes no rate prices; none when neither window billed a minute."""
    if not (Decimal(costs["billed_minutes"]) or Decimal(costs["previous"]["billed_minutes"])):
        return []
    currency = costs["currency"]

    def money(text: str | None) -> str:
        return money_shown(text, currency)

    figures: list[tuple[str, str, Any, int, str]] = [
        ("cost", "Cost", money, -1, "CI minutes priced at the rate card (Settings, Rates)"),
        ("waste", "Waste", money, -1, "Cost of failed, cancelled and retried attempts"),
    ]
    if Decimal(costs["unpriced_minutes"]):
        figures.append(
            ("unpriced_minutes", "Unpriced", minutes_shown, -1, "Billed minutes with no rate")
        )
    return kpi_cards(costs, tuple(figures))
