"""Writes converted runs: upserts by natural key, in batches, inside the caller's transaction.

Ids are derived from natural keys (``cipulse.domain.ids``), so nothing has to be read back to
know the id of what was written. The caller locks the attempts it is about to write
(``lock_natural_keys``) and reads their stored statuses (``stored_statuses``); ``write`` then
applies, in arrival order, the two rules of the ingest contract:

- a RunWatch post is a full snapshot of its attempt: the job set becomes the posted one;
- a stale post (finished → unfinished) changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain import ids
from cipulse.domain.model import JobSpan, RunAttempt, Submission
from cipulse.domain.status import is_stale
from cipulse.storage.clock import to_ms
from cipulse.storage.dialect import insert_for
from cipulse.storage.schema import jobs, pipelines, repositories, run_attempts

Row = dict[str, Any]


@dataclass(slots=True)
class ResolvedAttempt:
    id: str
    status: str
    row: Row
    job_rows: list[Row]
    jobs_are_snapshot: bool


@dataclass(slots=True)
class ResolvedSpan:
    id: str
    attempt_id: str
    status: str
    row: Row


@dataclass(slots=True)
class ResolvedSubmission:
    """A submission with every id computed and every row built: what one request writes."""

    org_id: str
    repository_rows: dict[str, Row] = field(default_factory=dict)
    pipeline_rows: dict[str, Row] = field(default_factory=dict)
    attempts: list[ResolvedAttempt] = field(default_factory=list)
    spans: list[ResolvedSpan] = field(default_factory=list)

    @property
    def lock_ids(self) -> list[str]:
        return [a.id for a in self.attempts] + [s.attempt_id for s in self.spans]


def _job_row(org_id: str, attempt_id: str, span: JobSpan, source: str | None, now: int) -> Row:
    return {
        "org_id": org_id,
        "id": ids.job_id(attempt_id, span.node_key),
        "attempt_id": attempt_id,
        "node_key": span.node_key,
        "parent_node_key": span.parent_node_key,
        "definition_key": span.definition_key,
        "name": span.name,
        "kind": span.kind,
        "status": span.status.value,
        "raw_status": span.raw_status,
        "started_at_ms": to_ms(span.started_at),
        "completed_at_ms": to_ms(span.completed_at),
        "duration_seconds": span.duration_seconds,
        "url": span.url,
        "external_id": span.external_id,
        "tags": span.tags or None,
        "metrics": span.metrics or None,
        "ingest_source": source,
        "updated_at_ms": now,
    }


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
        "status": run.status.value,
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
        "parent_run_key": run.parent_run_key,
        "parent_node_key": run.parent_node_key,
        "tags": run.tags or None,
        "metrics": run.metrics or None,
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
        resolved.repository_rows[repository_id] = {
            "org_id": org_id,
            "id": repository_id,
            "host": run.repository.host,
            "full_name": run.repository.full_name,
            "created_at_ms": now,
        }
        resolved.pipeline_rows[pipeline_id] = {
            "org_id": org_id,
            "id": pipeline_id,
            "repository_id": repository_id,
            "pipeline_key": run.pipeline.key,
            "name": run.pipeline.name,
            "created_at_ms": now,
        }
        resolved.attempts.append(
            ResolvedAttempt(
                id=attempt_id,
                status=run.status.value,
                row=_attempt_row(org_id, repository_id, pipeline_id, attempt_id, run, source, now),
                job_rows=[_job_row(org_id, attempt_id, job, source, now) for job in run.jobs],
                jobs_are_snapshot=run.jobs_are_snapshot,
            )
        )
    for detached in submission.detached_spans:
        repository_id = ids.repository_id(org_id, detached.repository)
        attempt_id = ids.chain_attempt_id(repository_id, detached.run_key)
        row = _job_row(org_id, attempt_id, detached.span, source, now)
        resolved.spans.append(
            ResolvedSpan(id=row["id"], attempt_id=attempt_id, status=row["status"], row=row)
        )
    return resolved


def stored_statuses(
    conn: Connection, org_id: str, attempt_ids: Iterable[str], job_ids: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The stored status of each given attempt and job that exists."""
    attempt_ids, job_ids = list(attempt_ids), list(job_ids)
    attempts: dict[str, str] = {}
    found_jobs: dict[str, str] = {}
    if attempt_ids:
        rows = conn.execute(
            sa.select(run_attempts.c.id, run_attempts.c.status).where(
                run_attempts.c.org_id == org_id, run_attempts.c.id.in_(attempt_ids)
            )
        )
        attempts = {row.id: row.status for row in rows}
    if job_ids:
        rows = conn.execute(
            sa.select(jobs.c.id, jobs.c.status).where(
                jobs.c.org_id == org_id, jobs.c.id.in_(job_ids)
            )
        )
        found_jobs = {row.id: row.status for row in rows}
    return attempts, found_jobs


