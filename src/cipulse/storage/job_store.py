"""One job's raw rows: its latest failures and the places it ran.

A job page's reads of the raw rows, each walking the pipeline's attempts of the window newest
first (the index on (org_id, pipeline_id, started_at_ms)): the job's latest executions that
failed with a class (each attempt probed in the partial index on failed jobs,
``ix_jobs_org_id_definition_key_attempt_id_failed``), and where its latest executions ran
(the branches and runner tags of its jobs in at most ``PLACES_SAMPLE`` attempts, by primary
key). The counts of failures by class come from the job rollups, not from here."""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.window import Window
from cipulse.storage.attempt_filters import in_window
from cipulse.storage.schema import jobs, run_attempts

a = run_attempts
#: How many of the pipeline's latest attempts in the window a job's places are read from.
PLACES_SAMPLE = 300


class FailedExecution(NamedTuple):
    """A failed execution of a job, with the attempt it belongs to."""

    attempt_id: str
    run_key: str
    run_number: int | None
    attempt: int
    branch: str | None
    started_at_ms: int | None
    commit_sha: str | None
    status: str
    duration_seconds: float | None
    failure_class: str
    failure_reason: str | None
    failing_step: str | None


class Place(NamedTuple):
    """One execution's branch, runner (label set and name: ``domain/runners.py``) and tags
    (its job's, then its attempt's)."""

    branch: str | None
    runner_labels: str | None
    runner_name: str | None
    job_tags: dict[str, Any] | None
    attempt_tags: dict[str, Any] | None


def latest_failures(
    conn: Connection, org_id: str, window: Window, job: tuple[str, str], limit: int
) -> list[FailedExecution]:
    """The job's latest ``limit`` executions in the window that failed with a class, newest
    attempt first: the pipeline's attempts of the window walked newest first (the index on
    (org_id, pipeline_id, started_at_ms)), each probed in the partial index on failed jobs
    by attempt, until ``limit`` are found."""
    pipeline_id, definition_key = job
    columns = [a.c.id, a.c.run_key, a.c.run_number, a.c.attempt, a.c.branch, a.c.started_at_ms]
    columns += [a.c.commit_sha, jobs.c.status, jobs.c.duration_seconds, jobs.c.failure_class]
    columns += [jobs.c.failure_reason, jobs.c.failing_step]
    joined = sa.select(*columns).select_from(
        a.join(jobs, sa.and_(jobs.c.org_id == a.c.org_id, jobs.c.attempt_id == a.c.id))
    )
    query = (
        in_window(joined, org_id, window)
        .where(
            a.c.pipeline_id == pipeline_id,
            jobs.c.definition_key == definition_key,
            jobs.c.failure_class.is_not(None),
        )
        # The start alone, so that the walk follows the index and stops at ``limit``.
        .order_by(a.c.started_at_ms.desc())
        .limit(limit)
    )
    found = [FailedExecution._make(row) for row in conn.execute(query)]
    return sorted(found, key=lambda f: (-(f.started_at_ms or 0), f.attempt_id))


def places(conn: Connection, org_id: str, window: Window, job: tuple[str, str]) -> list[Place]:
    """The branch, runner and tags of the job's executions in the pipeline's latest
    ``PLACES_SAMPLE`` attempts of the window (read through the index on (org_id,
    pipeline_id, started_at_ms), then each attempt's jobs by primary key)."""
    pipeline_id, definition_key = job
    latest = (
        in_window(sa.select(a.c.id, a.c.branch, a.c.tags), org_id, window)
        .where(a.c.pipeline_id == pipeline_id)
        .order_by(a.c.started_at_ms.desc())
        .limit(PLACES_SAMPLE)
        .subquery()
    )
    query = (
        sa.select(
            latest.c.branch, jobs.c.runner_labels, jobs.c.runner_name, jobs.c.tags, latest.c.tags
        )
        .select_from(
            latest.join(jobs, sa.and_(jobs.c.org_id == org_id, jobs.c.attempt_id == latest.c.id))
        )
        .where(jobs.c.definition_key == definition_key)
    )
    return [Place(*row) for row in conn.execute(query)]
