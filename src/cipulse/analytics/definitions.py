"""The registry of metric definitions behind docs/metrics.md.

The registry of metric definitions: name, unit and the definition as implemented, word for
word the text of ``docs/metrics.md`` (generated from here by ``scripts/metrics_reference.py``;
a test fails when it is out of date)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    name: str
    unit: str
    definition: str


RUN_METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "runs",
        "run attempts",
        "The run attempts whose `started_at` is in the window and that pass the filters, of any "
        "status. `by_status` counts them per status.",
    ),
    MetricDefinition(
        "success_rate",
        "ratio from 0 to 1",
        "success / (success + failure + timed_out) over those attempts. Cancelled, skipped and "
        "unfinished attempts count on neither side. Null when the denominator is 0.",
    ),
    MetricDefinition(
        "first_attempt_success_rate",
        "ratio from 0 to 1",
        "Over the runs (pipeline + run id) whose attempt 1 is in the window, passes the filters "
        "and ended success, failure or timed_out: the share whose attempt 1 succeeded. Null "
        "when there is no such run.",
    ),
    MetricDefinition(
        "p50_duration_seconds",
        "seconds",
        "The median duration, by the nearest-rank method (the value at rank ⌈0.5·n⌉ of the n "
        "sorted durations), of the attempts with status success — or, when a status filter is "
        "given, with the filtered statuses. Attempts of unknown duration are left out. Null "
        "when there are none. Exact up to 64 durations; beyond, read from a mergeable "
        "histogram and within 1% of the exact value (see How figures are computed).",
    ),
    MetricDefinition(
        "p95_duration_seconds",
        "seconds",
        "As p50_duration_seconds, at rank ⌈0.95·n⌉.",
    ),
    MetricDefinition(
        "mean_duration_seconds",
        "seconds",
        "The arithmetic mean of the same durations.",
    ),
    MetricDefinition(
        "compute_seconds",
        "seconds",
        "The sum of `compute_seconds` over the attempts (an attempt of unknown compute adds "
        "0). An attempt's `compute_seconds` is what its source reports (RunWatch "
        "`compute_seconds`); when it reports none (RunWatch without the field, Trunk events, "
        "GitHub and GitLab webhooks), the sum of the durations of its job-level nodes (those "
        "directly under the run: without a parent among its nodes), unknown durations "
        "adding 0, and unknown (null, not 0) when none has a duration. Stages and steps "
        "nested in a job run within its time and are not added again "
        "(`domain/compute.py`). So for those attempts, compute equals the sum of the "
        "durations of the jobs their run page shows at the top level.",
    ),
    MetricDefinition(
        "throughput_per_day",
        "run attempts per day",
        "runs / the length of the window in days (fractional for windows that are not whole days).",
    ),
    MetricDefinition(
        "flaky_runs",
        "runs",
        'The dashboard\'s "Flaky runs": runs with an attempt that ended failure or '
        "timed_out and a later attempt (higher attempt number) that ended success. A flaky run is "
        "counted in the window of that "
        "successful attempt (the first success after a failing attempt), when that attempt "
        "passes the filters.",
    ),
    MetricDefinition(
        "flaky_rate",
        "ratio from 0 to 1",
        'The dashboard\'s "Flaky-run share": flaky_runs / the runs with at least one '
        "attempt in the window (passing the filters) that ended success, failure or timed_out. "
        "Null when there is no such run.",
    ),
    MetricDefinition(
        "retry_compute_seconds",
        "seconds",
        "The compute of the failing attempts (failure or timed_out) of the flaky runs counted, "
        "that came before their successful attempt: what flakiness cost.",
    ),
    MetricDefinition(
        "failures_by_class",
        "run attempts per class",
        "Per failure class (code, infrastructure, timeout, cancelled, unknown: the failure "
        "classes of docs/api.md), the attempts counted in `runs` whose `failure_class` is "
        "that class: every finished attempt that did not succeed and was not skipped "
        "(failure, timed_out, cancelled, …), classed from the reason its source states. An "
        "attempt stored before reasons were kept has none and counts in no class. Each "
        "class is present, 0 when none.",
    ),
)

RECOVERY_METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "mttr_seconds",
        "seconds",
        "Per pipeline and branch, the attempts that ended success, failure or timed_out are "
        "ordered by `completed_at`; attempts that ended in the same millisecond are taken "
        "successes first, so an instant with a failing attempt ends red (a red period never "
        "starts and ends at one instant). A red period starts at a failing attempt (failure "
        "or timed_out) that follows a success, or starts the history, and ends at the next "
        "success; its length runs from the first failing attempt's `completed_at` to the "
        "recovering success's `completed_at`. mttr_seconds is the mean length of the red "
        "periods that ended in the window (filters apply, except status). Null when none "
        "ended.",
    ),
    MetricDefinition(
        "red_at_end",
        "pipelines and branches",
        "The pipeline and branch pairs (filters apply, except status) whose latest attempt "
        "before the window's end that ended success, failure or timed_out was failing, each "
        "with `red_since`: the `completed_at` of the first failing attempt of its current red "
        "period, and `red_seconds_at_end`: how long it had been red at `red_at` (the window's "
        "end, or now for a window that ends now or later), never measured to today for a past "
        'window. The dashboard titles it "Red at the end of the window" for a past window.',
    ),
    MetricDefinition(
        "red_now",
        "pipelines and branches",
        "red_at_end, for a window that ends now or later (then `red_at` is now): what is red "
        "at this moment. Null for a past window. The same filters give the same figure on "
        'every page: the dashboard\'s "Red right now" list looks at default branches '
        "(`branches=default`) unless the view chose other branches, and says so.",
    ),
)

JOB_METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "runs, by_status, success_rate, p50/p95/mean_duration_seconds",
        "as for runs",
        "Per pipeline and job (a job is identified across runs by its name, for Trunk by its "
        "sequence key), over the jobs of the run attempts in the window that pass the filters, "
        "with the run definitions applied to the job executions. Each has a `level`: `job` "
        "(a node directly under the run, whatever its source calls it: a Jenkins stage at the "
        "top is a job), `stage` (a stage nested in a job) or `step` (any other nested node, "
        "such as a GitHub job's steps); a job seen at several levels takes the outermost. "
        "Job lists count the job level unless `level=stage|step|all` asks otherwise, so "
        "nested nodes, whose time is inside their job's, are not counted twice.",
    ),
    MetricDefinition(
        "failure_count",
        "job executions",
        "The executions that ended failure or timed_out.",
    ),
    MetricDefinition(
        "flaky_count",
        "runs",
        'The dashboard\'s "Flaky runs" of a job: the flaky runs counted in the window in '
        "which this job ended failure or timed_out in a failing attempt and success in the "
        "successful attempt.",
    ),
    MetricDefinition(
        "failures_passed_on_retry",
        "job executions",
        "The failing executions (failure or timed_out) after which this job ended success in "
        "a later attempt of the same run, whenever that attempt started; counted in the "
        "window of the failing execution, so it is at most failure_count. A run whose job "
        "failed in attempts 1 and 2 and passed in attempt 3 counts 2 here.",
    ),
    MetricDefinition(
        "failures_by_class (jobs)",
        "job executions per class",
        "As the run figure failures_by_class, over the job's executions: per failure class, "
        "those whose `failure_class` is that class (a job that failed in an attempt that "
        "passed, such as a GitLab job allowed to fail, counts too). A job list sorts by one "
        "class as `sort=-failed_<class>` (e.g. `-failed_infrastructure`).",
    ),
    MetricDefinition(
        "total_duration_seconds",
        "seconds",
        "The sum of the executions' durations (unknown durations add 0). At the job level, "
        "summed over the jobs of attempts whose compute is derived (see compute_seconds), it "
        "equals their compute.",
    ),
    MetricDefinition(
        "exclusive_seconds",
        "seconds",
        "Summed over attempts: the time in which this job was the only job of its attempt "
        "running, between its `started_at` and `completed_at` (the part of the pipeline's "
        "wall time that only this job can shorten). Only the jobs directly under the run "
        "count (the stages and steps of a Trunk tree run inside them); jobs of unknown start "
        "or end take no part.",
    ),
    MetricDefinition(
        "mean_queue_seconds",
        "seconds",
        "The arithmetic mean of the executions' queue time (`jobs.queue_seconds`, kept as "
        "their `queue_seconds` metric too): GitHub's `started_at` minus `created_at`, GitLab's "
        "`queued_duration`, Trunk's `queue_ms` or `init_ms`, RunWatch's `queued_seconds` "
        '(docs/api.md, "cipulse extensions: queue time and runners"). The sample is the '
        "executions that carry it, whatever their status; one without it (a source that does "
        "not say, a job that never started) is unknown and left out, not counted as 0. Null "
        "when none carries it.",
    ),
    MetricDefinition(
        "p50_queue_seconds, p95_queue_seconds",
        "seconds",
        "The 50th and 95th percentile (nearest rank) of the executions' queue time, over the "
        "same sample as mean_queue_seconds. Exact up to 64 executions; beyond, within 1% of the "
        "exact value, from a mergeable histogram (see How figures are computed). Null "
        "when none carries a queue time.",
    ),
    MetricDefinition(
        "total_queue_seconds",
        "seconds",
        "The sum of the executions' queue time, over the same sample as mean_queue_seconds: "
        "the time the job spent waiting for a runner. Null (unknown, not 0) when none carries "
        "a queue time.",
    ),
    MetricDefinition(
        "flaky_runs_per_execution (flaky jobs)",
        "flaky runs per job execution",
        "In the flaky-jobs ranking: flaky_count / the job's executions in the window (the "
        'dashboard\'s "Flaky runs per execution"; `flaky_rate` there is the same figure '
        "under its old name, kept for existing clients). retry_compute_seconds there is the "
        "compute of the failing attempts of the flaky runs in which the job flipped.",
    ),
    MetricDefinition(
        "series (a job's page)",
        "figures per bucket",
        "A job's page (`/jobs/{pipeline}/{job}`, `GET /api/v1/jobs/{pipeline_id}/{job}`) "
        "gives the job's figures above over the window, which equal its row of the job list "
        "for the same window and filters (at any level), and the same figures per hour, day "
        "or week of the window (UTC buckets, empty ones included, `partial` for the one "
        "under way), each computed over the part of the window in the bucket, so the "
        "buckets' counts add up to the window's. `flaky_runs_per_execution` there is the "
        "bucket's flaky_count / its executions (null without executions).",
    ),
    MetricDefinition(
        "latest_failures (a job's page)",
        "job executions",
        "The job's page shows failures_by_class (jobs), the same figure as its row in the "
        "Jobs list, and lists the latest 20 of those executions (the ones that carry a "
        "failure class), newest attempt first, each with its run attempt, reason and "
        "failing step.",
    ),
    MetricDefinition(
        "places: branches, runners (a job's page)",
        "job executions",
        "The job's executions in the pipeline's latest 300 attempts of the window "
        "(`sampled_executions`), counted per branch and per runner, most first. An "
        "execution's runner is its label set (`jobs.runner_labels`, docs/api.md), else its "
        "runner's name; for executions stored before jobs kept them, the first of its job's "
        "tags `runner_labels` (GitHub), `runner_tags` (GitLab), `runner`, `runner_name`, else "
        "of its attempt's tags. Executions naming none are left out of the runners.",
    ),
)

#: How long jobs waited for a runner, over a window (``/analytics/waits``, the overview).
WAIT_METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "waited_jobs",
        "job executions",
        "The executions of jobs (directly under their run, as in the Jobs list) in the "
        "window's attempts that carry a queue time (`jobs.queue_seconds`; see "
        "mean_queue_seconds for where each source's comes from): the sample of the figures "
        "below. Executions whose CI system does not say are left out, not counted as 0.",
    ),
    MetricDefinition(
        "p50_queue_seconds, p95_queue_seconds (waits)",
        "seconds",
        "The 50th and 95th percentile (nearest rank) of those executions' queue times, over "
        "every job: exact up to 64, within 1% beyond. Null when none waited.",
    ),
    MetricDefinition(
        "mean_queue_seconds, total_queue_seconds (waits)",
        "seconds",
        "The mean and the sum of those queue times: the sum is the time jobs spent waiting "
        "for a runner, the sum of the Jobs list's total_queue_seconds. Null when none "
        "waited. Each figure's change is relative, against the compared window (the "
        "summary's rules); with no wait in the compared window: no_earlier_data.",
    ),
    MetricDefinition(
        "running_seconds, waiting_share (waits)",
        "seconds, ratio",
        "`running_seconds`: the sum of the durations of every execution of the window's "
        "attempts (jobs directly under their run, waited or not; unknown add 0), the runner "
        "rollup's job_seconds. `waiting_share` = total_queue_seconds / (total_queue_seconds "
        "+ running_seconds): how much of CI's job time was spent waiting for a runner, as a "
        "run's time_split has it for one attempt. Executions whose CI system gives no queue "
        "time add their running time and no wait. Null when total_queue_seconds is (no "
        "execution says) or both are 0. Its change is a difference (points), against the "
        "compared window.",
    ),
)

TRIAGE_METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "turned_red",
        "yes or no",
        "A run attempt turned its branch red when it starts a red period (see mttr_seconds): "
        "it ended failure or timed_out on its repository's default branch, and the outcome "
        "before it of the same pipeline and branch (in the red periods' order) was a success, "
        "or there was none. `verdict` says `turned_red`, `still_red` (the outcome before it "
        "failed too), `not_default_branch` or `not_failed`. `previous_green` is the latest "
        "attempt of the same pipeline and branch that ended success at or before it; the "
        "changes are the commits and pull requests of the attempts of that pipeline and branch "
        "that ended after it, up to this one (this one's own when there is no previous green "
        "attempt), newest first, 50 of each listed and the rest counted.",
    ),
    MetricDefinition(
        "usual_duration_seconds",
        "seconds",
        "Per job of a run attempt (a node directly under the run, identified across runs as "
        "in the job metrics): the median, by the nearest-rank method, of the durations of that "
        "job's executions that ended success in the latest 200 attempts of the same pipeline "
        "and branch that ended in the 30 days before this attempt started (whatever those "
        "attempts' status; executions of unknown duration left out). `usual_sample` is how "
        "many durations that is. Null when there are none. `change` is the job's duration "
        "here / usual_duration_seconds - 1 (0.85: 85% slower than usual), null when either "
        "is unknown.",
    ),
)

#: Run figures that are a breakdown, not one number: no series charts them.
BREAKDOWNS = ("failures_by_class",)
METRIC_NAMES = tuple(metric.name for metric in RUN_METRICS if metric.name not in BREAKDOWNS)
#: What a time series can chart: every run metric, and mttr_seconds.
SERIES_METRICS = (*METRIC_NAMES, "mttr_seconds")

#: A pull request's figures (``domain/pull_requests.py``) and the organisation's over them.
PULL_REQUEST_METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition(
        "pull requests (the window's)",
        "pull requests",
        "A pull or merge request is its repository plus its number; its attempts are every "
        "stored attempt that names that number (`pull_request_number`) in that repository, "
        "whenever it started. A window's pull requests are those whose runs span reaches into "
        "it: the first of its attempts started before the window's end and the last at or "
        "after its start; with filters other than `repository` (`pipeline`, `author`…), "
        "also at least one of its attempts that started in the window passes them. Each "
        "one's figures below are over all its attempts, in the window or not, so they do "
        "not change with the window that lists it; attempts of unknown start count in them "
        "but not for the span.",
    ),
    MetricDefinition(
        "runs / attempts / reruns",
        "runs / attempts",
        "`runs`: its distinct runs (pipeline + run id); `attempts`: its attempts, of any "
        "status; `reruns`: the attempts with an attempt number above 1 (a re-run of a "
        "workflow, a GitLab retry round).",
    ),
    MetricDefinition(
        "ci_seconds",
        "seconds",
        "The sum of its attempts' durations, every update and retry included (unknown "
        "durations add 0).",
    ),
    MetricDefinition(
        "compute_seconds (pull request)",
        "seconds",
        "The sum of its attempts' compute (see compute_seconds); null when no attempt has a "
        "known compute.",
    ),
    MetricDefinition(
        "time_to_green_head_seconds",
        "seconds",
        "The head commit is the commit SHA of its latest-started attempt that names one. "
        "From the start of the head commit's first-started attempt to the end "
        "(`completed_at`) of its first-started attempt whose status is success (a retry "
        "that passed counts). Null (unknown, not 0) when no attempt of the head commit "
        "succeeded, or none names a commit.",
    ),
    MetricDefinition(
        "time_to_green_seconds",
        "seconds",
        "From the start of its first attempt to the end of its last green attempt: the "
        "successful attempt that completed last. Null when none succeeded.",
    ),
    MetricDefinition(
        "*_p50 / *_p90 (pull requests summary)",
        "seconds",
        "Over the window's pull requests: the nearest-rank p50 and p90 (exact) of "
        "ci_seconds, compute_seconds, time_to_green_head_seconds and time_to_green_seconds, "
        "each over the pull requests for which it is known (null when none). `previous` "
        "gives the same for the compared window (like with like, as for the summary), and "
        "`changes` the relative change, `no_earlier_data` when that window has no pull "
        "request.",
    ),
)
