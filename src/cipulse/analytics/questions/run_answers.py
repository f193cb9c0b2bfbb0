"""The typed answers of the runs question: attempts, their jobs, a run.

What a run attempt, a node of its job tree and one attempt with its run's other attempts
are, in the domain's words and units (instants in epoch milliseconds); how they are named
on the wire is the web layer's business (``web/presenters.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cipulse.analytics.questions.costs import AttemptCost
from cipulse.analytics.questions.run_tests import JobFailedTests
from cipulse.analytics.questions.run_triage import Triage
from cipulse.domain.model import TagValue
from cipulse.domain.runners import NO_RUNNER, Runner

#: A stored row as the store returns it (``storage/list_store.py``).
StoredRow = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One run attempt with its repository and pipeline."""

    id: str
    repository: str
    repository_host: str
    pipeline_id: str
    pipeline_name: str
    run_key: str
    run_number: int | None
    attempt: int
    status: str
    raw_status: str | None
    provider: str | None
    source_format: str | None
    branch: str | None
    actor: str | None
    triggered_by: str | None
    run_name: str | None
    run_url: str | None
    mode: str | None
    started_at_ms: int | None
    completed_at_ms: int | None
    duration_seconds: float | None
    compute_seconds: float | None
    tags: dict[str, TagValue]
    metrics: dict[str, float]
    # The change it ran for (domain/changes.py); None where its source did not say.
    commit_sha: str | None = None
    commit_message: str | None = None
    commit_author: str | None = None
    pull_request_number: int | None = None
    pull_request_title: str | None = None
    pull_request_url: str | None = None
    pull_request_source_branch: str | None = None
    pull_request_target_branch: str | None = None
    event_kind: str | None = None
    # Why it did not succeed (domain/failure_reasons.py); None when it did or has not ended.
    failure_reason: str | None = None
    failure_class: str | None = None
    # Seconds it waited before it started, where its source says (domain/runners.py).
    queue_seconds: float | None = None

    @classmethod
    def of(cls, row: StoredRow) -> Attempt:
        return cls(
            **{name: row[name] for name in _STORED_ATTEMPT},
            tags=row["tags"] or {},
            metrics=row["metrics"] or {},
        )


_STORED_ATTEMPT = tuple(name for name in Attempt.__slots__ if name not in {"tags", "metrics"})
#: An attempt with nothing known: what an export's header is made from.
NO_ATTEMPT = Attempt.of({**dict.fromkeys(_STORED_ATTEMPT), "tags": None, "metrics": None})


@dataclass(frozen=True, slots=True)
class OtherAttempt:
    """An attempt of the same run (the run page's attempt tabs)."""

    id: str
    attempt: int
    status: str
    started_at_ms: int | None
    completed_at_ms: int | None


@dataclass(frozen=True, slots=True)
class JobNode:
    """A node of an attempt's job tree (a job, stage or step), with its children."""

    id: str
    name: str
    kind: str | None
    status: str
    raw_status: str | None
    started_at_ms: int | None
    completed_at_ms: int | None
    duration_seconds: float | None
    external_id: str | None
    url: str | None
    tags: dict[str, TagValue]
    metrics: dict[str, float]
    # Why it did not succeed, and its failed step (domain/failure_reasons.py).
    failure_reason: str | None = None
    failure_class: str | None = None
    failing_step: str | None = None
    # How long it waited, and where it ran (domain/runners.py).
    queue_seconds: float | None = None
    runner: Runner = NO_RUNNER
    #: What identifies the job across runs (its job page: ``web/job_paths.py``).
    definition_key: str | None = None
    children: list[JobNode] = field(default_factory=list)

    @classmethod
    def of(cls, row: StoredRow) -> JobNode:
        return cls(
            id=row["id"],
            name=row["name"],
            kind=row["kind"],
            status=row["status"],
            raw_status=row["raw_status"],
            started_at_ms=row["started_at_ms"],
            completed_at_ms=row["completed_at_ms"],
            duration_seconds=row["duration_seconds"],
            external_id=row["external_id"],
            url=row["url"],
            tags=row["tags"] or {},
            metrics=row["metrics"] or {},
            failure_reason=row["failure_reason"],
            failure_class=row["failure_class"],
            failing_step=row["failing_step"],
            queue_seconds=row["queue_seconds"],
            runner=Runner(
                row["runner_labels"], row["runner_name"], row["runner_group"], row["runner_id"]
            ),
            definition_key=row.get("definition_key"),
        )


@dataclass(frozen=True, slots=True)
class RunDetail:
    """One attempt, the attempts of its run (itself included) and its job tree."""

    attempt: Attempt
    attempts: list[OtherAttempt]
    jobs: list[JobNode]
    #: What it did to its branch, what changed, how its jobs' times compare (the run page).
    triage: Triage | None = None
    #: What it cost at the organisation's rates, and whether that is waste.
    cost: AttemptCost | None = None
    #: Per job, the failed tests of its JUnit reports (``questions/run_tests.py``).
    failed_tests: list[JobFailedTests] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TimeSplit:
    """A run attempt's job time split into waiting for a runner and running: summed over
    its jobs directly under the run (docs/metrics.md, "time_split")."""

    jobs: int
    waited_jobs: int
    waiting_seconds: float | None
    running_seconds: float
    waiting_share: float | None


def time_split(top_level: list[JobNode]) -> TimeSplit:
    """The split of the jobs directly under the run (the roots of its job tree)."""
    waits = [job.queue_seconds for job in top_level if job.queue_seconds is not None]
    running = sum(job.duration_seconds or 0.0 for job in top_level)
    waiting = sum(waits) if waits else None
    whole = (waiting or 0.0) + running
    return TimeSplit(
        jobs=len(top_level),
        waited_jobs=len(waits),
        waiting_seconds=waiting,
        running_seconds=running,
        waiting_share=None if waiting is None or not whole else waiting / whole,
    )
