"""The definitions of cost in money: billed minutes, rates, cost, waste.

Registered beside ``definitions.py``'s (docs/metrics.md, "Cost in money", is generated from
both): what a run attempt's and a pull request's cost are, as ``domain/billing.py`` and
``domain/costs.py`` compute them, and a window's, as ``domain/window_costs.py`` does."""

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
    MetricDefinition(
        "cost, waste (window)",
        "currency",
        "`GET /api/v1/analytics/costs`, the Costs page, the overview. Over the job executions "
        "directly under their run of the attempts started in the window (as the Runners "
        "list counts them: `jobs` is that sample; each counted on the UTC day its attempt "
        "started), from the runner rollup: per pipeline, runner label set and rate span (the "
        "days from one effective day of the rate card to the next: no rate starts or ends "
        "inside one), the billed minutes by the pipeline's provider's rule (the provider of "
        "its latest attempt: GitHub rounds each job up, others exact) priced at the rate in "
        "effect in that span for that provider and label set, rounded half to even to a "
        "micro-unit once per part, and added up: a rate change mid-window prices the days "
        "before it at the old rate and those from it on at the new one. `cost` is the cost of the "
        "priced minutes; null only when minutes were billed and none is priced. `waste`: the "
        "same over the executions of attempts that failed, timed out or were cancelled, or "
        "that a later attempt of their run superseded (so the failed attempts of flaky runs, "
        "retried until they passed); a job that failed inside an attempt that passed is not "
        "waste. A job still running (no duration) adds 0 minutes. It can differ from the sum "
        "of the runs' costs in three ways: a job is priced at the rate of its attempt's "
        "start day, not its own; exact minutes are rounded once per part, not per job (less "
        "than a micro-unit per part); and a run with an unpriced job still adds its priced "
        "jobs here. Compared with the previous window (relative changes of `cost`, `waste`, "
        "`billed_minutes`, `unpriced_minutes`).",
    ),
    MetricDefinition(
        "unpriced_minutes (window)",
        "minutes",
        "The billed minutes no rate prices: of executions whose CI named no runner label set, "
        "or whose label set no rate of their provider matches on that day. Never priced as "
        "0: `complete` is false while any minute is unpriced, and a group all of whose "
        "minutes are unpriced has a null `cost`. `waste_unpriced_minutes`: of the waste.",
    ),
    MetricDefinition(
        "groups (costs)",
        "-",
        "`group_by=pipeline` (the default), `repository`, `label_set` (null: none named), "
        "`team` (the team of each pipeline, by the pipeline's owner: job rules do not split "
        "a pipeline's cost; `unowned`: of no team; every team the rules name is listed, at 0 "
        "when nothing was billed) or `branch_scope` (`default` / `other`, "
        "as `branches=`; a single branch is not kept in the rollup: `branch=NAME` filters "
        "the window, read from the raw rows). Each group's figures are sums of its parts', "
        "so the groups add up to the window's; ranked by cost, most first, then billed "
        "minutes; each with `previous`, the compared window's.",
    ),
)
