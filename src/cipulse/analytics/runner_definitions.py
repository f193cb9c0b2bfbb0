"""Definitions of runner figures, queue by hour and a run's time split.

Part of the registry of metric definitions (``definitions.py``), kept beside it for
length: word for word the "Runners" section of docs/metrics.md."""

from __future__ import annotations

from cipulse.analytics.definitions import MetricDefinition

RUNNER_METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "label_set, jobs, by_status (runners)",
        "job executions",
        "`/analytics/runners` and the Runners page: per runner **label set** "
        "(`jobs.runner_labels`, written one way: docs/api.md), the executions of the jobs "
        "directly under their run (the job level, as waited_jobs counts) of the window's "
        "attempts that pass the filters (`repository`, `pipeline`, `branches`, … as for runs; "
        "the `job` and `level` filters of the job list do not apply). Executions whose CI "
        "system named no label set form one more row, `label_set` null (`label_set_name` "
        "`unknown`). `by_status` counts them per status.",
    ),
    MetricDefinition(
        "failure_rate, infrastructure_failure_rate (runners)",
        "ratio from 0 to 1",
        "Over the label set's executions that ended success, failure or timed_out "
        "(`decided_jobs`, the sample): (failure + timed_out) / decided_jobs, and the "
        "executions whose failure class is `infrastructure` (failures_by_class (jobs): a lost "
        "runner, out of memory…) / decided_jobs. Null without a decided execution.",
    ),
    MetricDefinition(
        "p50/p95_duration_seconds (runners)",
        "seconds",
        "Nearest rank of the durations of the label set's executions that ended success "
        "(`duration_sample`): exact up to 64, within 1% beyond. Null without one.",
    ),
    MetricDefinition(
        "waited_jobs, p50/p95_queue_seconds, total_queue_seconds (runners, pipelines)",
        "seconds",
        "Over the label set's executions that carry a queue time (`waited_jobs`; see "
        "mean_queue_seconds), the nearest-rank p50 and p95 and the sum; null when none "
        "waited. The Pipelines list gives the same four per pipeline, over all its label "
        "sets: summed over pipelines they equal the waits answer.",
    ),
    MetricDefinition(
        "busy_hours_by_hour, busy_hours, mean_busy_runners_by_hour",
        "hours; runners",
        "How saturated a pool is: each execution's running time, from its `started_at` to "
        "its `completed_at` (executions missing either, or ending before they start, add "
        "nothing), cut at UTC hour boundaries and added to the hour of day (0 to 23) of each "
        "part, over the window's executions (an execution counts whole with its attempt's "
        "start, as every figure does). `busy_hours` is their sum. `mean_busy_runners_by_hour` "
        "divides each hour's busy hours by how many times that hour of day falls in the "
        "window (whole or in part; a 7-day window holds each 7 times): the runners of the "
        "label set busy at that hour on an average day. The Runners page draws it as a strip "
        "of 24 cells, darker when busier, on one scale for all rows.",
    ),
    MetricDefinition(
        "job_seconds, billable_minutes, waste_job_seconds, waste_billable_minutes",
        "seconds; minutes",
        "The sum of the executions' durations (unknown add 0), and of each rounded up to a "
        "whole minute (GitHub bills each job so: 61 s is 2 minutes, 0 s or unknown 0). The "
        "waste_ ones sum the same over the executions of **waste** attempts: attempts that "
        "ended failure, timed_out or cancelled, or that a later attempt of the same run "
        "superseded (a retry, whatever either ended). A rate per label set multiplies the "
        "minutes (cost in money).",
    ),
    MetricDefinition(
        "runners (a label set's)",
        "job executions",
        "`/analytics/runners/names?label_set=…` and a label set's page: its executions (jobs "
        "directly under their run) in the window's latest 1,000 attempts (`sampled_attempts`, "
        "`sampled_executions`), counted per `runner_name` (null: unnamed), most first, top "
        "50, with the figures above over each runner's executions (`busy_seconds`: their "
        "running time). Hosted runners (GitHub's `ubuntu-latest`, GitLab's SaaS runners) get "
        "a new, ephemeral name per job, so their names say little; self-hosted runners keep "
        "theirs. `label_set=` (empty) reads the executions whose CI named none.",
    ),
    MetricDefinition(
        "queue by hour of day",
        "seconds per hour of day",
        "`/analytics/runners/hours` (optionally for one `label_set`): 24 buckets, one per UTC "
        "hour of day, of the waits above, each counted in the hour the execution was queued "
        "(its `started_at` less its queue time): waited_jobs, p50/p95 and total queue "
        "seconds per bucket, over the window's days together.",
    ),
    MetricDefinition(
        "time_split (a run)",
        "seconds",
        "`GET /api/v1/runs/{id}` and the run page split the attempt's job time in two, summed "
        "over its jobs directly under the run (stages and steps are inside their job's time): "
        "`running_seconds`, the sum of their durations (unknown add 0); `waiting_seconds`, "
        "the sum of their queue times, over the `waited_jobs` of `jobs` that carry one (null "
        "when none does: unknown, not 0); `waiting_share` = waiting / (waiting + running), "
        "null when waiting is unknown or both are 0. Jobs run in parallel, so the sum is job "
        "time, not the attempt's wall-clock duration.",
    ),
)