@dataclass(slots=True)
class WritePlan:
    """What a batch turns into after the snapshot and staleness rules: the last word on each
    row, so a run posted 50 times in one batch is written once."""

    repository_rows: dict[str, Row] = field(default_factory=dict)
    pipeline_rows: dict[str, Row] = field(default_factory=dict)
    new_attempts: dict[str, Row] = field(default_factory=dict)
    updated_attempts: dict[str, Row] = field(default_factory=dict)
    replaced_job_sets: dict[str, list[Row]] = field(default_factory=dict)
    span_rows: dict[str, Row] = field(default_factory=dict)

    def new_attempt_count(self, org_id: str) -> int:
        return sum(1 for row in self.new_attempts.values() if row["org_id"] == org_id)


class Planner:
    """Folds resolved submissions, in arrival order, into one ``WritePlan``."""

    def __init__(self, attempt_statuses: dict[str, str], job_statuses: dict[str, str]) -> None:
        self._attempts = dict(attempt_statuses)
        self._jobs = dict(job_statuses)
        self._stored = set(attempt_statuses)
        self.plan = WritePlan()

    def new_attempts_of(self, submission: ResolvedSubmission) -> int:
        """How many attempts this submission would create (for plan limits)."""
        return len({a.id for a in submission.attempts if a.id not in self._attempts})

    def new_repositories_of(self, submission: ResolvedSubmission, known: set[str]) -> set[str]:
        return set(submission.repository_rows) - known - set(self.plan.repository_rows)

    def add(self, submission: ResolvedSubmission) -> None:
        plan = self.plan
        plan.repository_rows.update(submission.repository_rows)
        for pipeline_id, row in submission.pipeline_rows.items():
            plan.pipeline_rows[pipeline_id] = row
        for attempt in submission.attempts:
            stored = self._attempts.get(attempt.id)
            if stored is not None and is_stale(stored, attempt.status):
                continue
            self._attempts[attempt.id] = attempt.status
            if attempt.id in self._stored:
                previous = plan.updated_attempts.get(attempt.id)
                row = dict(attempt.row)
                if previous is not None:
                    row["received_at_ms"] = previous["received_at_ms"]
                plan.updated_attempts[attempt.id] = row
            else:
                previous = plan.new_attempts.get(attempt.id)
                plan.new_attempts[attempt.id] = (
                    attempt.row
                    if previous is None
                    else {**attempt.row, "received_at_ms": previous["received_at_ms"]}
                )
            if attempt.jobs_are_snapshot:
                plan.replaced_job_sets[attempt.id] = attempt.job_rows
        for span in submission.spans:
            stored = self._jobs.get(span.id)
            if stored is not None and is_stale(stored, span.status):
                continue
            self._jobs[span.id] = span.status
            plan.span_rows[span.id] = span.row


_ATTEMPT_UPDATE_COLUMNS = [
    c.name for c in run_attempts.columns if c.name not in {"org_id", "id", "received_at_ms"}
]
_JOB_UPDATE_COLUMNS = [c.name for c in jobs.columns if c.name not in {"org_id", "id"}]


def write(conn: Connection, plan: WritePlan) -> None:
    insert = insert_for(conn)
    if plan.repository_rows:
        conn.execute(
            insert(repositories).on_conflict_do_nothing(), list(plan.repository_rows.values())
        )
    if plan.pipeline_rows:
        statement = insert(pipelines)
        statement = statement.on_conflict_do_update(
            index_elements=[pipelines.c.org_id, pipelines.c.id],
            set_={"name": statement.excluded.name},
            where=pipelines.c.name != statement.excluded.name,
        )
        conn.execute(statement, list(plan.pipeline_rows.values()))
    if plan.new_attempts:
        conn.execute(run_attempts.insert(), list(plan.new_attempts.values()))
    if plan.updated_attempts:
        conn.execute(
            run_attempts.update()
            .where(
                run_attempts.c.org_id == sa.bindparam("b_org_id"),
                run_attempts.c.id == sa.bindparam("b_id"),
            )
            .values({name: sa.bindparam(name) for name in _ATTEMPT_UPDATE_COLUMNS}),
            [
                {**row, "b_org_id": row["org_id"], "b_id": row["id"]}
                for row in plan.updated_attempts.values()
            ],
        )
    replaced_existing = [
        attempt_id for attempt_id in plan.replaced_job_sets if attempt_id in plan.updated_attempts
    ]
    if replaced_existing:
        by_org: dict[str, list[str]] = {}
        for attempt_id in replaced_existing:
            by_org.setdefault(plan.updated_attempts[attempt_id]["org_id"], []).append(attempt_id)
        for org_id, attempt_ids in by_org.items():
            conn.execute(
                jobs.delete().where(jobs.c.org_id == org_id, jobs.c.attempt_id.in_(attempt_ids))
            )
    job_rows = [row for rows in plan.replaced_job_sets.values() for row in rows]
    if job_rows:
        conn.execute(jobs.insert(), job_rows)
    if plan.span_rows:
        statement = insert(jobs)
        statement = statement.on_conflict_do_update(
            index_elements=[jobs.c.org_id, jobs.c.id],
            set_={name: statement.excluded[name] for name in _JOB_UPDATE_COLUMNS},
        )
        conn.execute(statement, list(plan.span_rows.values()))
