"""Writes converted runs: upserts by natural key, in batches, inside the caller's transaction.

Ids are derived from natural keys (``cipulse.domain.ids``), so nothing has to be read back to
know the id of what was written. The caller locks the attempts it is about to write
(``lock_natural_keys``) and reads their stored statuses (``stored_statuses``); a ``Planner``
then folds the batch, in arrival order, under the two rules of the ingest contract:

- a RunWatch post is a full snapshot of its attempt: the job set becomes the posted one;
- a stale post (finished → unfinished) changes nothing;

and ``write`` stores the result with one bulk statement per table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain import ids
from cipulse.domain.compute import DERIVED_FORMATS
from cipulse.domain.exclusive import exclusive_seconds
from cipulse.domain.model import (
    JobSpan,
    RepositoryRef,
    RunAttempt,
    RunKeyScope,
    SourceFormat,
    Submission,
)
from cipulse.domain.status import FINISHED_STATUSES, STATUS_TEXT, ended_earlier, is_stale
from cipulse.domain.window import DAY_MS
from cipulse.storage import repositories as repository_store
from cipulse.storage import retry_round_writer, rollup_marks
from cipulse.storage.clock import to_ms
from cipulse.storage.compute import derived_compute_of
from cipulse.storage.dialect import (
    bulk_delete,
    bulk_insert,
    bulk_update,
    column_names,
    placeholder,
    upsert_clause,
)
from cipulse.storage.schema import jobs, pipelines, repositories, run_attempts

Row = dict[str, Any]
JobRow = tuple[Any, ...]  # in ``column_names(jobs)`` order

_JOB_COLUMNS = column_names(jobs)
_ATTEMPT_COLUMNS = column_names(run_attempts)
_ATTEMPT_UPDATE_COLUMNS = [
    c for c in _ATTEMPT_COLUMNS if c not in {"org_id", "id", "received_at_ms"}
]
_JOB_KEY = ["org_id", "attempt_id", "node_key"]
_JOB_UPSERT = upsert_clause(jobs, _JOB_KEY, [c for c in _JOB_COLUMNS if c not in _JOB_KEY])
_REPOSITORY_UPSERT = upsert_clause(repositories, ["org_id", "id"], None)
_PIPELINE_INSERT = upsert_clause(pipelines, ["org_id", "id"], None)


def _json(value: dict[str, Any]) -> str | None:
    return orjson.dumps(value).decode() if value else None


#: What the planner knows of a stored attempt or job: its status and end (ms).
Stored = tuple[str, int | None]


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


def _job_row(
    org_id: str,
    attempt_id: str,
    span: JobSpan,
    source: str | None,
    now: int,
    exclusive_seconds: float | None = None,
) -> JobRow:
    # The order of ``jobs``' columns in storage/schema.py.
    return (
        org_id,
        ids.job_id(attempt_id, span.node_key),
        attempt_id,
        span.node_key,
        span.parent_node_key,
        span.definition_key,
        span.name,
        span.kind,
        STATUS_TEXT[span.status],
        span.raw_status,
        to_ms(span.started_at),
        to_ms(span.completed_at),
        span.duration_seconds,
        span.url,
        span.external_id,
        _json(span.tags),
        _json(span.metrics),
        source,
        now,
        exclusive_seconds,
    )


def _snapshot_rows(
    org_id: str, attempt_id: str, run: RunAttempt, source: str | None, now: int
) -> list[JobRow]:
    """The job rows of a snapshot, each with the seconds it ran alone in the attempt (a
    snapshot holds every job of the attempt, so it is known now; Trunk trees, stored node by
    node, leave it to be computed when read)."""
    alone = (
        exclusive_seconds(
            (job.node_key, to_ms(job.started_at), to_ms(job.completed_at)) for job in run.jobs
        )
        if run.jobs_are_snapshot
        else {}
    )
    return [
        _job_row(
            org_id,
            attempt_id,
            job,
            source,
            now,
            alone.get(job.node_key, 0.0) if run.jobs_are_snapshot else None,
        )
        for job in run.jobs
    ]


def _attempt_row(
    org_id: str,
    repository_id: str,
    pipeline_id: str,
    attempt_id: str,
    run: RunAttempt,
    source: str | None,
    now: int,
) -> Row:
    return {
        "org_id": org_id,
        "id": attempt_id,
        "repository_id": repository_id,
        "pipeline_id": pipeline_id,
        "run_key": run.run_key,
        "run_number": run.run_number,
        "attempt": run.attempt,
        "status": STATUS_TEXT[run.status],
        "raw_status": run.raw_status,
        "provider": run.provider,
        "source_format": run.source_format.value,
        "started_at_ms": to_ms(run.started_at),
        "completed_at_ms": to_ms(run.completed_at),
        "duration_seconds": run.duration_seconds,
        "compute_seconds": run.compute_seconds,
        "run_name": run.run_name,
        "run_url": run.run_url,
        "triggered_by": run.triggered_by,
        "actor": run.actor,
        "branch": run.branch,
        "mode": run.mode,
        "root_node_key": run.root_node_key,
        "parent_run_key": run.parent_run_key,
        "parent_node_key": run.parent_node_key,
        "tags": _json(run.tags),
        "metrics": _json(run.metrics),
        "ingest_source": source,
        "received_at_ms": now,
        "updated_at_ms": now,
    }


def resolve(org_id: str, submission: Submission, now: int) -> ResolvedSubmission:
    """Compute ids and rows. Pure."""
    resolved = ResolvedSubmission(org_id=org_id)
    source = submission.ingest_source
    for run in submission.attempts:
        repository_id = ids.repository_id(org_id, run.repository)
        pipeline_id = ids.pipeline_id(repository_id, run.pipeline.key)
        attempt_id = ids.attempt_id(
            run.run_key_scope, repository_id, pipeline_id, run.run_key, run.attempt
        )
        resolved.repository_rows[repository_id] = (
            org_id,
            repository_id,
            run.repository.host,
            run.repository.full_name,
            now,
            None,  # default_branch: not in the wire formats
        )
        resolved.pipeline_rows[pipeline_id] = (
            org_id,
            pipeline_id,
            repository_id,
            run.pipeline.key,
            run.pipeline.name,
            now,
        )
        scope_id = pipeline_id if run.run_key_scope is RunKeyScope.PIPELINE else repository_id
        resolved.attempts.append(
            ResolvedAttempt(
                id=attempt_id,
                run_lock_id=ids.run_lock_id(scope_id, run.run_key),
                status=STATUS_TEXT[run.status],
                row=_attempt_row(org_id, repository_id, pipeline_id, attempt_id, run, source, now),
                job_rows=_snapshot_rows(org_id, attempt_id, run, source, now),
                jobs_are_snapshot=run.jobs_are_snapshot,
                from_webhooks=submission.from_webhooks,
            )
        )
    # A request's spans mostly share one repository and run: their ids are derived once.
    repository_ids: dict[RepositoryRef, str] = {}
    chains: dict[tuple[str, str, int], tuple[str, str]] = {}
    later_rounds: set[tuple[str, str]] = set()
    for detached in submission.detached_spans:
        if detached.repository not in repository_ids:
            repository_id = ids.repository_id(org_id, detached.repository)
            repository_ids[detached.repository] = repository_id
            resolved.repository_rows[repository_id] = (
                org_id,
                repository_id,
                detached.repository.host,
                detached.repository.full_name,
                now,
                None,  # default_branch: taken separately (``default_branches``)
            )
        repository_id = repository_ids[detached.repository]
        chain = (repository_id, detached.run_key, detached.attempt)
        if chain not in chains:
            chains[chain] = (
                ids.chain_attempt_id(*chain),
                ids.run_lock_id(repository_id, detached.run_key),
            )
        attempt_id, run_lock_id = chains[chain]
        if detached.attempt > 1:
            later_rounds.add((repository_id, detached.run_key))
        row = _job_row(org_id, attempt_id, detached.span, source, now)
        resolved.spans.append(
            ResolvedSpan(
                id=row[1],
                attempt_id=attempt_id,
                run_lock_id=run_lock_id,
                status=STATUS_TEXT[detached.span.status],
                row=row,
                fallback=detached.fallback,
                from_webhooks=submission.from_webhooks,
                completed_at_ms=to_ms(detached.span.completed_at),
            )
        )
    for repository, run_key in submission.retry_round_runs:
        retried_run = (ids.repository_id(org_id, repository), run_key)
        resolved.retry_round_runs[retried_run] = retried_run in later_rounds
    for repository, branch in submission.default_branches.items():
        resolved.default_branches[ids.repository_id(org_id, repository)] = branch
    return resolved


def stored_statuses(
    conn: Connection,
    org_id: str,
    attempt_ids: Iterable[str],
    job_ids: Iterable[str],
    job_attempt_ids: Iterable[str],
) -> tuple[dict[str, Stored], dict[str, Stored]]:
    """The stored status and end of each given attempt and job (of the given attempts)
    that exists."""
    attempt_ids, job_ids = list(attempt_ids), set(job_ids)
    attempts: dict[str, Stored] = {}
    found_jobs: dict[str, Stored] = {}
    if attempt_ids:
        a = run_attempts
        rows = conn.execute(
            sa.select(a.c.id, a.c.status, a.c.completed_at_ms).where(
                a.c.org_id == org_id, a.c.id.in_(attempt_ids)
            )
        )
        attempts = {row.id: (row.status, row.completed_at_ms) for row in rows}
    if job_ids:
        # Through the primary key (org_id, attempt_id, …): ``jobs.id`` has no index.
        rows = conn.execute(
            sa.select(jobs.c.id, jobs.c.status, jobs.c.completed_at_ms).where(
                jobs.c.org_id == org_id, jobs.c.attempt_id.in_(sorted(set(job_attempt_ids)))
            )
        )
        found_jobs = {
            row.id: (row.status, row.completed_at_ms) for row in rows if row.id in job_ids
        }
    return attempts, found_jobs


@dataclass(slots=True)
class WritePlan:
    """What a batch turns into after the snapshot and staleness rules: the last word on each
    row, so a run posted 50 times in one batch is written once."""

    repository_rows: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    pipeline_rows: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    new_attempts: dict[str, Row] = field(default_factory=dict)
    updated_attempts: dict[str, Row] = field(default_factory=dict)
    replaced_job_sets: dict[str, list[JobRow]] = field(default_factory=dict)
    span_rows: dict[str, JobRow] = field(default_factory=dict)
    #: (org id, repository id, run key) of runs whose retry rounds are derived again, and
    #: whether the plan holds jobs of their rounds past the first.
    retry_round_runs: dict[tuple[str, str, str], bool] = field(default_factory=dict)
    #: The default branch of repositories (org id, repository id), as a payload names it.
    default_branches: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Webhook attempts (org id, attempt id) whose compute is summed again from their jobs.
    compute_from_jobs: set[tuple[str, str]] = field(default_factory=set)


class Planner:
    """Folds resolved submissions, in arrival order, into one ``WritePlan``."""

    def __init__(
        self, attempt_statuses: dict[str, Stored], job_statuses: dict[str, Stored]
    ) -> None:
        self._attempts = dict(attempt_statuses)
        self._jobs = dict(job_statuses)
        self._stored = set(attempt_statuses)
        self.plan = WritePlan()

    def new_attempts_of(self, submission: ResolvedSubmission) -> int:
        """How many attempts this submission would create (for plan limits)."""
        return len({a.id for a in submission.attempts if a.id not in self._attempts})

    def add(self, submission: ResolvedSubmission) -> None:
        plan = self.plan
        plan.repository_rows.update(submission.repository_rows)
        plan.pipeline_rows.update(submission.pipeline_rows)
        for (repository_id, run_key), later in submission.retry_round_runs.items():
            run = (submission.org_id, repository_id, run_key)
            plan.retry_round_runs[run] = plan.retry_round_runs.get(run, False) or later
        plan.default_branches.update(
            ((submission.org_id, repository_id), branch)
            for repository_id, branch in submission.default_branches.items()
        )
        for attempt in submission.attempts:
            stored = self._attempts.get(attempt.id)
            incoming = (attempt.status, attempt.row["completed_at_ms"])
            if stored is not None and (
                is_stale(stored[0], attempt.status)
                or (attempt.from_webhooks and ended_earlier(stored, incoming))
            ):
                continue
            self._attempts[attempt.id] = incoming
            if attempt.from_webhooks or attempt.row["source_format"] in DERIVED_FORMATS:
                plan.compute_from_jobs.add((submission.org_id, attempt.id))
            target = plan.updated_attempts if attempt.id in self._stored else plan.new_attempts
            previous = target.get(attempt.id)
            target[attempt.id] = (
                attempt.row
                if previous is None
                else {**attempt.row, "received_at_ms": previous["received_at_ms"]}
            )
            if attempt.jobs_are_snapshot:
                plan.replaced_job_sets[attempt.id] = attempt.job_rows
        for span in submission.spans:
            stored_job = self._jobs.get(span.id)
            incoming = (span.status, span.completed_at_ms)
            if stored_job is not None and (
                is_stale(stored_job[0], span.status)
                or (span.fallback and stored_job[0] in FINISHED_STATUSES)
                or (span.from_webhooks and ended_earlier(stored_job, incoming))
            ):
                continue
            self._jobs[span.id] = incoming
            plan.span_rows[span.id] = span.row
            plan.compute_from_jobs.add((submission.org_id, span.attempt_id))


def _sorted(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows in key order (``(org_id, id, …)``). Repositories and pipelines are shared by
    concurrent batches; taking their row locks in one order means no deadlock. (Attempts and
    jobs need no sorting: the advisory lock of their attempt is already held.)"""
    return sorted(rows, key=itemgetter(0, 1))


