"""Triage reads: a branch's previous runs and its jobs' past durations.

Every query reads one pipeline and branch of one organisation through the index on
(org_id, pipeline_id, branch, completed_at_ms, status): the outcome before an attempt, the
latest success before it, the attempts between the two, and the successful executions of
some jobs in the latest attempts of a span (their usual duration)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.storage.attempt_filters import a, plain_row
from cipulse.storage.schema import jobs

#: The statuses that decide whether a branch is green or red (``run_metrics.red_periods``).
OUTCOMES = ("success", "failure", "timed_out")
#: What the triage names of an earlier attempt, and of each attempt between.
_REF = (
    a.c.id,
    a.c.run_key,
    a.c.run_number,
    a.c.attempt,
    a.c.status,
    a.c.completed_at_ms,
    a.c.commit_sha,
    a.c.commit_message,
    a.c.commit_author,
    a.c.pull_request_number,
    a.c.pull_request_title,
    a.c.pull_request_url,
)


def _on_branch(org_id: str, pipeline_id: str, branch: str | None) -> list[sa.ColumnElement[bool]]:
    same_branch = a.c.branch.is_(None) if branch is None else a.c.branch == branch
    return [a.c.org_id == org_id, a.c.pipeline_id == pipeline_id, same_branch]


def previous_outcome(
    conn: Connection, org_id: str, pipeline_id: str, branch: str | None, completed_ms: int, id_: str
) -> dict[str, Any] | None:
    """The outcome just before a failing attempt, in the red periods' order: by
    ``completed_at``; at one instant successes first, then failures by id."""
    failing_first = sa.case((a.c.status == "success", 0), else_=1)
    query = (
        sa.select(*_REF)
        .where(
            *_on_branch(org_id, pipeline_id, branch),
            a.c.status.in_(OUTCOMES),
            a.c.completed_at_ms <= completed_ms,
            sa.or_(
                a.c.completed_at_ms < completed_ms,
                a.c.status == "success",
                a.c.id < id_,
            ),
        )
        .order_by(a.c.completed_at_ms.desc(), failing_first.desc(), a.c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return None if row is None else plain_row(row)


def previous_success(
    conn: Connection, org_id: str, pipeline_id: str, branch: str | None, completed_ms: int
) -> dict[str, Any] | None:
    """The latest attempt that ended success at or before ``completed_ms``."""
    query = (
        sa.select(*_REF)
        .where(
            *_on_branch(org_id, pipeline_id, branch),
            a.c.status == "success",
            a.c.completed_at_ms <= completed_ms,
        )
        .order_by(a.c.completed_at_ms.desc(), a.c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return None if row is None else plain_row(row)


def _between(after_ms: int, until_ms: int) -> list[sa.ColumnElement[bool]]:
    return [a.c.completed_at_ms > after_ms, a.c.completed_at_ms <= until_ms]


def attempts_between(
    conn: Connection,
    org_id: str,
    pipeline_id: str,
    branch: str | None,
    span: tuple[int, int],
    limit: int,
) -> list[dict[str, Any]]:
    """The attempts that ended after ``span[0]`` and at or before ``span[1]``, newest
    first, at most ``limit``."""
    query = (
        sa.select(*_REF)
        .where(*_on_branch(org_id, pipeline_id, branch), *_between(*span))
        .order_by(a.c.completed_at_ms.desc(), a.c.id.desc())
        .limit(limit)
    )
    return [plain_row(row) for row in conn.execute(query)]


def counts_between(
    conn: Connection, org_id: str, pipeline_id: str, branch: str | None, span: tuple[int, int]
) -> tuple[int, int, int]:
    """(attempts, distinct commits, distinct pull requests) of ``attempts_between``."""
    query = sa.select(
        sa.func.count(),
        sa.func.count(a.c.commit_sha.distinct()),
        sa.func.count(a.c.pull_request_number.distinct()),
    ).where(*_on_branch(org_id, pipeline_id, branch), *_between(*span))
    found = conn.execute(query).one()
    return int(found[0]), int(found[1]), int(found[2])


def past_durations(
    conn: Connection,
    org_id: str,
    pipeline_id: str,
    branch: str | None,
    span: tuple[int, int],
    keys: Sequence[str],
    recent: int,
) -> list[tuple[str, float]]:
    """(definition key, duration) of the successful executions of the jobs ``keys`` in the
    latest ``recent`` attempts that ended in ``[span[0], span[1])``: one query for all."""
    if not keys:
        return []
    since_ms, until_ms = span
    latest = (
        sa.select(a.c.id)
        .where(
            *_on_branch(org_id, pipeline_id, branch),
            a.c.completed_at_ms >= since_ms,
            a.c.completed_at_ms < until_ms,
        )
        .order_by(a.c.completed_at_ms.desc())
        .limit(recent)
        .subquery("latest")
    )
    query = (
        sa.select(jobs.c.definition_key, jobs.c.duration_seconds)
        .select_from(latest.join(jobs, jobs.c.attempt_id == latest.c.id))
        .where(
            jobs.c.org_id == org_id,
            jobs.c.status == "success",
            jobs.c.duration_seconds.is_not(None),
            jobs.c.definition_key.in_(sorted(set(keys))),
        )
    )
    return [(str(key), float(seconds)) for key, seconds in conn.execute(query)]
