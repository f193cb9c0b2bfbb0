"""Teams on the wire: ranked rows, their figures now and before, the teams.

The teams question's rows (``analytics/questions/teams.py``) named as the read API answers
them, as JSON (the previous window's figures nested) and as CSV (flat, ``previous_`` first).
``cost`` and ``waste`` are the team's pipelines' (``/analytics/costs`` with ``group_by=team``)
in the answer's ``currency``: decimal text, null when none of their billed time is priced."""

from __future__ import annotations

from cipulse.accounts.teams import TeamSummary
from cipulse.analytics.questions.summary import bounds_of
from cipulse.analytics.questions.teams import TeamFigures, TeamRow, TeamsAnswer
from cipulse.domain.billing import minutes_of
from cipulse.domain.money import money_text
from cipulse.web.presenters import Json, window_json


def team_figures_json(figures: TeamFigures) -> Json:
    return {
        "compute_seconds": figures.compute_seconds,
        "runs": figures.runs,
        "decided_runs": figures.decided_runs,
        "failed_runs": figures.failed_runs,
        "failure_rate": figures.failure_rate,
        "flaky_runs": figures.flaky_runs,
        "red_seconds": figures.red_seconds,
        "recovered_periods": figures.recovered_periods,
        "red_at_end": figures.red_at_end,
        # The pipelines' cost and waste at the rate card (money as decimal text).
        "cost": money_text(figures.cost.cost_micros),
        "waste": money_text(figures.cost.waste_micros),
        "cost_complete": figures.cost.complete,
        "billed_minutes": str(minutes_of(figures.cost.billed_ms)),
        "unpriced_minutes": str(minutes_of(figures.cost.unpriced_ms)),
    }


def team_row_json(row: TeamRow) -> Json:
    """A team's row (``/analytics/teams``, the Teams page)."""
    return {
        "team": row.team,
        "unowned": row.unowned,
        "pipelines": row.pipelines,
        **team_figures_json(row.figures),
        "previous": team_figures_json(row.previous),
    }


def team_row_csv(row: TeamRow) -> Json:
    """A team's row as one flat CSV line: the figures, then the previous window's."""
    found = team_row_json(row)
    previous = found.pop("previous")
    return {**found, **{f"previous_{key}": value for key, value in previous.items()}}


def teams_json(answer: TeamsAnswer, items: list[TeamRow], next_cursor: str | None) -> Json:
    return {
        "items": [team_row_json(row) for row in items],
        "next_cursor": next_cursor,
        "currency": answer.currency,
        "window": window_json(bounds_of(answer.window)),
        "previous_window": window_json(bounds_of(answer.previous_window)),
        "ranking": "compute_seconds, most first; unowned last",
    }


def team_summary_json(team: TeamSummary) -> Json:
    return {"team": team.name, "pipelines": team.pipelines}
