"""Job metrics per (pipeline, job), as definitions.py states them.

Job metrics per (pipeline, job): the run definitions applied to job executions, plus
failure_count, flaky_count, total_duration_seconds and exclusive_seconds. Pure functions of
the job rows and attempts they are given."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from cipulse.analytics.run_metrics import (
    DECIDED,
    FAILING,
    STATUS_NAMES,
    SUCCESS,
    FlakyRun,
    mean_of,
    percentile_of,
)
from cipulse.domain import exclusive
from cipulse.domain.compute import level_of, outer_level
from cipulse.domain.histogram import Histogram, bucket_of
from cipulse.domain.tallies import FAILURE_CLASSES, JobTally
from cipulse.domain.window import Window

JobKey = tuple[str, str]  # (pipeline id, job definition key)


def exclusive_seconds(jobs: Iterable[dict[str, Any]]) -> dict[str, float]:
    """For the jobs of one attempt (rows), per node key, the seconds it ran alone."""
    return exclusive.exclusive_seconds(
        (job["node_key"], job["started_at_ms"], job["completed_at_ms"]) for job in jobs
    )


def top_level(jobs: Sequence[dict[str, Any]], root_node_key: str | None) -> list[dict[str, Any]]:
    """The jobs directly under the run (stages and steps of a Trunk tree run inside them)."""
    keys = {job["node_key"] for job in jobs}
    return [
        job
        for job in jobs
        if job["parent_node_key"] is None
        or job["parent_node_key"] == root_node_key
        or job["parent_node_key"] not in keys
    ]


def flaky_jobs(
    flaky: dict[tuple[str, str], FlakyRun], jobs_by_attempt: dict[str, list[dict[str, Any]]]
) -> dict[JobKey, list[FlakyRun]]:
    """Jobs (same definition) that ended failure or timed_out in an earlier attempt of a
    flaky run and success in its successful attempt, with the runs where they did."""
    found: dict[JobKey, list[FlakyRun]] = defaultdict(list)
    for run in flaky.values():
        pipeline_id = run.success.pipeline_id
        succeeded = {
            job["definition_key"]
            for job in jobs_by_attempt.get(run.success.id, [])
            if job["status"] == SUCCESS
        }
        failed = {
            job["definition_key"]
            for attempt in run.failing
            for job in jobs_by_attempt.get(attempt.id, [])
            if job["status"] in FAILING
        }
        for definition in sorted(failed & succeeded):
            found[(pipeline_id, definition)].append(run)
    return found


def job_summaries(
    window: Window,
    pipeline_of: dict[str, str],
    jobs: Sequence[dict[str, Any]],
    exclusive: dict[tuple[str, str], float],
    flaky: dict[JobKey, list[FlakyRun]],
) -> list[JobFigures]:
    """One row per (pipeline, job), computed job by job (the reference the database's
    tallies are checked against). ``pipeline_of`` maps attempt id → pipeline id;
    ``exclusive`` maps (attempt id, node key) → exclusive seconds."""
    duration_statuses = set(window.filters.statuses) or {SUCCESS}
    tallies = tallies_of(pipeline_of, jobs, exclusive, duration_statuses, exact=True)
    return job_rows(with_flaky(tallies, flaky))


def tallies_of(
    pipeline_of: dict[str, str],
    jobs: Iterable[dict[str, Any]],
    exclusive: dict[tuple[str, str], float],
    duration_statuses: set[str],
    *,
    exact: bool = False,
) -> dict[JobKey, JobTally]:
    """Tallies per (pipeline, job) of job rows (every node of their attempts), each with
    its level (``domain/compute.py``); ``exact``: histograms that keep every duration."""
    tallies: dict[JobKey, JobTally] = {}
    durations: dict[JobKey, list[float]] = defaultdict(list)
    metrics: dict[JobKey, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    jobs = list(jobs)
    nodes_of: dict[str, set[str]] = defaultdict(set)
    for job in jobs:
        nodes_of[job["attempt_id"]].add(job["node_key"])
    for job in jobs:
        key = (pipeline_of[job["attempt_id"]], job["definition_key"])
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = JobTally(name=job["name"])
        tally.name = max(tally.name, job["name"])
        nested = job["parent_node_key"] in nodes_of[job["attempt_id"]]
        tally.level = outer_level(tally.level, level_of(job.get("kind"), nested))
        tally.by_status[job["status"]] += 1
        if job.get("failure_class"):
            tally.failed_by_class[job["failure_class"]] += 1
        tally.total_duration_seconds += job["duration_seconds"] or 0.0
        tally.exclusive_seconds += exclusive.get((job["attempt_id"], job["node_key"]), 0.0)
        if job["status"] in duration_statuses and job["duration_seconds"] is not None:
            durations[key].append(job["duration_seconds"])
        for name, value in numeric_metrics(job.get("metrics")):
            metrics[key][name].append(value)
    for key, values in durations.items():
        values.sort()
        tallies[key].durations = Histogram.of(values, exact=exact)
        if values:
            tallies[key].duration_top_bucket = bucket_of(values[-1])
    for key, by_name in metrics.items():
        tallies[key].metrics = {
            name: Histogram.of(values, exact=exact) for name, values in sorted(by_name.items())
        }
    return tallies


def numeric_metrics(metrics: dict[str, Any] | None) -> list[tuple[str, float]]:
    """The numbers of a job's ``metrics`` (key, value), in key order: what job tallies
    aggregate per key (every execution, whatever its status)."""
    return [
        (name, float(value))
        for name, value in sorted((metrics or {}).items())
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]


def with_flaky(
    tallies: dict[JobKey, JobTally], flaky: dict[JobKey, list[FlakyRun]]
) -> dict[JobKey, JobTally]:
    """The tallies with their flaky counts."""
    for key, runs in flaky.items():
        tally = tallies.get(key)
        if tally is not None:
            tally.flaky_count = len(runs)
    return tallies


@dataclass(frozen=True, slots=True)
class PipelineName:
    """A pipeline's name and its repository's, beside a row of figures."""

    pipeline: str
    repository: str


@dataclass(frozen=True, slots=True)
class JobFigures:
    """One (pipeline, job) of the job list: every figure of ``definitions.JOB_METRICS``,
    a field per definition of the same name, and its pipeline's ``names`` (None: not
    named, or its pipeline is no longer stored).

    A dataclass, not a mapping: mypy checks every reader, and adding a job figure is a
    definition, a field and its computation here, and its presenter line in ``web/``."""

    pipeline_id: str
    job: str
    definition_key: str
    level: str
    runs: int
    by_status: dict[str, int]
    success_rate: float | None
    failure_count: int
    flaky_count: int
    failures_passed_on_retry: int
    p50_duration_seconds: float | None
    p95_duration_seconds: float | None
    mean_duration_seconds: float | None
    total_duration_seconds: float
    exclusive_seconds: float
    mean_queue_seconds: float | None
    p50_queue_seconds: float | None
    p95_queue_seconds: float | None
    total_queue_seconds: float | None
    names: PipelineName | None = None
    #: Per failure class (``FAILURE_CLASSES``, every one present), the failed executions.
    failures_by_class: dict[str, int] = field(default_factory=dict)

    def sort_value(self, field: str) -> Any:
        """The value a sort by ``field`` orders by (None: no such field)."""
        if field in ("pipeline", "repository"):
            return None if self.names is None else getattr(self.names, field)
        if field in CLASS_SORTS:
            return self.failures_by_class[field.removeprefix("failed_")]
        return getattr(self, field, None)


#: The fields of ``JobFigures`` that are not figures, or not one number: what a job list
#: cannot sort by. Every other field is a figure a list may sort by.
_NOT_SORTABLE = (
    "pipeline_id",
    "job",
    "definition_key",
    "level",
    "by_status",
    "failures_by_class",
    "names",
)
#: A job list sorts by the failures of one class as ``failed_<class>``.
CLASS_SORTS = tuple(f"failed_{name}" for name in FAILURE_CLASSES)
SORTABLE_FIGURES = (
    *(f.name for f in fields(JobFigures) if f.name not in _NOT_SORTABLE),
    *CLASS_SORTS,
)


@dataclass(frozen=True, slots=True)
class FlakyJob:
    """A job with flaky runs: how many, over how many executions, what their retries cost
    and when it was last flaky; ``names``: its pipeline's (None: no longer stored)."""

    pipeline_id: str
    names: PipelineName | None
    job: str
    definition_key: str
    level: str
    flaky_count: int
    runs: int
    flaky_runs_per_execution: float | None
    retry_compute_seconds: float
    last_flaky_at_ms: int | None

    def sort_value(self, field: str) -> Any:
        """The value a sort by ``field`` orders by (``flaky_rate``: the old name of
        ``flaky_runs_per_execution``)."""
        if field == "flaky_rate":
            return self.flaky_runs_per_execution
        return getattr(self, field, None)


