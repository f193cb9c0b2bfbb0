"""The attempts a pull request's cost is priced from, bounded.

What pricing a pull request reads of its attempts (``analytics/questions/costs.py``): at most
``limit`` of them, through the partial index on (organisation, pull request number); their
jobs are then read by the jobs' primary key (organisation, attempt)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.pull_requests import PullRequestKey
from cipulse.storage.schema import jobs
from cipulse.storage.schema import run_attempts as a


def pull_request_attempts(
    conn: Connection, org_id: str, key: PullRequestKey, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` attempts of the pull request (in no order: more than the bound are
    not priced at all), with what pricing them needs. No ORDER BY, so that the planner
    takes the pull request's index rather than walking the starts with the limit."""
    query = (
        sa.select(
            a.c.id,
            a.c.pipeline_id,
            a.c.run_key,
            a.c.attempt,
            a.c.status,
            a.c.provider,
            a.c.started_at_ms,
        )
        .where(
            a.c.org_id == org_id,
            a.c.pull_request_number == key.number,
            a.c.repository_id == key.repository_id,
        )
        .limit(limit)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def jobs_to_price(
    conn: Connection, org_id: str, attempt_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """What pricing needs of the attempts' jobs (no tags nor metrics), by the jobs' primary
    key, 500 attempts to a statement."""
    j = jobs
    rows: list[dict[str, Any]] = []
    for start in range(0, len(attempt_ids), 500):
        query = sa.select(
            j.c.id,
            j.c.attempt_id,
            j.c.node_key,
            j.c.parent_node_key,
            j.c.name,
            j.c.status,
            j.c.runner_labels,
            j.c.duration_seconds,
            j.c.started_at_ms,
        ).where(j.c.org_id == org_id, j.c.attempt_id.in_(sorted(attempt_ids[start : start + 500])))
        rows += [dict(row._mapping) for row in conn.execute(query)]
    return rows
