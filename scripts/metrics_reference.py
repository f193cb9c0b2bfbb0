"""Generate ``docs/metrics.md`` from the registry of metric definitions, so the documented
definitions are the implemented ones word for word.

    python scripts/metrics_reference.py          # rewrite docs/metrics.md
    python scripts/metrics_reference.py --check  # exit 1 if it is out of date (tests do this)
"""

from __future__ import annotations

from pathlib import Path

from generated_docs import write_or_check

from cipulse.analytics.cost_definitions import COST_METRICS
from cipulse.analytics.definitions import (
    JOB_METRICS,
    PULL_REQUEST_METRICS,
    RECOVERY_METRICS,
    RUN_METRICS,
    TRIAGE_METRICS,
    WAIT_METRICS,
    MetricDefinition,
)
from cipulse.analytics.runner_definitions import RUNNER_METRICS
from cipulse.analytics.team_definitions import TEAM_METRICS
from cipulse.analytics.test_definitions import TEST_METRICS, TEST_RULES

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
HEADER = """# Metric definitions

Generated from `src/cipulse/analytics/definitions.py` by `scripts/metrics_reference.py`; a test
fails when this page and the code disagree. The read API serves the same list at
`GET /api/v1/analytics/definitions`.

## The unit, the window and the filters

The unit is a **run attempt** (one execution of a pipeline: run id + attempt number). A **run**
is a pipeline plus a run id (RunWatch `run_id`, Trunk `chainId`) with all its attempts.

The window `[since, until)` applies to the attempt's `started_at`. The default is the 30 whole
UTC days that end with today (today included): `until` is the coming UTC midnight and `since`
30 days before; `days=N` sets another length, `since` and `until` any times. Filters narrow
the attempts: `repository` (owner/name, any letter case),
`pipeline` (its id or its name), `team` (the pipelines a team owns; see Teams), `branch`,
`branches` (`default`: attempts on their
repository's default branch, the one an integration or `cipulse repos set-default-branch`
named, else `main` or `master`; `other`: all other attempts, those without a branch included),
`provider`, `status` (comma-separated), `actor`, `triggered_by`, and `tag=key:value` (on the
run attempt's tags; repeatable; all must match). Every metric
below is computed over the attempts that are in the window and pass the filters, except where
its definition reaches for other attempts of the same runs (retries may cross the window's
edge).

A window **still under way** (now falls inside it, as in every dashboard range: they end at
the coming midnight, or the coming hour for 24 hours) holds only what has happened so far:
its summary says `window.partial: true` and `window.elapsed_until` (now). Such a window is
compared like with like: each summary carries `previous`, the same metrics for the window of
equal length just before, with the same filters, **cut to the same elapsed length** (at 04:40
on the last day of a 7-day window, the previous window's first 6 days 4 h 40 min); a window
that has ended is compared with the whole window before it. A window that is a whole UTC
calendar month (from the 1st at 00:00 to the next month's 1st: the dashboard's "This month"
and "Last month") is compared with the calendar month before it instead, whatever their
lengths (March with February), cut the same way while it is under way (on December 8 at
01:00, December so far against November 1 to November 8 at 01:00). `throughput_per_day` of
a window under way is per elapsed day. In a time series, `partial: true` marks the bucket
still under way (today, this hour), and every dashboard chart shades it and labels it "so
far".

`changes` gives, per figure, `{kind, change, reason}`: `kind` `relative` (0.25 is +25%) or,
for the ratios (`success_rate`, `first_attempt_success_rate`, `flaky_rate`,
`waiting_share`), `difference` (in ratio units: 0.012 is +1.2 percentage points). `change`
is null, with a `reason`, when there is nothing to compare with: `no_earlier_data` (the
compared window holds no run attempt; the dashboard says "no earlier data", never "no
change" or a percentage), `no_value` (either figure is null) or `was_zero` (a relative
change from 0). A change of 0 is "no change".

## Run metrics

| Metric | Unit | Definition |
|---|---|---|
"""


