"""One job's raw rows: its failures by class, latest failures and places.

A job page's reads of the raw rows, each bounded: the job's executions that failed with a
class (through the partial index on failed jobs, ``ix_jobs_org_id_definition_key_failed``,
which holds all a count needs), then the latest few of them in full by primary key, and
where its latest executions ran (the branches and
runner tags of the jobs of the pipeline's latest attempts, at most ``PLACES_SAMPLE``)."""

from __future__ import annotations

from collections.abc import Sequence
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


def _failed(query: sa.Select[Any], org_id: str, window: Window, job: tuple[str, str]) -> Any:
    """``query`` over the job's failed executions (a class known) in the window."""
    pipeline_id, definition_key = job
    joined = query.select_from(
        jobs.join(a, sa.and_(a.c.org_id == jobs.c.org_id, a.c.id == jobs.c.attempt_id))
    ).where(
        jobs.c.org_id == org_id,
        jobs.c.definition_key == definition_key,
        jobs.c.failure_class.is_not(None),
        a.c.pipeline_id == pipeline_id,
    )
    return in_window(joined, org_id, window)


class Failed(NamedTuple):
    """A failed execution as the index on failed jobs holds it, with its attempt's start."""

    failure_class: str
    attempt_id: str
    node_key: str
    started_at_ms: int | None


def failed_executions(
    conn: Connection, org_id: str, window: Window, job: tuple[str, str]
) -> list[Failed]:
    """The job's executions in the window that failed with a class, newest attempt first:
    read from the index on failed jobs alone (it holds the class, attempt and node), each
    joined to its attempt by primary key for the window and filters."""
    index = [jobs.c.failure_class, jobs.c.attempt_id, jobs.c.node_key]
    # Grouped in the index's order (one row per execution all the same), so that SQLite's
    # planner reads the index rather than every job of the pipeline's attempts.
    query = _failed(sa.select(*index, sa.func.max(a.c.started_at_ms)), org_id, window, job)
    found = [Failed(*row) for row in conn.execute(query.group_by(*index))]
    return sorted(found, key=lambda f: (-(f.started_at_ms or 0), f.attempt_id, f.node_key))


def failure_details(
    conn: Connection, org_id: str, failed: Sequence[Failed]
) -> list[FailedExecution]:
    """The given failed executions in full, in their order: their attempts' jobs by primary
    key (a few attempts), those of their nodes kept."""
    if not failed:
        return []
    columns = [
        a.c.id,
        a.c.run_key,
        a.c.run_number,
        a.c.attempt,
        a.c.branch,
        a.c.started_at_ms,
        a.c.commit_sha,
        jobs.c.status,
        jobs.c.duration_seconds,
        jobs.c.failure_class,
        jobs.c.failure_reason,
        jobs.c.failing_step,
        jobs.c.node_key,
    ]
    query = (
        sa.select(*columns)
        .select_from(
            jobs.join(a, sa.and_(a.c.org_id == jobs.c.org_id, a.c.id == jobs.c.attempt_id))
        )
        .where(
            jobs.c.org_id == org_id,
            jobs.c.attempt_id.in_(sorted({f.attempt_id for f in failed})),
            jobs.c.node_key.in_(sorted({f.node_key for f in failed})),
        )
    )
    by_key = {(row[0], row[-1]): FailedExecution(*row[:-1]) for row in conn.execute(query)}
    return [by_key[key] for f in failed if (key := (f.attempt_id, f.node_key)) in by_key]


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
