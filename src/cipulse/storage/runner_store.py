"""One label set's raw executions: which runners ran them, bounded.

The runners of a label set are read from the raw rows, not a rollup: hosted runners' names
are ephemeral (one per job), so a rollup by name would grow with the jobs. The read is
bounded: the latest ``RUNNER_SAMPLE`` attempts of the window (through the index on
(org_id, started_at_ms) or (org_id, pipeline_id, started_at_ms)), then their jobs by primary
key, 500 attempts to a query, keeping those directly under their run on the label set."""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.window import Window
from cipulse.storage.attempt_filters import in_window
from cipulse.storage.schema import jobs, run_attempts

a = run_attempts
#: How many of the window's latest attempts a label set's runners are read from.
RUNNER_SAMPLE = 1000


class Execution(NamedTuple):
    """A job execution on a label set: its runner's name and its figures' facts."""

    runner_name: str | None
    status: str
    duration_seconds: float | None
    queue_seconds: float | None
    failure_class: str | None
    started_at_ms: int | None
    completed_at_ms: int | None


def executions(
    conn: Connection, org_id: str, window: Window, label_set: str | None
) -> tuple[list[Execution], int]:
    """The executions on ``label_set`` (None: none named) of the jobs directly under their
    run, in the window's latest ``RUNNER_SAMPLE`` attempts; and how many attempts that was.
    The attempts are read first and their jobs then by primary key, a chunk at a time: one
    join lets PostgreSQL's planner scan every job of the label set instead."""
    latest = (
        in_window(sa.select(a.c.id), org_id, window)
        .order_by(a.c.started_at_ms.desc())
        .limit(RUNNER_SAMPLE)
    )
    attempt_ids = [str(attempt_id) for attempt_id in conn.execute(latest).scalars()]
    found: list[Execution] = []
    for start in range(0, len(attempt_ids), CHUNK):
        found += _executions(conn, org_id, attempt_ids[start : start + CHUNK], label_set)
    return found, len(attempt_ids)


#: Attempts whose jobs one query reads.
CHUNK = 500


def _executions(
    conn: Connection, org_id: str, attempt_ids: list[str], label_set: str | None
) -> list[Execution]:
    parent = jobs.alias("parent")
    nested = (
        sa.select(sa.literal(1))
        .where(
            parent.c.org_id == jobs.c.org_id,
            parent.c.attempt_id == jobs.c.attempt_id,
            parent.c.node_key == jobs.c.parent_node_key,
        )
        .exists()
    )
    labels = (
        jobs.c.runner_labels.is_(None) if label_set is None else jobs.c.runner_labels == label_set
    )
    query = sa.select(
        jobs.c.runner_name,
        jobs.c.status,
        jobs.c.duration_seconds,
        jobs.c.queue_seconds,
        jobs.c.failure_class,
        jobs.c.started_at_ms,
        jobs.c.completed_at_ms,
    ).where(jobs.c.org_id == org_id, jobs.c.attempt_id.in_(attempt_ids), labels, sa.not_(nested))
    return [Execution(*row) for row in conn.execute(query)]