RECOVERY_HEADER = """
## Recovery

| Metric | Unit | Definition |
|---|---|---|
"""

JOB_HEADER = """
## Jobs

| Metric | Unit | Definition |
|---|---|---|
"""

TRIAGE_HEADER = """
## Run triage

The run page and `GET /api/v1/runs/{id}`'s `triage` (`docs/api.md`): what a run did to its
branch, what changed since its previous green run, and each job's duration against its usual
one.

| Metric | Unit | Definition |
|---|---|---|
"""

PULL_REQUEST_HEADER = """
## Pull requests

`GET /api/v1/pull-requests` lists them, `/pull-requests/summary` gives the organisation's figures
and the dashboard's Pull requests page shows both. A source that names no pull request (a push,
a schedule, most Trunk runs) adds no pull request. Whether a pull request is open, merged or
closed is not known: no source cipulse reads says so on a run.

| Metric | Unit | Definition |
|---|---|---|
"""

WAIT_HEADER = """
## Waiting for runners

`GET /api/v1/analytics/waits` and the overview's wait cards: over every job of the window,
with the previous window and each change, as the summary compares.

| Metric | Unit | Definition |
|---|---|---|
"""

TEAM_HEADER = """
## Teams

`GET /api/v1/analytics/teams` and the dashboard's Teams page rank the teams the rules name
(`cipulse teams …`, the settings page); every read endpoint and page takes `team=`. Each team's
figures add up its pipelines' (the same stored figures every list reads), so the teams' rows
and the `unowned` row add up to the organisation's.

| Metric | Unit | Definition |
|---|---|---|
"""

COST_HEADER = """
## Cost in money

`GET /api/v1/runs/{id}` answers `cost` (and the run page shows it), one pull request's answer
and page too, at the organisation's **rate card**: prices per minute by provider and runner
label set, each from an effective day, in the organisation's currency (an ISO 4217 code, USD
unless set). Rates are set with `cipulse rates set|remove|currency` or on the settings page,
and read with `cipulse rates list` or `GET /api/v1/rates`. A new organisation's card is
empty, so costs are unknown until rates are set: `cipulse rates load-defaults` (or the
settings page's button) adds the published rates below, which are then changed or removed
like any other. They are list prices: free minutes included in a plan, free public
repositories and discounts are not taken off.

The published rates (`src/cipulse/domain/published_rates.py`), read on 2026-12-07 in the
providers' documentation sources (github/docs and gitlab-org's `doc/`), not on their live pages:

- GitHub, "Actions runner pricing" (docs.github.com/en/billing/reference/actions-runner-pricing,
  standard runners): `ubuntu-*` (Linux 2-core) $0.008 a minute until 2026-01-01, $0.006 from
  then; `windows-*` (Windows 2-core) $0.016, then $0.010; `macos-*` (macOS 3- or 4-core)
  $0.080, then $0.062. Each job is rounded up to the whole minute, as that page says. Larger
  runners are priced per size on that page (x64 Linux 4-core $0.012 to 96-core $0.252,
  Windows 4-core $0.022 to 96-core $0.552, macOS 12-core $0.077; arm64 and GPU sizes too),
  but their labels are chosen by each organisation, so they are not defaults: set the
  label set of yours (`cipulse rates set github ubuntu-latest-8-cores 0.022 --from 2026-01-01`).
- GitHub self-hosted runners: no default. Their minutes cost what the organisation's own
  machines cost, which only it knows (unknown until set). GitHub announced a $0.002 a minute
  platform charge for self-hosted runners in private repositories from 2026-03-01 and then
  postponed it; this is from third-party pages (GitHub's own announcement was not found), so
  an organisation that is charged sets it as the platform charge of its self-hosted rates
  (`cipulse rates set github '*self-hosted*' 0.004 --platform 0.002 --from 2026-03-01`).
- GitLab, "Compute minutes" (docs.gitlab.com/ci/pipelines/compute_minutes/, "Cost factors for
  GitLab-hosted runners"): the cost factors of the hosted runners' tags
  (`saas-linux-small-amd64` 1, `-medium-` 2, `-large-` 3, `-xlarge-` 6, `-2xlarge-` 12,
  `saas-linux-medium-amd64-gpu-standard` 7, `saas-linux-{small,medium,large}-arm64` 1, 2, 3,
  `saas-macos-medium-m1` 6, `saas-macos-large-m2pro` 12, `saas-windows-medium-amd64` 1),
  each times the price of a compute minute. **That price, $0.01 ($10 per 1,000 compute
  minutes), is not confirmed from GitLab's own pages** (only third-party pages state it):
  check it against your GitLab invoice. A GitLab job without tags has no label set, so no
  default prices it.

| Metric | Unit | Definition |
|---|---|---|
"""

