"""Costs on the wire: a run's, a pull request's, and a rate card.

How costs are named in JSON (``/runs/{id}``'s and a pull request's ``cost``, and
``/rates``; a window's is ``window_cost_presenters.py``'s): money as decimal text in the
organisation's currency (``"0.012"``, never a float, so no client adds it up with drift),
billed minutes as decimal text too, unknown costs null with the reason per job."""

from __future__ import annotations

from typing import Any

from cipulse.accounts.rates import RateCard
from cipulse.analytics.questions.costs import AttemptCost, PullRequestCost
from cipulse.domain.billing import Rate, minutes_of, rounding_rule
from cipulse.domain.costs import PricedJob
from cipulse.domain.money import money_text

Json = dict[str, Any]


def rate_json(rate: Rate) -> Json:
    return {
        "provider": rate.provider,
        "pattern": rate.pattern,
        "effective": rate.effective.isoformat(),
        "price": money_text(rate.price_micros),
        "platform": money_text(rate.platform_micros),
        "billing": rounding_rule(rate.provider),
    }


def rate_card_json(card: RateCard) -> Json:
    """An organisation's rate card (``GET /rates``)."""
    return {"currency": card.currency, "rates": [rate_json(rate) for rate in card.rates]}


def _job_json(job: PricedJob) -> Json:
    minutes = job.billed_minutes
    return {
        "id": job.id,
        "name": job.name,
        "runner_labels": job.labels,
        "billed_minutes": None if minutes is None else str(minutes),
        "rate": None if job.rate is None else rate_json(job.rate),
        "cost": money_text(job.cost_micros),
        "missing": job.missing,
    }


def attempt_cost_json(cost: AttemptCost) -> Json:
    """One attempt's cost: the total, its billed minutes, the waste, each job's cost."""
    return {
        "currency": cost.currency,
        "total": money_text(cost.total_micros),
        "billed_minutes": None if cost.billed_ms is None else str(minutes_of(cost.billed_ms)),
        "billing": cost.rounding,
        "waste": money_text(cost.waste_micros),
        "wasted": cost.waste,
        "superseded": cost.superseded,
        "unpriced_jobs": [job.name for job in cost.unpriced],
        "jobs": [_job_json(job) for job in cost.jobs],
    }


def pull_request_cost_json(cost: PullRequestCost) -> Json:
    """A pull request's cost over its attempts, the waste among them, the unpriced jobs."""
    return {
        "currency": cost.currency,
        "total": money_text(cost.total_micros),
        "waste": money_text(cost.waste_micros),
        "attempts": cost.attempts,
        "complete": cost.complete,
        "unpriced_jobs": cost.unpriced_jobs,
        "unpriced": [
            {
                "attempt_id": job.attempt_id,
                "name": job.name,
                "runner_labels": job.labels,
                "missing": job.missing,
            }
            for job in cost.unpriced
        ],
    }
