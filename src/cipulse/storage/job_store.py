"""One job's raw rows: its latest failures and the places it ran.

A job page's reads of the raw rows, each bounded by the pipeline's latest attempts of the
window (read through the index on (org_id, pipeline_id, started_at_ms), then each
attempt's jobs by primary key): the job's latest executions that failed with a class,
among at most ``FAILURES_SAMPLE`` attempts, and where its latest executions ran (the
branches and runner tags of the jobs of at most ``PLACES_SAMPLE`` attempts). The counts
of failures by class come from the job rollups, not from here."""

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
#: How many of the pipeline's latest attempts in the window its latest failures are
#: searched in: a bounded read (about ten jobs an attempt) whatever the job's failure rate.
FAILURES_SAMPLE = 2_000


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
    """The job's latest ``limit`` executions that failed with a class, newest attempt first,
    among the pipeline's latest ``FAILURES_SAMPLE`` attempts of the window."""
    pipeline_id, definition_key = job
    latest = (
        in_window(
            sa.select(
                a.c.id,
                a.c.run_key,
                a.c.run_number,
                a.c.attempt,
                a.c.branch,
                a.c.started_at_ms,
                a.c.commit_sha,
            ),
            org_id,
            window,
        )
        .where(a.c.pipeline_id == pipeline_id)
        .order_by(a.c.started_at_ms.desc())
        .limit(FAILURES_SAMPLE)
        .subquery()
    )
    query = (
        sa.select(
            *latest.c,
            jobs.c.status,
            jobs.c.duration_seconds,
            jobs.c.failure_class,
            jobs.c.failure_reason,
            jobs.c.failing_step,
        )
        .select_from(
            latest.join(jobs, sa.and_(jobs.c.org_id == org_id, jobs.c.attempt_id == latest.c.id))
        )
        .where(jobs.c.definition_key == definition_key, jobs.c.failure_class.is_not(None))
        .order_by(latest.c.started_at_ms.desc(), latest.c.id, jobs.c.node_key)
        .limit(limit)
    )
    return [FailedExecution._make(row) for row in conn.execute(query)]


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