RUNNER_HEADER = """
## Runners

Per runner label set, from the runner rollup (per pipeline, day, recent hour, branch scope and
label set, refreshed with the other rollups), plus what the read plan computes raw: the
Runners page, `GET /api/v1/analytics/runners` (sortable by each figure, a page at a time, CSV),
one label set's runners, the queue by hour of day, and a run's time split.

| Metric | Unit | Definition |
|---|---|---|
"""

TEST_HEADER = """
## Tests

From JUnit reports (`POST /api/v1/test-results`): the Tests page, `GET /api/v1/analytics/tests`
(a page at a time, sortable, CSV) and `GET /api/v1/tests/{id}`. A test is identified within its
repository by its suite, class, name and file. Test figures are kept per test and UTC day, not
per pipeline or branch: the test list takes `repository` and `q` (part of the suite, class,
name or file), and answers 400 to the run filters it cannot apply.

| Metric | Unit | Definition |
|---|---|---|
"""

TEST_RULES_HEADER = """
### Flaky tests: the rules

| Rule | Unit | Definition |
|---|---|---|
"""

RANKINGS_TEXT = """
## Rankings

The overview's top lists rank only rows with a sample large enough to mean something, and by
impact; each figure is shown with its sample beside it. `MIN_SAMPLE` is 5
(`src/cipulse/analytics/rankings.py`).

- **Slowest pipelines and jobs (p95)**: those with at least 5 attempts (executions) whose
  durations count (success, or the status filter's), by `p95_duration_seconds`, highest first;
  shown with that count ("of 12 successful runs").
- **Most failing pipelines**: those with at least 5 attempts that ended success, failure or
  timed_out and at least one failure, by the lower end of the 95% Wilson score interval of
  their failure rate (failure + timed_out over those attempts), highest first, then more
  failures first: 1 failure out of 1 (bound 0.21) ranks below 40 out of 100 (0.31), and
  neither is listed before it has 5 decided runs. Shown as the failure rate with "k of n
  runs" (`failed_runs`, `decided_runs`).
- **Flakiest pipelines**: those with flaky runs and at least 5 runs in `flaky_rate`'s
  denominator, by the Wilson lower bound of `flaky_rate`; shown with "k of n runs"
  (`flaky_runs`, `flaky_of_runs`).
- **Most failing jobs**: a job's failing executions are split in two:
  `failures_passed_on_retry`, those after which the job ended success in a later attempt of
  the same run, and `failures_stayed_failed`, the rest (`failure_count` -
  `failures_passed_on_retry`; a run whose job failed in attempts 1 and 2 and passed in
  attempt 3 counts both failures as passed on a retry, none as stayed failed). Jobs with at
  least 5 executions that ended success, failure or timed_out are ranked by
  `failures_stayed_failed` (each a red run someone has to look at), then by the Wilson lower
  bound of their failure rate.
- **Split by failure class** (the overview's `failure_class=code|infrastructure|timeout|
  cancelled|unknown`): the most failing pipelines count the attempts of that class
  (`failures_by_class`) out of all their attempts in the window (a cancelled attempt is not
  decided), with the same minimum sample and Wilson order; the most failing jobs rank the
  jobs with at least 5 executions by their failures of that class, then by the Wilson lower
  bound of their share of the executions. The Jobs page and `/analytics/jobs` sort by one
  class with `sort=-failed_<class>`.
- **Flakiest jobs**: the flaky-jobs ranking (most flaky runs first) of the jobs with at least
  5 executions.

Wherever pipeline names repeat (lists of several repositories), a pipeline is shown with its
repository first.
"""

