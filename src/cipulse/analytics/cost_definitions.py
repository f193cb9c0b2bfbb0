"""The definitions of cost in money: billed minutes, rates, cost, waste.

Registered beside ``definitions.py``'s (docs/metrics.md, "Cost in money", is generated from
both): what a run attempt's and a pull request's cost are, as ``domain/billing.py`` and
``domain/costs.py`` compute them."""

from __future__ import annotations

from cipulse.analytics.definitions import MetricDefinition

COST_METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "billed_minutes",
        "minutes",
        "Per job directly under its run (nested stages and steps run inside their job's time "
        "and are not billed again): its duration as its provider bills it. `github`: each "
        "job's duration rounded up to the whole minute (61 s are 2 minutes; 0 s are 0). Every "
        "other provider (`gitlab` included): the exact duration in minutes, unrounded (GitLab "
        "counts duration / 60 * the runner's cost factor with no rounding stated; cipulse "
        "folds the cost factor into the rate). A job that never ran is 0 (skipped, or "
        "cancelled with neither a start nor a duration); another of unknown duration is "
        "unknown. A run's billed minutes are its jobs' sum, shown to the "
        "thousandth; null when any job's is unknown.",
    ),
    MetricDefinition(
        "rate",
        "currency per minute",
        "The organisation's rate card prices a job by its run's provider and its runner "
        "label set (`jobs.runner_labels`) on the UTC day it started (its attempt's start day "
        "when the job has none). A rate is for one provider or `*` (every provider) and a "
        "pattern: an exact label set, or text with `*` for any text (`*gpu*`; `*` alone: "
        "every known label set); it holds a price and a platform charge per minute and "
        "applies from its effective day on: of one provider and pattern's rates, the latest "
        "whose day is not after the job's. Among the matching patterns, an exact label set "
        "comes before any pattern, then the pattern with more characters other than `*`, then "
        "the job's provider before `*`. A job of unknown label set matches none.",
    ),
    MetricDefinition(
        "cost (run attempt)",
        "currency",
        "The sum over its jobs of billed milliseconds * (price + platform charge) / 60,000, "
        "each job's rounded half to even to one millionth of the currency; money is exact "
        "(integer micro-units, decimal text in the API, never a float). Unknown (null, never "
        "0 or a partial sum) when any job's billed minutes or rate is unknown: "
        "`unpriced_jobs` names those jobs and each job's `missing` says why.",
    ),
    MetricDefinition(
        "waste (run attempt)",
        "currency",
        "The attempt's cost when it failed, timed out or was cancelled, or was superseded by "
        "a later attempt of its run (a retry), whatever its own status (`wasted`, "
        "`superseded`); else 0. Null when it is waste and its cost is unknown.",
    ),
    MetricDefinition(
        "cost, waste (pull request)",
        "currency",
        "The sum of the costs of every stored attempt of the pull request, and of those "
        "that are waste, computed from their jobs when asked (at most 500 attempts: beyond, "
        "both are unknown and `complete` is false). Null when any of its jobs' cost is "
        "unknown; `unpriced_jobs` counts those jobs and `unpriced` names the first 20.",
    ),
)
