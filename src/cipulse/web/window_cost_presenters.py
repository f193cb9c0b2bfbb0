"""A window's cost on the wire: its figures, before, changes, groups.

``/analytics/costs`` (and the Costs page, the overview's cost cards, the teams' ``cost``):
money as decimal text in the organisation's currency, never a float; billed minutes as
decimal text to the thousandth; the groups flat in CSV, the previous window's figures
after theirs as ``previous_*``."""

from __future__ import annotations

from typing import Any

from cipulse.analytics.questions.window_costs import (
    SAMPLE_RULE,
    CostAnswer,
    CostFigures,
    CostGroup,
)
from cipulse.domain.billing import minutes_of
from cipulse.domain.money import money_text
from cipulse.web.presenters import change_json, window_json

Json = dict[str, Any]


def _minutes(ms: int) -> str:
    return str(minutes_of(ms))


def cost_figures_json(figures: CostFigures) -> Json:
    """A window's (or a group's) cost figures: money and minutes as decimal text."""
    return {
        "cost": money_text(figures.cost_micros),
        "waste": money_text(figures.waste_micros),
        "complete": figures.complete,
        "jobs": figures.jobs,
        "billed_minutes": _minutes(figures.billed_ms),
        "unpriced_minutes": _minutes(figures.unpriced_ms),
        "waste_billed_minutes": _minutes(figures.waste_billed_ms),
        "waste_unpriced_minutes": _minutes(figures.waste_unpriced_ms),
    }


def cost_group_json(group: CostGroup) -> Json:
    return {
        "key": group.key,
        "name": group.name,
        "repository": group.repository,
        **cost_figures_json(group.figures),
        "previous": cost_figures_json(group.previous),
    }


def window_costs_json(found: CostAnswer) -> Json:
    """A window's cost and waste, before, each change, and the groups
    (``/analytics/costs``, the Costs page, the overview's cards)."""
    return {
        "currency": found.currency,
        "window": window_json(found.window),
        **cost_figures_json(found.figures),
        "previous": {
            "window": window_json(found.previous_window),
            **cost_figures_json(found.previous),
        },
        "changes": {name: change_json(change) for name, change in found.changes.items()},
        "sample": {"rule": SAMPLE_RULE, "jobs": found.figures.jobs},
        "billing": found.rules,
        "group_by": found.group_by,
        "groups": [cost_group_json(group) for group in found.groups],
    }


def window_cost_rows(found: Json) -> list[Json]:
    """The costs' CSV: one row per group (its figures, then ``previous_`` ones), in the
    organisation's currency."""
    rows = []
    for group in found["groups"]:
        row = dict(group)
        previous = row.pop("previous")
        rows.append(
            {
                "group_by": found["group_by"],
                "currency": found["currency"],
                **row,
                **{f"previous_{key}": value for key, value in previous.items()},
            }
        )
    return rows