SERIES_TEXT = """
## Time series

`GET /api/v1/analytics/timeseries?metric=…&interval=hour|day|week` computes one metric per UTC
bucket (hours; days; weeks from Monday 00:00 UTC), over the attempts that started in the bucket
(clipped to the window), with the same definitions as above; buckets without attempts are
present (their counts are 0, their ratios and durations null). `mttr_seconds` per bucket is the
mean length of the red periods that ended in the bucket.

## Custom metrics

Run attempts and their jobs carry metrics and tags, whatever their source: Trunk events their
`payload.metrics` (`{k, v: number}`) and tags; GitHub and GitLab webhooks the queue time of each
job (and of a GitLab pipeline) as `queue_seconds`, with the runner's tags (`runner_name`,
`runner_group`, `runner_labels` from GitHub; `runner_name`, `runner_tags`, `stage` from GitLab).
All are read the same way. For one metric key,
`GET /api/v1/analytics/custom-metrics?key=…&interval=…` aggregates the values of that key carried
by the run attempts that started in the window and pass the filters, and by their job-tree nodes
(counted with their run attempt: in its window and its bucket): per UTC bucket, `count`, `sum`,
`mean`, `p50` and `p95` (nearest rank; exact up to 64 values, within 1% beyond), empty buckets
included. With `group_by=tag:<key>` there is one series per value
of that tag on the same event (the event's tags merged with its sequence's), and one (`group`:
null) for values whose event has no such tag. Nodes whose run has not arrived are not counted.
`GET /api/v1/analytics/custom-metrics/keys` lists the metric keys seen in the window, and the
tag keys of the events that carry them.

## How figures are computed

Every figure above is computed exactly as defined, from the stored runs. To answer in
milliseconds over millions of runs, cipulse keeps **rollups**: per pipeline and UTC day (and per
week of seven days from Monday, and for the whole organisation; for today and the three days
before, also per hour), the counts per status, the
first attempts' outcomes, compute, the flaky runs and their cost, per job the same plus failure,
flaky and exclusive time, per custom metric key its values per tag value, and the red periods
per pipeline and branch.

- **Exact under re-posts.** Rollups are never incremented: when ingest stores or changes an
  attempt, it marks the days (partitions: pipeline and day) whose figures may change — the
  attempt's old and new day and the days of the other attempts of its run, since flakiness
  depends on them — and the refresher recomputes those days from the stored runs (every server
  runs one, every `CIPULSE_ROLLUP_INTERVAL_SECONDS`; the bulk commands refresh at their end;
  `cipulse rollups rebuild` recomputes all). A re-posted attempt moves its counts; it cannot
  count twice.
- **Exact before the refresh.** A read takes whole weeks and days from the rollups (and whole
  hours, where a window's edge falls inside one of the last three days), and computes from
  the stored runs what is left at the window's edges and every marked day not refreshed yet.
  Answers never lag ingest; they are only slower while much is unrefreshed.
- **A refresh never stalls.** The refresher works a few pipelines of one week at a time,
  computing from a snapshot and storing in a short transaction of its own; a day it fails to
  store (whatever the cause) is set aside and retried later, and stays exact meanwhile (it is
  read from the stored runs like any marked day). `cipulse rollups status` and `/healthz` show
  what waits and what failed.
- **Runs counted once.** A run decided on several days is in several days' `flaky_rate`
  denominators; each day also records, per such run, the start of its latest earlier decided
  attempt, and a window subtracts those that lie inside it.
- **Percentiles.** Durations (and custom metric values) are kept in histograms whose buckets
  grow by a factor (1 + 1%) / (1 - 1%); a bucket reports a value within 1% of every value in it
  (the DDSketch construction), so a percentile is within 1% of the exact nearest-rank value.
  Up to 64 values, a histogram also keeps the values themselves and the percentile is exact.
  Means and sums are exact.
- **Filters.** The rollups are split by pipeline and kept three times over: for every branch,
  for the default branch and for the other branches. So `repository`, `pipeline` and
  `branches` filters use them (naming another default branch marks the repository's days for
  the refresher); `branch`, `provider`, `status`, `actor`, `triggered_by` and `tag` filters are
  computed from the stored runs (recovery: only `provider`, `actor`, `triggered_by` and
  `tag`), as are hourly time series that start before the day before yesterday.

### After a purge

`cipulse purge --older-than DAYS` (or a server, once a day, with `CIPULSE_RETENTION_DAYS`)
deletes the stored runs, their jobs and webhook deliveries of the days before a cut-off (the
start of a UTC day), and keeps every rollup row of those days: the days, weeks and
organisation-wide rows, the jobs', the custom metrics', the runs decided on several days, and
the red periods. Before it deletes, it refreshes what is marked of those days; a day that
cannot be refreshed (set aside after a failure) moves the cut-off back to it. From then on the
purged days' rows are final: nothing recomputes them (not `cipulse rollups rebuild`, not a run
posted later for such a day — it is stored, and purged again next time, but changes no
figure).

What stays exact, for windows whose edges fall on whole UTC days (such as
`since=2024-01-01&until=2024-02-01`), however much of them was purged:

- the summary and its time series by day and week, per repository and pipeline, with
  `branches=default` or `other`;
- the jobs, the flaky jobs and the custom metrics;
- the recovery figures (red periods, `mttr_seconds`, `red_now`), without the filters named
  below.

What is lost for the purged days (they read the stored runs):

- the run lists and run pages, and the run that turned a pipeline red;
- the `branch`, `provider`, `status`, `actor`, `triggered_by` and `tag` filters, and recovery
  with `provider`, `actor`, `triggered_by` or `tag` (they find no runs there);
- the part of a window that starts or ends inside a purged day (such as the last 30 days when
  31 are kept: the first partial day counts nothing), and hourly series of purged days.

Whole runs are purged, or none of their attempts: a run with an attempt on or after the
cut-off keeps all of them, and so do the runs of a red period still open at the cut-off (or
ended after it), from the period's start, since recomputing that period needs them. Job nodes
whose run never arrived (Trunk) are purged when none of them was written since the cut-off.
"""


def _table(metrics: tuple[MetricDefinition, ...]) -> str:
    rows = [f"| `{m.name}` | {m.unit} | {m.definition} |" for m in metrics]
    return "\n".join(rows) + "\n"


def render() -> str:
    sections = [
        HEADER,
        _table(RUN_METRICS),
        RECOVERY_HEADER,
        _table(RECOVERY_METRICS),
        JOB_HEADER,
        _table(JOB_METRICS),
        TRIAGE_HEADER,
        _table(TRIAGE_METRICS),
        PULL_REQUEST_HEADER,
        _table(PULL_REQUEST_METRICS),
        WAIT_HEADER,
        _table(WAIT_METRICS),
        TEAM_HEADER,
        _table(TEAM_METRICS),
        COST_HEADER,
        _table(COST_METRICS),
        RUNNER_HEADER,
        _table(RUNNER_METRICS),
        TEST_HEADER,
        _table(TEST_METRICS),
        TEST_RULES_HEADER,
        _table(TEST_RULES),
        RANKINGS_TEXT,
        SERIES_TEXT,
    ]
    return "".join(sections)


def main() -> int:
    return write_or_check(REFERENCE, render(), "metrics_reference.py")


if __name__ == "__main__":
    raise SystemExit(main())