def _class_count(name: str) -> Callable[[JobTally], int]:
    return lambda tally: tally.failed_by_class[name]


#: Row fields read straight off a tally: sorting by one needs no row built.
TALLY_SORTS: dict[str, Callable[[JobTally], Any]] = {
    "total_duration_seconds": lambda tally: tally.total_duration_seconds,
    "exclusive_seconds": lambda tally: tally.exclusive_seconds,
    "flaky_count": lambda tally: tally.flaky_count,
    "runs": lambda tally: sum(tally.by_status.values()),
    "failure_count": lambda tally: sum(tally.by_status[s] for s in FAILING),
    **{f"failed_{name}": _class_count(name) for name in FAILURE_CLASSES},
    "job": lambda tally: tally.name,
}


def job_rows(
    tallies: dict[JobKey, JobTally], names: dict[str, PipelineName] | None = None
) -> list[JobFigures]:
    """One row per (pipeline, job) from tallies (the database's, the rollups', or
    ``job_summaries``' own), each named by ``names`` (per pipeline id) when given."""
    rows = []
    for (pipeline_id, definition), tally in tallies.items():
        by_status = tally.by_status
        decided = sum(by_status[s] for s in DECIDED)
        durations = tally.durations
        queues = tally.metrics.get("queue_seconds", Histogram())
        rows.append(
            JobFigures(
                pipeline_id=pipeline_id,
                job=tally.name,
                definition_key=definition,
                level=tally.level or "job",
                runs=sum(by_status.values()),
                by_status={status: by_status[status] for status in STATUS_NAMES},
                success_rate=by_status[SUCCESS] / decided if decided else None,
                failure_count=sum(by_status[s] for s in FAILING),
                flaky_count=tally.flaky_count,
                failures_passed_on_retry=tally.failures_passed_on_retry,
                failures_by_class={name: tally.failed_by_class[name] for name in FAILURE_CLASSES},
                p50_duration_seconds=percentile_of(durations, 50),
                p95_duration_seconds=percentile_of(durations, 95),
                mean_duration_seconds=mean_of(durations),
                total_duration_seconds=tally.total_duration_seconds,
                exclusive_seconds=tally.exclusive_seconds,
                mean_queue_seconds=mean_of(queues),
                p50_queue_seconds=percentile_of(queues, 50),
                p95_queue_seconds=percentile_of(queues, 95),
                total_queue_seconds=queues.total if queues.count else None,
                names=None if names is None else names.get(pipeline_id),
            )
        )
    return rows
