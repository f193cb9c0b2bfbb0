"""How the top lists rank: a minimum sample, then by impact.

How the overview's top lists rank, so that they point at what matters: a minimum sample
(one failed run out of one is not the most failing pipeline) and an order by impact. Pure
functions of the listed rows; ``docs/metrics.md`` (Rankings) states the same rules."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cipulse.analytics.job_metrics import FlakyJob, JobFigures
from cipulse.analytics.list_rows import FailingPipeline, FlakyPipeline, PipelineRow

#: Fewer decided runs (or job executions) than this and a row is not ranked: its rate says
#: too little.
MIN_SAMPLE = 5
#: The normal quantile of the Wilson bound: 95% two-sided (1.96).
Z = 1.959963984540054


def wilson_lower_bound(hits: int, total: int, z: float = Z) -> float:
    """The lower end of the Wilson score interval of a rate of ``hits`` out of ``total``:
    the rate the data says, with 97.5% confidence, is at least reached. 0 for no sample."""
    if total <= 0:
        return 0.0
    rate = hits / total
    z2 = z * z
    centre = rate + z2 / (2 * total)
    spread = z * math.sqrt(rate * (1 - rate) / total + z2 / (4 * total * total))
    return max((centre - spread) / (1 + z2 / total), 0.0)


def decided(by_status: dict[str, int]) -> int:
    return by_status.get("success", 0) + by_status.get("failure", 0) + by_status.get("timed_out", 0)


def failed(by_status: dict[str, int]) -> int:
    return by_status.get("failure", 0) + by_status.get("timed_out", 0)


def most_failing_pipelines(
    rows: list[PipelineRow], count: int, failure_class: str | None = None
) -> list[FailingPipeline]:
    """Pipelines with at least ``MIN_SAMPLE`` decided runs and a failure, by the Wilson lower
    bound of their failure rate (then more failures first), each with ``failed_runs`` and
    ``decided_runs``: the sample beside the figure. With ``failure_class``, the failures
    are the attempts of that class, out of every attempt (``runs``: a cancelled attempt is
    not decided)."""
    ranked = []
    for row in rows:
        total, failures = decided(row.figures.by_status), failed(row.figures.by_status)
        if failure_class is not None:
            total = row.figures.runs
            failures = row.figures.failures_by_class.get(failure_class, 0)
        if total >= MIN_SAMPLE and failures:
            bound = wilson_lower_bound(failures, total)
            ranked.append((-bound, -failures, row.id, FailingPipeline(row, failures, total)))
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked[:count]]


def too_few_to_rank(rows: list[PipelineRow], count: int) -> list[PipelineRow]:
    """Pipelines that ran but have fewer than ``MIN_SAMPLE`` decided runs, most runs first:
    what a list with nothing to rank names instead (a new user's first runs)."""
    few = [r for r in rows if r.figures.runs and decided(r.figures.by_status) < MIN_SAMPLE]
    return sorted(few, key=lambda r: (-r.figures.runs, r.id))[:count]


def flakiest_pipelines(
    rows: list[PipelineRow], samples: dict[str, int], count: int
) -> list[FlakyPipeline]:
    """Pipelines with flaky runs and at least ``MIN_SAMPLE`` runs in ``flaky_rate``'s
    denominator (``samples``, per pipeline id), by the Wilson lower bound of their flaky
    rate (then more flaky runs first), each with ``flaky_of_runs``: that denominator."""
    ranked = []
    for row in rows:
        total, flaky = samples.get(row.id, 0), row.figures.flaky_runs
        if flaky and total >= MIN_SAMPLE:
            bound = wilson_lower_bound(flaky, total)
            ranked.append((-bound, -flaky, row.id, FlakyPipeline(row, total)))
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked[:count]]


@dataclass(frozen=True, slots=True)
class FailingJob:
    """A job of the most failing, with its failures split: ``failures_passed_on_retry``
    (its row's: the failing executions after which it ended success in a later attempt of
    the same run) and ``failures_stayed_failed`` (the other failing executions)."""

    row: JobFigures
    failures_stayed_failed: int


def most_failing_jobs(
    rows: list[JobFigures], count: int, failure_class: str | None = None
) -> list[FailingJob]:
    """Jobs with at least ``MIN_SAMPLE`` executions and a failure that stayed failed, most
    such failures first (impact: each is a red run someone has to look at), then the
    Wilson lower bound of their failure rate. With ``failure_class``: jobs with at least
    ``MIN_SAMPLE`` executions and a failure of that class, most such failures first, then
    the Wilson lower bound of their share of the executions."""
    if failure_class is not None:
        return _most_failing_jobs_of_class(rows, count, failure_class)
    ranked = []
    for row in rows:
        stayed = row.failure_count - row.failures_passed_on_retry
        total = decided(row.by_status)
        if total >= MIN_SAMPLE and stayed:
            bound = wilson_lower_bound(row.failure_count, total)
            order = (-stayed, -bound, row.job, row.pipeline_id, row.definition_key)
            ranked.append((*order, FailingJob(row, stayed)))
    ranked.sort(key=lambda item: item[:5])  # ties: by name, then one fixed order
    return [item[5] for item in ranked[:count]]


def _most_failing_jobs_of_class(
    rows: list[JobFigures], count: int, failure_class: str
) -> list[FailingJob]:
    ranked = []
    for row in rows:
        failures = row.failures_by_class.get(failure_class, 0)
        if row.runs >= MIN_SAMPLE and failures:
            bound = wilson_lower_bound(failures, row.runs)
            order = (-failures, -bound, row.job, row.pipeline_id, row.definition_key)
            ranked.append(
                (*order, FailingJob(row, row.failure_count - row.failures_passed_on_retry))
            )
    ranked.sort(key=lambda item: item[:5])
    return [item[5] for item in ranked[:count]]


def flakiest_jobs(rows: list[FlakyJob], count: int) -> list[FlakyJob]:
    """Flaky-job rows (most flaky runs first) with at least ``MIN_SAMPLE`` executions."""
    return [row for row in rows if row.runs >= MIN_SAMPLE][:count]
