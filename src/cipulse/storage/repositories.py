"""Repositories as an operator sees them; their default branch.

Repositories as an operator sees them: listing them and naming their default branch.

Which branch is a repository's default decides which rollup rows (``branch_scope``) hold its
attempts, so naming it marks every partition of its pipelines for the refresher; reads are
exact meanwhile (marked partitions are computed from the raw rows)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.window import DAY_MS
from cipulse.storage.rollups.marks import mark_dirty
from cipulse.storage.schema import pipelines, repositories, run_attempts

r, p, a = repositories, pipelines, run_attempts


@dataclass(frozen=True, slots=True)
class RepositoryRow:
    id: str
    host: str
    full_name: str
    default_branch: str | None
    created_at_ms: int


def list_repositories(conn: Connection, org_id: str) -> list[RepositoryRow]:
    query = (
        sa.select(r.c.id, r.c.host, r.c.full_name, r.c.default_branch, r.c.created_at_ms)
        .where(r.c.org_id == org_id)
        .order_by(sa.func.lower(r.c.full_name), r.c.host)
    )
    return [RepositoryRow(str(row[0]), *row[1:]) for row in conn.execute(query)]


def find_repositories(conn: Connection, org_id: str, full_name: str) -> list[RepositoryRow]:
    """The repositories of that name (case-insensitive; one per code host)."""
    wanted = full_name.lower()
    return [row for row in list_repositories(conn, org_id) if row.full_name.lower() == wanted]


def set_default_branch(
    conn: Connection, org_id: str, repository_id: str, branch: str | None, now_ms: int
) -> int:
    """Name the repository's default branch (None: main or master count as default) and mark
    the partitions of its attempts; returns how many were marked."""
    conn.execute(
        sa.update(r)
        .where(r.c.org_id == org_id, r.c.id == repository_id)
        .values(default_branch=branch)
    )
    own_pipelines = sa.select(p.c.id).where(
        p.c.org_id == org_id, p.c.repository_id == repository_id
    )
    # By pipeline and start: the index on (org_id, pipeline_id, started_at_ms) serves it.
    query = (
        sa.select(a.c.pipeline_id, (a.c.started_at_ms / DAY_MS).label("day"))
        .where(
            a.c.org_id == org_id,
            a.c.pipeline_id.in_(own_pipelines),
            a.c.started_at_ms.is_not(None),
        )
        .distinct()
    )
    marks = {(org_id, str(pipeline_id), int(day)) for pipeline_id, day in conn.execute(query)}
    mark_dirty(conn, marks, now_ms)
    return len(marks)
