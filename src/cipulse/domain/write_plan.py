"""What ingestion hands storage: resolved rows and the write plan.

What crosses from ingestion to storage on the write path: a submission resolved into rows
(``ResolvedSubmission``, built by ``storage/rows.py``), the stored state the rules look at
(``Stored``), and the plan the rules fold a batch into (``WritePlan``, built by
``ingestion/write_rules.py`` and stored by ``storage/run_writer.py``).

Plain values only: rows are dicts (attempts) and tuples in the ``jobs`` table's column order
(jobs), so a batch of thousands of runs costs no object per column and crosses process
boundaries cheaply (``cipulse ingest`` resolves in worker processes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: A ``run_attempts`` row by column name.
Row = dict[str, Any]
#: A ``jobs`` row, in the table's column order (``storage/schema.py``).
JobRow = tuple[Any, ...]
#: What the rules know of a stored attempt or job: its status and end (ms).
Stored = tuple[str, int | None]
#: A run, as retry rounds and rollup marks know it: (org id, repository id, run key).
RunRef = tuple[str, str, str]


@dataclass(slots=True)
class ResolvedAttempt:
    id: str
    run_lock_id: str
    status: str
    row: Row
    job_rows: list[JobRow]
    jobs_are_snapshot: bool
    from_webhooks: bool = False


@dataclass(slots=True)
class ResolvedSpan:
    id: str
    attempt_id: str
    run_lock_id: str
    status: str
    row: JobRow
    fallback: bool = False
    from_webhooks: bool = False
    completed_at_ms: int | None = None


@dataclass(slots=True)
class ResolvedSubmission:
    """A submission with every id computed and every row built: what one request writes."""

    org_id: str
    repository_rows: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    pipeline_rows: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    attempts: list[ResolvedAttempt] = field(default_factory=list)
    spans: list[ResolvedSpan] = field(default_factory=list)
    #: (repository id, run key) of runs whose attempts are retry rounds: whether this
    #: submission holds jobs of rounds past the first.
    retry_round_runs: dict[tuple[str, str], bool] = field(default_factory=dict)
    #: Default branches the submission names, by repository id.
    default_branches: dict[str, str] = field(default_factory=dict)

    @property
    def job_count(self) -> int:
        return sum(len(a.job_rows) for a in self.attempts) + len(self.spans)

    @property
    def lock_ids(self) -> list[str]:
        """Writers lock whole runs: an attempt's figures depend on its siblings'."""
        return [a.run_lock_id for a in self.attempts] + [s.run_lock_id for s in self.spans]


@dataclass(slots=True)
class WritePlan:
    """What a batch turns into after the write rules: the last word on each row, so a run
    posted 50 times in one batch is written once."""

    repository_rows: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    pipeline_rows: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    new_attempts: dict[str, Row] = field(default_factory=dict)
    updated_attempts: dict[str, Row] = field(default_factory=dict)
    replaced_job_sets: dict[str, list[JobRow]] = field(default_factory=dict)
    span_rows: dict[str, JobRow] = field(default_factory=dict)
    #: Runs whose retry rounds are derived again, and whether the plan holds jobs of their
    #: rounds past the first.
    retry_round_runs: dict[RunRef, bool] = field(default_factory=dict)
    #: The default branch of repositories (org id, repository id), as a payload names it.
    default_branches: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Webhook attempts (org id, attempt id) whose compute is summed again from their jobs.
    compute_from_jobs: set[tuple[str, str]] = field(default_factory=set)