def _rename_pipelines(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """A renamed pipeline takes its newest name. An UPDATE that matches only when the name
    differs, rather than an upsert: that would lock the row on every batch, and concurrent
    writers would queue for it."""
    if rows:
        mark = placeholder(conn)
        conn.exec_driver_sql(
            f"UPDATE pipelines SET name = {mark} "
            f"WHERE org_id = {mark} AND id = {mark} AND name <> {mark}",
            [(row[4], row[0], row[1], row[4]) for row in rows],
        )


@dataclass(slots=True)
class Touched:
    """What a plan changes in the rollups: partitions (org id, pipeline id, day) to recompute,
    and new runs (org id, attempt id, pipeline id, day) whose figures are simply added."""

    partitions: set[tuple[str, str, int]] = field(default_factory=set)
    new_runs: set[tuple[str, str, str, int]] = field(default_factory=set)


def touched_partitions(conn: Connection, plan: WritePlan) -> Touched:
    """What the plan changes, read before it is written: the new and the stored day of each
    attempt it writes, and the days of the other stored attempts of their runs (and of the
    runs its job-tree nodes belong to); a run posted whole for the first time is a new run
    (``rollup_marks.NEW_RUNS``)."""
    touched = Touched()
    runs: dict[str, set[tuple[str, str]]] = {}
    written = (*plan.new_attempts.values(), *plan.updated_attempts.values())
    for row in written:
        runs.setdefault(row["org_id"], set()).add((row["pipeline_id"], row["run_key"]))
    span_attempts: dict[str, set[str]] = {}
    for span in plan.span_rows.values():
        span_attempts.setdefault(span[0], set()).add(span[2])
    for org_id, attempt_ids in span_attempts.items():
        runs.setdefault(org_id, set()).update(
            rollup_marks.runs_of_attempts(conn, org_id, attempt_ids)
        )
    stored: set[tuple[str, str, str]] = set()
    for org_id, org_runs in runs.items():
        for (pipeline_id, run_key), days in rollup_marks.days_of_runs(
            conn, org_id, org_runs
        ).items():
            stored.add((org_id, pipeline_id, run_key))
            touched.partitions.update((org_id, pipeline_id, day) for day in days)
    attempts_per_run = Counter((r["org_id"], r["pipeline_id"], r["run_key"]) for r in written)
    spanned = {attempt_id for ids in span_attempts.values() for attempt_id in ids}
    for row in written:
        if row["started_at_ms"] is None:
            continue
        day = row["started_at_ms"] // DAY_MS
        run = (row["org_id"], row["pipeline_id"], row["run_key"])
        if (
            row["id"] in plan.new_attempts
            and run not in stored
            and attempts_per_run[run] == 1
            and row["source_format"] == SourceFormat.RUNWATCH.value
            and row["id"] not in spanned
        ):
            touched.new_runs.add((row["org_id"], row["id"], row["pipeline_id"], day))
        else:
            touched.partitions.add((row["org_id"], row["pipeline_id"], day))
    return touched


def write(conn: Connection, plan: WritePlan, now: int) -> dict[str, int]:
    """Store the plan and mark the rollup partitions it changes. Returns, by organisation,
    how many attempts it created besides the plan's new ones (GitLab retry rounds)."""
    touched = touched_partitions(conn, plan)
    bulk_insert(conn, repositories, _sorted(plan.repository_rows.values()), _REPOSITORY_UPSERT)
    _take_default_branches(conn, plan.default_branches, now)
    pipeline_rows = _sorted(plan.pipeline_rows.values())
    bulk_insert(conn, pipelines, pipeline_rows, _PIPELINE_INSERT)
    _rename_pipelines(conn, pipeline_rows)
    bulk_insert(
        conn,
        run_attempts,
        _sorted(tuple(row[c] for c in _ATTEMPT_COLUMNS) for row in plan.new_attempts.values()),
    )
    bulk_update(
        conn,
        run_attempts,
        _ATTEMPT_UPDATE_COLUMNS,
        ["org_id", "id"],
        [
            (*(row[c] for c in _ATTEMPT_UPDATE_COLUMNS), row["org_id"], row["id"])
            for row in plan.updated_attempts.values()
        ],
    )
    # A snapshot replaces the job set of an attempt that was already stored.
    bulk_delete(
        conn,
        jobs,
        ["org_id", "attempt_id"],
        [
            (plan.updated_attempts[attempt_id]["org_id"], attempt_id)
            for attempt_id in plan.replaced_job_sets
            if attempt_id in plan.updated_attempts
        ],
    )
    # In key order: consecutive inserts then land on neighbouring index pages (fewer page
    # misses on a large database; keys derived from UUIDs are otherwise random).
    bulk_insert(
        conn,
        jobs,
        sorted(
            (row for rows in plan.replaced_job_sets.values() for row in rows),
            key=itemgetter(0, 2, 3),
        ),
    )
    bulk_insert(conn, jobs, list(plan.span_rows.values()), _JOB_UPSERT)
    derived = retry_round_writer.derive_runs(conn, plan.retry_round_runs, now)
    _compute_from_jobs(conn, plan, derived.attempt_ids)
    rollup_marks.mark_dirty(conn, touched.partitions | derived.partitions, now)
    rollup_marks.mark_new_runs(conn, touched.new_runs, now)
    return derived.created


def _take_default_branches(
    conn: Connection, branches: dict[tuple[str, str], str], now: int
) -> None:
    """Record the default branch payloads name (webhooks know it) where it differs from the
    stored one; that marks the repository's partitions (their branch scopes change)."""
    by_org: dict[str, dict[str, str]] = {}
    for (org_id, repository_id), branch in branches.items():
        by_org.setdefault(org_id, {})[repository_id] = branch
    for org_id, wanted in sorted(by_org.items()):
        query = sa.select(repositories.c.id, repositories.c.default_branch).where(
            repositories.c.org_id == org_id, repositories.c.id.in_(sorted(wanted))
        )
        stored = {str(row.id): row.default_branch for row in conn.execute(query)}
        for repository_id, branch in sorted(wanted.items()):
            if repository_id in stored and stored[repository_id] != branch:
                repository_store.set_default_branch(conn, org_id, repository_id, branch, now)


def _compute_from_jobs(conn: Connection, plan: WritePlan, derived: dict[str, set[str]]) -> None:
    """Attempts whose wire format carries no compute (Trunk, webhooks) have as compute the
    sum of their job-level nodes' durations (``domain/compute.py``): recomputed for those
    the plan wrote or added jobs to, and the ``derived`` ones (by organisation)."""
    by_org: dict[str, set[str]] = {org_id: set(found) for org_id, found in derived.items()}
    for org_id, attempt_id in plan.compute_from_jobs:
        by_org.setdefault(org_id, set()).add(attempt_id)
    for org_id, attempt_ids in sorted(by_org.items()):
        computed = derived_compute_of(conn, org_id, sorted(attempt_ids))
        if computed:
            conn.execute(
                sa.update(run_attempts)
                .where(run_attempts.c.org_id == org_id, run_attempts.c.id == sa.bindparam("a"))
                .values(compute_seconds=sa.bindparam("c")),
                [{"a": attempt_id, "c": value} for attempt_id, value in computed.items()],
            )
